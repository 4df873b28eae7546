"""ctseg core: CT loading with real geometry, HU windowing, metrics, phantoms, model and trainer.

This package never imports Qt, so scripts, notebooks, the trainer and batch jobs can use it headless.
The public API is importable from here (loaded on first use, so ``import ctseg_core`` stays light)::

    from ctseg_core import load_patient, Segmenter, compare, write_nifti_mask, segment_patients
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ctseg_core._version import __version__

#: public name → module that defines it
_PUBLIC = {
    "load_patient": "ctseg_core.io.loading",
    "Patient": "ctseg_core.io.patient",
    "SourceGrid": "ctseg_core.io.patient",
    "Segmenter": "ctseg_core.model.inference",
    "dice": "ctseg_core.metrics",
    "jaccard": "ctseg_core.metrics",
    "average_symmetric_surface_distance": "ctseg_core.metrics",
    "hausdorff_95": "ctseg_core.metrics",
    "volume_ml": "ctseg_core.metrics",
    "compare": "ctseg_core.metrics",
    "write_ircad_mask": "ctseg_core.io.masks",
    "read_mask_folder": "ctseg_core.io.masks",
    "write_nifti_mask": "ctseg_core.io.nifti",
    "read_nifti_mask": "ctseg_core.io.nifti",
    "write_dicom_seg": "ctseg_core.io.seg",
    "read_dicom_seg": "ctseg_core.io.seg",
    "segment_patients": "ctseg_core.batch",
    "CtsegError": "ctseg_core.errors",
}

__all__ = [
    "CtsegError",
    "Patient",
    "Segmenter",
    "SourceGrid",
    "__version__",
    "average_symmetric_surface_distance",
    "compare",
    "dice",
    "hausdorff_95",
    "jaccard",
    "load_patient",
    "read_dicom_seg",
    "read_mask_folder",
    "read_nifti_mask",
    "segment_patients",
    "volume_ml",
    "write_dicom_seg",
    "write_ircad_mask",
    "write_nifti_mask",
]

if TYPE_CHECKING:
    from ctseg_core.batch import segment_patients
    from ctseg_core.errors import CtsegError
    from ctseg_core.io.loading import load_patient
    from ctseg_core.io.masks import read_mask_folder, write_ircad_mask
    from ctseg_core.io.nifti import read_nifti_mask, write_nifti_mask
    from ctseg_core.io.patient import Patient, SourceGrid
    from ctseg_core.io.seg import read_dicom_seg, write_dicom_seg
    from ctseg_core.metrics import (
        average_symmetric_surface_distance,
        compare,
        dice,
        hausdorff_95,
        jaccard,
        volume_ml,
    )
    from ctseg_core.model.inference import Segmenter


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use (PEP 562)."""
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'ctseg_core' has no attribute {name!r}")
