"""The demo patient lives in ctseg's cache folder, is written once, and never half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctseg_core.errors import Cancelled
from ctseg_core.io.loading import load_patient
from ctseg_core.synth import demo
from ctseg_core.synth.phantom import PHANTOM_VERSION


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CTSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(demo, "DEMO_SLICES", 3)
    return tmp_path / "cache"


def test_the_demo_is_written_once_under_the_cache_folder_and_loads(cache: Path) -> None:
    folder = demo.ensure_demo_patient()
    assert folder == demo.demo_dir() == cache / "demo" / f"phantom-v{PHANTOM_VERSION}-seed{demo.DEMO_SEED}"
    patient = load_patient(folder, masks=["liver"])
    assert patient.shape[0] == 3 and patient.masks["liver"].any()
    written = (folder / "PATIENT_DICOM" / "image_0").stat().st_mtime_ns
    assert demo.ensure_demo_patient() == folder
    assert (folder / "PATIENT_DICOM" / "image_0").stat().st_mtime_ns == written  # reused, not rewritten
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no scratch folder left


def test_a_cancelled_first_write_leaves_nothing_behind(cache: Path) -> None:
    with pytest.raises(Cancelled):
        demo.ensure_demo_patient(should_cancel=lambda: True)
    assert not demo.demo_dir().exists()
    assert list((cache / "demo").iterdir()) == []
    assert (demo.ensure_demo_patient() / "PATIENT_DICOM").is_dir()  # the next run writes it
