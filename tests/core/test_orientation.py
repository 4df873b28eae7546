"""Any scan, any orientation: every stored layout loads to one canonical volume, and every writer maps
a mask back exactly onto the stored pixels, checked with plain pydicom / nibabel / highdicom reads."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from ctseg_core.errors import CtsegError, InconsistentGeometryError
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import write_ircad_mask
from ctseg_core.io.nifti import write_nifti_mask
from ctseg_core.io.seg import write_dicom_seg
from ctseg_core.orientation import CANONICAL_ORNT, direction_letter
from ctseg_core.synth.phantom import make_phantom
from ctseg_core.synth.variants import (
    NAMED_LAYOUTS,
    Layout,
    all_layouts,
    write_dicom_variant,
    write_enhanced_ct,
    write_nifti_variant,
)

#: Voxels above this HU form the test mask: a rule a file can be checked against in its own layout.
THRESHOLD_HU = 40


Volume = tuple[np.ndarray, np.ndarray, VolumeGeometry]


@pytest.fixture(scope="module")
def phantom() -> tuple[np.ndarray, np.ndarray, VolumeGeometry]:
    """A small phantom (canonical HU, liver) on an anisotropic grid."""
    volume = make_phantom(seed=3, slices=10, size=48)
    geometry = VolumeGeometry(volume.origin_mm, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), volume.spacing_mm)
    return volume.hu, volume.masks["liver"], geometry


def test_canonical_order_is_stated_and_right_handed() -> None:
    geometry = VolumeGeometry((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (2.5, 0.7, 0.7))
    affine = geometry.affine_zyx()
    # z (slices) towards S, y (rows) towards P, x (columns) towards L
    assert direction_letter(affine[:3, 0]) == "S"
    assert direction_letter(affine[:3, 1]) == "P"
    assert direction_letter(affine[:3, 2]) == "L"
    assert CANONICAL_ORNT.tolist() == [[2, 1], [1, 1], [0, 1]]


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
@pytest.mark.slow
def test_every_dicom_layout_loads_to_the_canonical_volume(layout: Layout, phantom: Volume, tmp_path: Path) -> None:
    hu, liver, geometry = phantom
    folder = write_dicom_variant(tmp_path / "p", hu, geometry, layout, {"liver": liver})
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_array_equal(patient.masks["liver"], liver)
    np.testing.assert_allclose(patient.geometry.affine_lps(), geometry.affine_lps(), atol=1e-6)
    assert patient.warnings == []
    # the voxel readout is the same patient position whatever the storage
    assert np.allclose(patient.geometry.voxel_to_mm(3, 7, 11), geometry.voxel_to_mm(3, 7, 11), atol=1e-6)


@pytest.mark.parametrize(
    "axcodes", [("R", "A", "S"), ("L", "P", "S"), ("R", "P", "I"), ("A", "S", "L"), ("P", "I", "R")]
)
def test_every_nifti_orientation_loads_to_the_canonical_volume(
    axcodes: tuple[str, str, str], phantom: Volume, tmp_path: Path
) -> None:
    hu, liver, geometry = phantom
    folder = write_nifti_variant(tmp_path / "n", hu, geometry, axcodes, {"liver": liver})
    assert nib.aff2axcodes(nib.load(folder / "image.nii.gz").affine) == axcodes
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_array_equal(patient.masks["liver"], liver)
    np.testing.assert_allclose(patient.geometry.affine_lps(), geometry.affine_lps(), atol=1e-5)


def _dicom_files(folder: Path) -> dict[str, pydicom.Dataset]:
    return {ds.SOPInstanceUID: ds for ds in (pydicom.dcmread(p) for p in sorted(folder.iterdir()))}


def _check_ircad_mask_on_source(written: Path, ct_folder: Path) -> None:
    """Each mask file lies on the CT file it references: same position, orientation, grid, and
    its pixels are exactly that file's pixels above the threshold."""
    ct = _dicom_files(ct_folder)
    files = sorted(written.iterdir())
    assert len(files) == len(ct)
    for path in files:
        mask = pydicom.dcmread(path)
        source = ct[mask.ReferencedImageSequence[0].ReferencedSOPInstanceUID]
        assert [float(v) for v in mask.ImagePositionPatient] == pytest.approx(
            [float(v) for v in source.ImagePositionPatient]
        )
        assert [float(v) for v in mask.ImageOrientationPatient] == pytest.approx(
            [float(v) for v in source.ImageOrientationPatient]
        )
        assert [float(v) for v in mask.PixelSpacing] == pytest.approx([float(v) for v in source.PixelSpacing])
        hu = source.pixel_array * float(source.RescaleSlope) + float(source.RescaleIntercept)
        np.testing.assert_array_equal(mask.pixel_array > 0, hu > THRESHOLD_HU, err_msg=path.name)


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
@pytest.mark.slow
def test_ircad_mask_writer_puts_the_mask_on_each_source_slice(layout: Layout, phantom: Volume, tmp_path: Path) -> None:
    hu, _, geometry = phantom
    folder = write_dicom_variant(tmp_path / "p", hu, geometry, layout)
    patient = load_patient(folder)
    label = patient.hu > THRESHOLD_HU
    written = write_ircad_mask(label, patient, tmp_path / "out", name="edited")
    _check_ircad_mask_on_source(written, folder / "PATIENT_DICOM")
    again = load_patient(folder)
    again.mask_sources.clear()
    from ctseg_core.io.masks import read_mask_folder

    np.testing.assert_array_equal(read_mask_folder(written, again), label)


