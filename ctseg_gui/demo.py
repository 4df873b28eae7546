"""The demo patient: a synthetic phantom written once into the user's cache folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_core.synth.phantom import PHANTOM_VERSION, write_phantom

DEMO_SEED = 0
DEMO_SLICES = 64


def demo_dir() -> Path:
    """Where the demo patient lives: ``$XDG_CACHE_HOME/ctseg/demo`` (default ``~/.cache``).

    The folder name carries the phantom generator's version, so a newer ctseg writes its own
    demo patient instead of showing one drawn by an older generator (which stays untouched).
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ctseg" / "demo" / f"phantom-v{PHANTOM_VERSION}-seed{DEMO_SEED}"


def ensure_demo_patient(
    progress: ProgressCallback | None = None, should_cancel: CancelCheck | None = None
) -> Path:
    """The demo folder, written first if absent.

    It is written beside its final place and renamed into it, so an interrupted first run
    never leaves a half-written patient that later runs would trust.
    """
    target = demo_dir()
    if (target / "PATIENT_DICOM").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".phantom-", dir=target.parent) as scratch:
        written = write_phantom(
            Path(scratch) / "patient", seed=DEMO_SEED, slices=DEMO_SLICES,
            progress=progress, should_cancel=should_cancel,
        )
        try:
            os.rename(written, target)
        except OSError:
            if not (target / "PATIENT_DICOM").is_dir():  # not merely another process winning the race
                raise
    return target
