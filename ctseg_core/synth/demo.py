"""The demo patient: one synthetic phantom, written once into ctseg's cache folder and reused.

``ctseg demo`` and the viewer's "Open demo patient" show it; a script can open the same folder.
It lives under :func:`ctseg_core.cache.default_cache_dir` (``$CTSEG_CACHE``, else
``~/.cache/ctseg``), beside the other files ctseg can rebuild.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ctseg_core.cache import default_cache_dir
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_core.synth.phantom import PHANTOM_VERSION, write_phantom

DEMO_SEED = 0
DEMO_SLICES = 64


def demo_dir() -> Path:
    """Where the demo patient lives: ``<cache>/demo/phantom-v<version>-seed<seed>``.

    The folder name carries the phantom generator's version, so a newer ctseg writes its own
    demo patient instead of showing one drawn by an older generator (which stays untouched).
    """
    return default_cache_dir() / "demo" / f"phantom-v{PHANTOM_VERSION}-seed{DEMO_SEED}"


def ensure_demo_patient(progress: ProgressCallback | None = None, should_cancel: CancelCheck | None = None) -> Path:
    """The demo folder (IRCAD layout), written first if absent; ``Cancelled`` if cancelled meanwhile.

    It is written beside its final place and renamed into it, so an interrupted or cancelled
    first run never leaves a half-written patient that later runs would trust.
    """
    target = demo_dir()
    if (target / "PATIENT_DICOM").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".phantom-", dir=target.parent) as scratch:
        written = write_phantom(
            Path(scratch) / "patient",
            seed=DEMO_SEED,
            slices=DEMO_SLICES,
            progress=progress,
            should_cancel=should_cancel,
        )
        try:
            os.rename(written, target)
        except OSError:
            if not (target / "PATIENT_DICOM").is_dir():  # not merely another process winning the race
                raise
    return target
