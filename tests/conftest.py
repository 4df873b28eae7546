"""Test-wide settings: Qt runs offscreen, and real-data tests find ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
IRCAD_ROOT = REPO.parent / "shared" / "data" / "3Dircadb1"


@pytest.fixture(scope="session")
def ircad_root() -> Path:
    """The real 3D-IRCADb-01 patients, or a skip saying why."""
    if not IRCAD_ROOT.is_dir():
        pytest.skip(f"real data absent: {IRCAD_ROOT} not found (CI provides ../shared/data)")
    return IRCAD_ROOT


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 64-slice phantom patient in the IRCAD layout, shared by the session (read-only use)."""
    from ctseg_core.synth.phantom import write_phantom

    return write_phantom(tmp_path_factory.mktemp("phantom") / "patient", seed=3, slices=32)
