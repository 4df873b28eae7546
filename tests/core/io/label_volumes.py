"""Small multi-label test volumes, stored by the libraries themselves in any axis layout, and checks
that read a written label file against the CT files with plain pydicom / nibabel / SimpleITK.

The HU of every voxel is ``100 × label + detail`` (detail < 100), so the label each voxel must carry
can be read off any stored CT file in its own layout: ``hu // 100``. Nothing here uses ctseg's readers
or writers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.synth.variants import Layout

#: label value → (name, RGB) of the test volume's segments
SEGMENTS = {1: ("liver", (221, 130, 101)), 2: ("tumour", (144, 238, 144)), 3: ("portal vein", (0, 151, 206))}


def label_volume(shape: tuple[int, int, int] = (8, 12, 10)) -> np.ndarray:
    """A canonical [z, y, x] label map with no symmetry: a liver with a hole, a tumour inside it and
    a vessel of two islands per slice; values 1 (liver), 2 (tumour), 3 (vessel)."""
    depth, rows, columns = shape
    z, y, x = np.meshgrid(
        np.linspace(-1, 1, depth), np.linspace(-1, 1, rows), np.linspace(-1, 1, columns), indexing="ij"
    )
    labels = np.zeros(shape, dtype=np.uint8)
    liver = ((x + 0.2) / 0.75) ** 2 + ((y - 0.1) / 0.7) ** 2 + (z / 1.2) ** 2 < 1.0
    labels[liver] = 1
    hole = ((x + 0.05) ** 2 + (y + 0.05) ** 2 < 0.06) & (z > -0.2)
    labels[hole & liver] = 0
    tumour = ((x + 0.55) ** 2 + (y - 0.35) ** 2 < 0.05) & (z < 0.6)
    labels[tumour] = 2
    vessel = ((np.abs(x - 1.0) < 0.05) | (np.abs(x - 0.56) < 0.05)) & (y < 0.5) & (y > -0.6 + 0.3 * z)
    labels[vessel] = 3
    labels[0, 0, 0] = 3  # a single-voxel island in a corner
    return labels


def hu_volume(labels: np.ndarray) -> np.ndarray:
    """HU whose hundreds are the label and whose rest (< 100) differs from voxel to voxel."""
    z, y, x = np.indices(labels.shape)
    return (100 * labels.astype(np.int16) + (7 * z + 5 * y + 3 * x) % 97).astype(np.int16)


def geometry(shape_spacing: tuple[float, float, float] = (2.5, 0.8, 0.7)) -> VolumeGeometry:
    """An axis-aligned canonical grid with anisotropic voxels and an off-centre origin."""
    return VolumeGeometry((-40.5, 22.25, -101.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), shape_spacing)


# ----------------------------------------------------------------------------- writing CTs with the libraries


def add_study_attributes(folder: Path) -> None:
    """Give every CT file the study attributes rt-utils copies (StudyDate, StudyTime, StudyID)."""
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20240102", "101010", "1"
        ds.save_as(path)


def write_itk_ct(path: Path, hu: np.ndarray, grid: VolumeGeometry, layout: Layout) -> Path:
    """The canonical volume stored in ``layout`` as a NRRD or MetaImage file written by SimpleITK."""
    import SimpleITK as sitk

    stored = layout.store(hu)  # [a0, a1, a2]: SimpleITK's array order is [k, j, i]
    affine = layout.stored_affine(grid, hu.shape)  # (a0, a1, a2, 1) → LPS
    image = sitk.GetImageFromArray(stored)
    columns = affine[:3, [2, 1, 0]]  # i = a2, j = a1, k = a0
    spacing = np.linalg.norm(columns, axis=0)
    image.SetSpacing([float(s) for s in spacing])
    image.SetDirection([float(v) for v in (columns / spacing).ravel()])
    image.SetOrigin([float(v) for v in affine[:3, 3]])
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=path.suffix != ".mhd")
    return path


def write_nifti_ct(path: Path, hu: np.ndarray, grid: VolumeGeometry, layout: Layout) -> Path:
    """The canonical volume stored in ``layout`` as a NIfTI written by nibabel (data [i, j, k] = [a2, a1, a0])."""
    import nibabel as nib

    stored = layout.store(hu)
    affine_lps = layout.stored_affine(grid, hu.shape)[:, [2, 1, 0, 3]]
    image = nib.Nifti1Image(np.ascontiguousarray(stored.T), np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_lps)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, str(path))
    return path


# ----------------------------------------------------------------------------- independent checks


def ct_files(folder: Path) -> dict[str, pydicom.Dataset]:
    """The CT files of a folder by SOP Instance UID."""
    return {str(ds.SOPInstanceUID): ds for ds in (pydicom.dcmread(p) for p in sorted(folder.iterdir()))}


def file_labels(ds: pydicom.Dataset) -> np.ndarray:
    """The labels a CT file's own pixels say each pixel carries."""
    hu = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
    return hu // 100


def pixel_to_lps(ds: pydicom.Dataset) -> np.ndarray:
    """4×4 map of (column, row, 0, 1) of a CT file to LPS mm, from its own header."""
    orientation = np.asarray([float(v) for v in ds.ImageOrientationPatient])
    dy, dx = (float(v) for v in ds.PixelSpacing)
    affine = np.eye(4)
    affine[:3, 0] = orientation[:3] * dx
    affine[:3, 1] = orientation[3:] * dy
    affine[:3, 2] = np.cross(orientation[:3], orientation[3:])
    affine[:3, 3] = [float(v) for v in ds.ImagePositionPatient]
    return affine


def assert_volume_on_dicom(data_ijk: np.ndarray, affine_ijk_lps: np.ndarray, files: dict[str, Any]) -> None:
    """A label volume (i, j, k) with its affine lies on the CT files: for every file a k whose
    plane is that file's plane, pixel for pixel, and there the labels the file's pixels carry."""
    assert data_ijk.shape[2] == len(files)
    for ds in files.values():
        plane = pixel_to_lps(ds)
        k = np.linalg.solve(affine_ijk_lps, np.append(plane[:3, 3], 1.0))[2]
        assert abs(k - round(k)) < 1e-4, f"no label plane at the position of {ds.SOPInstanceUID}"
        k = round(k)
        np.testing.assert_allclose(affine_ijk_lps[:3, 0], plane[:3, 0], atol=1e-5)  # i runs along columns
        np.testing.assert_allclose(affine_ijk_lps[:3, 1], plane[:3, 1], atol=1e-5)  # j runs along rows
        np.testing.assert_allclose((affine_ijk_lps @ [0.0, 0.0, k, 1.0])[:3], plane[:3, 3], atol=1e-4)
        np.testing.assert_array_equal(data_ijk[:, :, k].T, file_labels(ds))


def import_with_opencv(name: str) -> Any:
    """A module that imports OpenCV (rt_utils, cv2), imported without letting OpenCV's wheel change
    Qt's environment (plugin path, fonts) for the GUI tests that run later in the same process;
    the test is skipped where it is not installed.

    rt-utils is not a declared test dependency: its wheel installs a top-level ``tests`` package
    into site-packages, which shadows this repository's ``tests`` (``from tests.gui.conftest import``
    then fails). Install it by hand (``pip install rt-utils`` and remove its ``site-packages/tests``)
    to run these cross-checks; they passed for every layout when this was written.
    """
    saved = dict(os.environ)
    try:
        return pytest.importorskip(name)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def import_rt_utils() -> Any:
    return import_with_opencv("rt_utils")
