"""``ctseg info``: a JSON-ready summary of a loaded patient, with content hashes.

Hashes let two loads be compared byte for byte (zipped vs unzipped, shuffled file names):
the HU volume as little-endian int16 and each mask as uint8 0/1, C order, shape [z, y, x].
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ctseg_core.io.patient import Patient
from ctseg_core.metrics import volume_ml
from ctseg_core.orientation import orientation_label


def hu_sha256(hu: np.ndarray) -> str:
    """sha256 of the HU volume as little-endian int16, C order."""
    return hashlib.sha256(np.ascontiguousarray(hu, dtype="<i2").tobytes()).hexdigest()


def mask_sha256(mask: np.ndarray) -> str:
    """sha256 of a mask as uint8 0/1, C order."""
    return hashlib.sha256(np.ascontiguousarray(mask > 0, dtype=np.uint8).tobytes()).hexdigest()


def patient_summary(patient: Patient) -> dict[str, Any]:
    """Everything ``ctseg info --json`` prints."""
    masks = {
        name: {
            "voxels": int(np.count_nonzero(mask)),
            "volume_ml": round(volume_ml(mask, patient.spacing_mm), 3),
            "sha256": mask_sha256(mask),
        }
        for name, mask in sorted(patient.masks.items())
    }
    return {
        "path": str(patient.source_path),
        "patient": patient.patient_name,
        "series_uid": patient.series_uid,
        "series_description": patient.series_description,
        "shape": list(patient.shape),
        "spacing_mm": [round(v, 6) for v in patient.spacing_mm],
        "origin_mm": [round(v, 6) for v in patient.geometry.origin_mm],
        "slice_order": patient.slice_order,
        "stored_shape": list(patient.source.shape),
        "stored_orientation": orientation_label(patient.source.geometry),
        "reoriented": not patient.source.reorientation.is_identity,
        "hu_min": int(patient.hu.min()),
        "hu_max": int(patient.hu.max()),
        "hu_sha256": hu_sha256(patient.hu),
        "masks": masks,
        "other_series": [s.describe() for s in patient.other_series],
        "warnings": list(patient.warnings),
        "load_seconds": round(patient.load_seconds, 4),
    }