@pytest.mark.parametrize("name", sorted(NAMED_LAYOUTS))
def test_nifti_and_seg_writers_map_back_onto_a_dicom_source(name: str, phantom: Volume, tmp_path: Path) -> None:
    hu, _, geometry = phantom
    folder = write_dicom_variant(tmp_path / "p", hu, geometry, NAMED_LAYOUTS[name])
    patient = load_patient(folder)
    label = patient.hu > THRESHOLD_HU
    ct = _dicom_files(folder / "PATIENT_DICOM")

    # NIfTI: voxel (i, j, k) of the label is pixel (row j, column i) of the CT file at k's position
    image = nib.load(write_nifti_mask(label, patient, tmp_path / "label.nii.gz"))
    data = np.asarray(image.dataobj)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine
    files = list(ct.values())
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in files])
    for k in range(data.shape[2]):
        distance = np.linalg.norm(positions - (lps[:3, 3] + lps[:3, 2] * k), axis=1)
        assert distance.min() < 1e-3
        source = files[int(np.argmin(distance))]
        hu_k = source.pixel_array * float(source.RescaleSlope) + float(source.RescaleIntercept)
        np.testing.assert_array_equal(data[:, :, k].T > 0, hu_k > THRESHOLD_HU)
        row_cosines = [float(v) for v in source.ImageOrientationPatient[:3]]
        np.testing.assert_allclose(lps[:3, 0] / np.linalg.norm(lps[:3, 0]), row_cosines, atol=1e-6)

    # DICOM SEG: the frames for each referenced CT instance are that instance's pixels above the threshold
    seg = hd.seg.segread(write_dicom_seg(label, patient, tmp_path / "label.dcm"))
    uids = list(ct)
    frames = seg.get_pixels_by_source_instance(uids, segment_numbers=[1])
    for uid, frame in zip(uids, frames, strict=False):
        source = ct[uid]
        hu_k = source.pixel_array * float(source.RescaleSlope) + float(source.RescaleIntercept)
        np.testing.assert_array_equal(frame[..., 0] > 0, hu_k > THRESHOLD_HU)


@pytest.mark.parametrize("axcodes", [("R", "A", "S"), ("R", "P", "I"), ("A", "S", "L")])
def test_nifti_label_of_a_nifti_ct_has_its_affine_and_voxel_order(
    axcodes: tuple[str, str, str], phantom: Volume, tmp_path: Path
) -> None:
    hu, _, geometry = phantom
    folder = write_nifti_variant(tmp_path / "n", hu, geometry, axcodes)
    patient = load_patient(folder)
    label = patient.hu > THRESHOLD_HU
    ct = nib.load(folder / "image.nii.gz")
    written = nib.load(write_nifti_mask(label, patient, tmp_path / "label.nii.gz"))
    np.testing.assert_array_equal(written.affine, ct.affine)
    np.testing.assert_array_equal(np.asarray(written.dataobj) > 0, np.asarray(ct.dataobj) > THRESHOLD_HU)


def test_gantry_tilt_is_resampled_with_a_warning_and_masks_go_back_onto_the_tilted_slices(
    phantom: Volume, tmp_path: Path
) -> None:
    hu, liver, geometry = phantom
    folder = write_dicom_variant(
        tmp_path / "t", hu, geometry, NAMED_LAYOUTS["as stored"], {"liver": liver}, tilt_rows_per_slice=1.0
    )
    patient = load_patient(folder)
    dz, dy, _ = geometry.spacing_mm
    angle = np.degrees(np.arctan2(9 * dy, 9 * dz))
    assert any(f"gantry tilt of {angle:.1f}°" in w and "resampled" in w for w in patient.warnings)
    np.testing.assert_allclose(patient.geometry.affine_lps(), geometry.affine_lps(), atol=1e-6)
    inner = slice(10, 38)  # rows that stayed in the field of view of every tilted slice
    np.testing.assert_array_equal(patient.hu[:, inner], hu[:, inner])
    np.testing.assert_array_equal(patient.masks["liver"], liver)
    label = np.zeros(patient.shape, dtype=bool)
    label[:, inner] = patient.hu[:, inner] > THRESHOLD_HU
    written = write_ircad_mask(label, patient, tmp_path / "out", name="edited")
    ct = _dicom_files(folder / "PATIENT_DICOM")
    for path in sorted(written.iterdir()):
        mask = pydicom.dcmread(path)
        source = ct[mask.ReferencedImageSequence[0].ReferencedSOPInstanceUID]
        assert [float(v) for v in mask.ImagePositionPatient] == pytest.approx(
            [float(v) for v in source.ImagePositionPatient]
        )
        k = round((float(source.ImagePositionPatient[2]) - geometry.origin_mm[2]) / dz)
        rows = slice(10 - k, 38 - k)  # the same anatomy sits k rows higher on tilted slice k
        expected = np.zeros(label.shape[1:], dtype=bool)
        expected[rows] = (source.pixel_array.astype(np.int32) > THRESHOLD_HU)[rows]
        np.testing.assert_array_equal(mask.pixel_array > 0, expected)


