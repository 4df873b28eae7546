"""One HU → int16 rule for every one-file CT (NIfTI, NRRD, MetaImage): rounding, clipping, NaN."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from ctseg_core.io.hu_values import hu_as_int16
from ctseg_core.io.itk_image import load_itk_patient
from ctseg_core.io.nifti import load_nifti_patient


def test_values_are_rounded_clipped_and_not_numbers_become_air() -> None:
    data = np.array([[[1.4, -2.6], [40000.0, np.nan]], [[-40000.0, -900.0], [np.inf, 7.0]]], dtype=np.float32)
    stack, warnings = hu_as_int16(data)
    assert stack.dtype == np.int16 and stack.flags.c_contiguous
    np.testing.assert_array_equal(stack, [[[1, -3], [32767, -1024]], [[-32768, -900], [-1024, 7]]])
    assert warnings == [
        "2 voxels were not numbers (NaN or infinite): set to air (-1024 HU)",
        "2 voxels outside the int16 HU range were clipped",
    ]
    all_missing, _ = hu_as_int16(np.full((1, 2, 2), np.nan))
    assert (all_missing == -1024).all()
    wide, warnings = hu_as_int16(np.array([[[70000, -5]]], dtype=np.int32))
    np.testing.assert_array_equal(wide, [[[32767, -5]]])
    assert warnings == ["1 voxels outside the int16 HU range were clipped"]


def test_a_transposed_view_is_read_plane_by_plane() -> None:
    ijk = np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 0.4
    stack, warnings = hu_as_int16(ijk.transpose(2, 1, 0))
    np.testing.assert_array_equal(stack, np.rint(ijk.transpose(2, 1, 0)).astype(np.int16))
    assert warnings == []


def test_nifti_and_metaimage_cts_follow_the_same_rule(tmp_path: Path) -> None:
    data = np.zeros((3, 4, 5), dtype=np.float32)  # (i, j, k)
    data[0, 0, 0], data[1, 1, 1], data[2, 2, 2] = np.nan, 50000.0, -12.6
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / "ct.nii.gz"))
    sitk.WriteImage(sitk.GetImageFromArray(data.transpose(2, 1, 0)), str(tmp_path / "ct.mha"))
    nifti, meta = load_nifti_patient(tmp_path / "ct.nii.gz"), load_itk_patient(tmp_path / "ct.mha")
    expected = [
        "1 voxels were not numbers (NaN or infinite): set to air (-1024 HU)",
        "1 voxels outside the int16 HU range were clipped",
    ]
    assert [w for w in nifti.warnings if "voxels" in w] == expected
    assert [w for w in meta.warnings if "voxels" in w] == expected
    assert sorted(np.unique(nifti.hu).tolist()) == sorted(np.unique(meta.hu).tolist()) == [-1024, -13, 0, 32767]
