"""The bundled model's mask does not depend on how the scan was stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.loading import load_patient
from ctseg_core.model.inference import Segmenter
from ctseg_core.synth.phantom import make_phantom
from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant, write_nifti_variant


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter.load(threads=2)


@pytest.mark.slow
def test_masks_agree_across_stored_orientations(segmenter: Segmenter, tmp_path: Path) -> None:
    volume = make_phantom(seed=777, slices=24, size=256)
    geometry = VolumeGeometry(volume.origin_mm, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), volume.spacing_mm)
    folders = {
        name: write_dicom_variant(tmp_path / name.replace(" ", "_"), volume.hu, geometry, NAMED_LAYOUTS[name])
        for name in (
            "as stored",
            "columns flipped",
            "rows flipped",
            "transposed",
            "slices reversed",
            "coronal",
            "sagittal",
        )
    }
    for codes in ("RAS", "LPS", "RPI"):
        folders[f"NIfTI {codes}"] = write_nifti_variant(tmp_path / codes, volume.hu, geometry, tuple(codes))
    masks = {}
    for name, folder in folders.items():
        patient = load_patient(folder, masks=None)
        masks[name] = segmenter.predict(patient.hu, patient.spacing_mm).mask
    reference = masks["as stored"]
    assert reference.sum() > 1000
    for name, mask in masks.items():
        np.testing.assert_array_equal(mask, reference, err_msg=name)
