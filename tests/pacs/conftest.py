"""The archive tests' fixtures: one real Orthanc per session (and one requiring a password), phantom
studies in it, and each test's own settings, managed folder and cohort database (see orthanc_peer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from orthanc_peer import PASSWORD, USER, Orthanc, PhantomStudy, phantom_study, running_orthanc


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


@pytest.fixture(scope="session")
def orthanc_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path_factory.mktemp("orthanc_auth"), users={USER: PASSWORD}) as server:
        yield server


@pytest.fixture(scope="session")
def phantoms(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> list[PhantomStudy]:
    """Two phantom studies in Orthanc (seeds 0 and 1); tests must not delete them."""
    root = tmp_path_factory.mktemp("phantoms")
    studies = [phantom_study(root / f"p{seed}", seed, slices=12 - 4 * seed) for seed in (0, 1)]
    for study in studies:
        orthanc.upload(study.files)
    return studies


@pytest.fixture(autouse=True)
def _own_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own settings, managed folder and cohort database: never the user's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("CTSEG_PACS_SETTINGS", str(tmp_path / "pacs.json"))
    monkeypatch.setenv("CTSEG_PACS_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("CTSEG_DB", str(tmp_path / "cohort.sqlite"))
