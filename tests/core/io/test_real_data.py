"""The three real 3D-IRCADb-01 patients in ../shared/data, as downloaded (zips)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.io.summary import hu_sha256, mask_sha256

#: patient number → (slices, pixel spacing mm), from the data set's README
IRCAD_PATIENTS = {1: (129, 0.57), 7: (151, 0.78), 17: (119, 0.74)}

_cache: dict[int, Patient] = {}


def _zipped(root: Path, number: int) -> Patient:
    if number not in _cache:
        _cache[number] = load_patient(root / f"3Dircadb1.{number}", masks=["liver"])
    return _cache[number]


@pytest.mark.parametrize("number", sorted(IRCAD_PATIENTS))
def test_shape_spacing_and_liver_hu(ircad_root: Path, number: int) -> None:
    slices, pixel = IRCAD_PATIENTS[number]
    patient = _zipped(ircad_root, number)
    assert patient.shape == (slices, 512, 512)
    assert patient.slice_order == "position"
    assert patient.spacing_mm[0] == pytest.approx(1.6, abs=1e-3)
    assert patient.spacing_mm[1] == pytest.approx(pixel, abs=0.01)
    assert patient.hu.min() >= -1025 and patient.hu.max() <= 1025
    liver = patient.masks["liver"]
    assert 1000 < patient.spacing_mm[0] * np.prod(patient.spacing_mm[1:]) * liver.sum() / 1000 < 3500  # mL
    assert 60 <= float(patient.hu[liver].mean()) <= 160, "liver mean HU outside the plausible range"
    assert {"liver", "bone"} <= set(patient.available_masks)


def test_zipped_and_unzipped_load_identically(ircad_root: Path, tmp_path: Path) -> None:
    folder = ircad_root / "3Dircadb1.1"
    with zipfile.ZipFile(folder / "PATIENT_DICOM.zip") as zf:
        zf.extractall(tmp_path)
    with zipfile.ZipFile(folder / "MASKS_DICOM.zip") as zf:
        zf.extractall(tmp_path, [n for n in zf.namelist() if n.startswith("MASKS_DICOM/liver/")])
    unzipped = load_patient(tmp_path, masks=["liver"])
    zipped = _zipped(ircad_root, 1)
    assert hu_sha256(unzipped.hu) == hu_sha256(zipped.hu)
    assert mask_sha256(unzipped.masks["liver"]) == mask_sha256(zipped.masks["liver"])
    assert unzipped.spacing_mm == zipped.spacing_mm


def _cropped(root: Path, slices: int = 16) -> tuple[np.ndarray, np.ndarray, VolumeGeometry]:
    """A slab of patient 1 through the liver, with its own geometry (a real scan, any layout)."""
    from ctseg_core.geometry import VolumeGeometry

    patient = _zipped(root, 1)
    start = int(np.flatnonzero(patient.masks["liver"].any(axis=(1, 2))).mean()) - slices // 2
    g = patient.geometry
    geometry = VolumeGeometry(tuple(g.slice_position_mm(start)), g.row_direction, g.column_direction, g.spacing_mm)  # type: ignore[arg-type]
    return patient.hu[start : start + slices], patient.masks["liver"][start : start + slices], geometry


@pytest.mark.parametrize(
    "variant", ["columns flipped", "rows flipped", "coronal", "sagittal", "NIfTI RAS", "NIfTI RPI"]
)
def test_real_patient_in_other_orientations_loads_to_the_same_volume_and_masks_write_back(
    ircad_root: Path, tmp_path: Path, variant: str
) -> None:
    import pydicom

    from ctseg_core.io.masks import write_ircad_mask
    from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant, write_nifti_variant

    hu, liver, geometry = _cropped(ircad_root)
    if variant.startswith("NIfTI"):
        folder = write_nifti_variant(tmp_path / "v", hu, geometry, tuple(variant.split()[1]), {"liver": liver})
    else:
        folder = write_dicom_variant(tmp_path / "v", hu, geometry, NAMED_LAYOUTS[variant], {"liver": liver})
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_array_equal(patient.masks["liver"], liver)
    np.testing.assert_allclose(patient.geometry.affine_lps(), geometry.affine_lps(), atol=1e-5)
    if not variant.startswith("NIfTI"):
        written = write_ircad_mask(liver, patient, tmp_path / "out", name="copy")
        ct = {p.name: pydicom.dcmread(p) for p in (folder / "PATIENT_DICOM").iterdir()}
        truth = {p.name: pydicom.dcmread(p) for p in (folder / "MASKS_DICOM" / "liver").iterdir()}
        by_uid = {ds.SOPInstanceUID: name for name, ds in ct.items()}
        for path in written.iterdir():
            mask = pydicom.dcmread(path)
            name = by_uid[mask.ReferencedImageSequence[0].ReferencedSOPInstanceUID]
            np.testing.assert_array_equal(mask.pixel_array > 0, truth[name].pixel_array > 0)


def test_dicom_seg_of_a_real_ircad_patient_without_frame_of_reference(ircad_root: Path, tmp_path: Path) -> None:
    """IRCAD slices lack FrameOfReferenceUID, PatientBirthDate and more: SEG still writes and reads back."""
    import highdicom as hd

    from ctseg_core.io.seg import read_dicom_seg, write_dicom_seg

    patient = _zipped(ircad_root, 1)
    liver = patient.masks["liver"]
    path = write_dicom_seg(liver, patient, tmp_path / "liver.dcm", algorithm_type="AUTOMATIC")
    seg = hd.seg.segread(path)
    assert seg.FrameOfReferenceUID  # derived from the series, the same on every save
    assert write_dicom_seg(liver, patient, tmp_path / "again.dcm") and (
        hd.seg.segread(tmp_path / "again.dcm").FrameOfReferenceUID == seg.FrameOfReferenceUID
    )
    np.testing.assert_array_equal(read_dicom_seg(path, patient)["liver"], liver)