def test_oblique_grid_keeps_its_exact_geometry_and_warns_with_the_angle(phantom: Volume, tmp_path: Path) -> None:
    hu, _, geometry = phantom
    angle = np.radians(12.0)
    rotated = VolumeGeometry(
        geometry.origin_mm,
        (np.cos(angle), np.sin(angle), 0.0),
        (-np.sin(angle), np.cos(angle), 0.0),
        geometry.spacing_mm,
    )
    patient = load_patient(write_dicom_variant(tmp_path / "o", hu, rotated, NAMED_LAYOUTS["columns flipped"]))
    assert any("oblique" in w and "12.0°" in w for w in patient.warnings)
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_allclose(patient.geometry.affine_lps(), rotated.affine_lps(), atol=1e-6)


@pytest.mark.parametrize("compress", [False, True], ids=["uncompressed", "RLE"])
def test_enhanced_ct_with_9_frames_loads_9_slices(compress: bool, phantom: Volume, tmp_path: Path) -> None:
    hu, _, geometry = phantom
    hu9 = hu[:9]
    path = write_enhanced_ct(tmp_path / "e" / "ct.dcm", hu9, geometry, NAMED_LAYOUTS["rows flipped"], compress=compress)
    assert int(pydicom.dcmread(path).NumberOfFrames) == 9
    patient = load_patient(path.parent)
    assert patient.shape[0] == 9
    np.testing.assert_array_equal(patient.hu, hu9)
    label = patient.hu > THRESHOLD_HU
    seg = write_dicom_seg(label, patient, tmp_path / "seg.dcm")
    from ctseg_core.io.seg import read_dicom_seg

    np.testing.assert_array_equal(read_dicom_seg(seg, patient)["liver"], label)
    written = write_ircad_mask(label, patient, tmp_path / "out")
    frames = sorted(int(pydicom.dcmread(p).ReferencedImageSequence[0].ReferencedFrameNumber) for p in written.iterdir())
    assert frames == list(range(1, 10))


@pytest.mark.parametrize(
    ("syntax", "preamble"),
    [(ExplicitVRBigEndian, True), (ImplicitVRLittleEndian, False)],
    ids=["big-endian", "no-preamble"],
)
def test_big_endian_and_legacy_files_without_preamble_load(
    syntax: str, preamble: bool, phantom: Volume, tmp_path: Path
) -> None:
    hu, _, geometry = phantom
    folder = write_dicom_variant(
        tmp_path / "b", hu, geometry, NAMED_LAYOUTS["columns flipped"], transfer_syntax=syntax, preamble=preamble
    )
    np.testing.assert_array_equal(load_patient(folder).hu, hu)


def test_degenerate_orientation_and_sheared_nifti_are_refused(phantom: Volume, tmp_path: Path) -> None:
    hu, _, geometry = phantom
    folder = write_dicom_variant(tmp_path / "d", hu, geometry, NAMED_LAYOUTS["as stored"])
    for path in (folder / "PATIENT_DICOM").iterdir():
        ds = pydicom.dcmread(path)
        ds.ImageOrientationPatient = [1, 0, 0, 1, 0, 0]
        ds.save_as(path)
    with pytest.raises(InconsistentGeometryError, match="degenerate ImageOrientationPatient"):
        load_patient(folder)
    sheared = np.array([[-0.8, 0.0, 0.0, 0.0], [0.0, -0.8, 0.5, 0.0], [0.0, 0.0, 2.5, 0.0], [0, 0, 0, 1.0]])
    (tmp_path / "s").mkdir()
    nib.save(nib.Nifti1Image(hu.T.copy(), sheared), str(tmp_path / "s" / "image.nii.gz"))
    with pytest.raises(CtsegError, match="sheared NIfTI affine"):
        load_patient(tmp_path / "s")
