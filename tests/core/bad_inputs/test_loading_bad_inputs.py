"""Hostile inputs to the loaders: each case asserts the exact outcome — the error type with the
offending path in its message, or the correct volume with a warning that names the problem."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from ctseg_core import errors
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io import sources
from ctseg_core.io.loading import load_patient
from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant

AS_STORED = NAMED_LAYOUTS["as stored"]


Volume = tuple[np.ndarray, np.ndarray, VolumeGeometry]


@pytest.fixture(scope="module")
def volume() -> tuple[np.ndarray, np.ndarray, VolumeGeometry]:
    """A small CT-like volume (HU) with a liver-like block, on an anisotropic grid."""
    rng = np.random.default_rng(4)
    hu = rng.integers(-200, 200, size=(8, 24, 28)).astype(np.int16)
    liver = np.zeros(hu.shape, dtype=bool)
    liver[2:6, 6:16, 8:20] = True
    geometry = VolumeGeometry((-50.0, -40.0, 10.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (2.5, 0.8, 0.7))
    return hu, liver, geometry


def _series(tmp_path: Path, volume: Volume, masks: bool = False) -> Path:
    hu, liver, geometry = volume
    return write_dicom_variant(tmp_path / "p", hu, geometry, AS_STORED, {"liver": liver} if masks else None)


def _slices(folder: Path) -> list[Path]:
    return sorted((folder / "PATIENT_DICOM").iterdir(), key=lambda p: int(p.name.split("_")[1]))


def _edit(path: Path, **changes: object) -> None:
    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.save_as(path)


def _by_z(folder: Path) -> list[Path]:
    """Slice files sorted by position (the file names are shuffled)."""
    return sorted(_slices(folder), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))


# ----------------------------------------------------------------------------- paths


def test_a_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(errors.NotReadableError, match=re.escape(str(fifo)) + ".*pipe"):
        load_patient(fifo)


def test_dev_null_is_refused() -> None:
    with pytest.raises(errors.NotReadableError, match=r"/dev/null.*device"):
        load_patient("/dev/null")


def test_a_pipe_inside_a_patient_folder_is_never_opened(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    os.mkfifo(folder / "PATIENT_DICOM" / "pipe")
    np.testing.assert_array_equal(load_patient(folder).hu, volume[0])


def test_a_symlink_loop_is_walked_once(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    os.symlink(folder / "PATIENT_DICOM", folder / "PATIENT_DICOM" / "loop")
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, volume[0])


def test_a_dangling_symlink_is_skipped(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    os.symlink(tmp_path / "gone", folder / "PATIENT_DICOM" / "dangling")
    np.testing.assert_array_equal(load_patient(folder).hu, volume[0])


def test_folders_nested_1100_deep_give_no_recursion_error(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    deep = folder / "PATIENT_DICOM"
    levels = []
    for _ in range(1100):
        deep = deep / "d"
        deep.mkdir()
        levels.append(deep)
    (deep / "note.txt").write_text("deep")
    try:
        patient = load_patient(folder)
        np.testing.assert_array_equal(patient.hu, volume[0])
        assert any(f"deeper than {sources.MAX_FOLDER_DEPTH} folder levels" in w for w in patient.warnings)
    finally:  # shutil.rmtree (pytest's clean-up) recurses once per level: remove them here, deepest first
        (deep / "note.txt").unlink()
        for level in reversed(levels):
            level.rmdir()


def test_non_utf8_file_names_load(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    for k, path in enumerate(_slices(folder)):
        os.rename(path, os.path.join(os.fsencode(path.parent), b"\xff\xfeslice" + str(k).encode()))
    np.testing.assert_array_equal(load_patient(folder).hu, volume[0])


# ----------------------------------------------------------------------------- zips


def test_a_file_named_zip_that_is_not_one_names_the_archive(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "PATIENT_DICOM.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(errors.AllFilesCorruptError, match=r"PATIENT_DICOM.zip.*not a readable zip"):
        load_patient(tmp_path / "p")


def _zipped(tmp_path: Path, folder: Path) -> Path:
    target = tmp_path / "z"
    target.mkdir()
    with zipfile.ZipFile(target / "PATIENT_DICOM.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _slices(folder):
            archive.write(path, f"PATIENT_DICOM/{path.name}")
    return target


def test_a_corrupt_zip_member_is_skipped_naming_the_archive_and_member(tmp_path: Path, volume: Volume) -> None:
    target = _zipped(tmp_path, _series(tmp_path, volume))
    data = bytearray((target / "PATIENT_DICOM.zip").read_bytes())
    with zipfile.ZipFile(target / "PATIENT_DICOM.zip") as archive:
        info = archive.getinfo("PATIENT_DICOM/image_3")
    start = info.header_offset + 30 + len(info.filename) + 20
    data[start : start + 40] = bytes(40)  # damage the compressed stream of one member
    (target / "PATIENT_DICOM.zip").write_bytes(bytes(data))
    patient = load_patient(target)
    assert patient.shape[0] == 7
    assert any("PATIENT_DICOM.zip!PATIENT_DICOM/image_3" in w for w in patient.warnings)


def test_an_oversized_zip_member_is_not_inflated(
    tmp_path: Path, volume: Volume, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _zipped(tmp_path, _series(tmp_path, volume))
    with zipfile.ZipFile(target / "PATIENT_DICOM.zip", "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PATIENT_DICOM/bomb", bytes(4 << 20))  # 4 MiB of zeros, a few KiB compressed
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 1 << 20)
    patient = load_patient(target)
    np.testing.assert_array_equal(patient.hu, volume[0])
    assert any("PATIENT_DICOM/bomb" in w and "not read" in w for w in patient.warnings)


def test_zip_headers_are_read_without_inflating_whole_members(
    tmp_path: Path, volume: Volume, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _zipped(tmp_path, _series(tmp_path, volume))
    monkeypatch.setattr("ctseg_core.io.dicom.KEEP_MEMBER_BYTES", 0)  # keep nothing: stream everything
    read = []
    original = zipfile.ZipFile.read

    def counting_read(self: zipfile.ZipFile, name: str, pwd: bytes | None = None) -> bytes:
        read.append(name)
        return original(self, name, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "read", counting_read)
    np.testing.assert_array_equal(load_patient(target).hu, volume[0])
    assert read == []  # every member was streamed, none inflated into memory at once


# ----------------------------------------------------------------------------- geometry tags


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("ImagePositionPatient", [float("nan"), 0.0, 10.0], "ImagePositionPatient.*NaN"),
        (
            "ImageOrientationPatient",
            [1.0, 0.0, 0.0, 0.0, float("inf"), 0.0],
            "ImageOrientationPatient.*NaN or infinite",
        ),
        ("PixelSpacing", [0.0, 0.0], "PixelSpacing.*must be positive"),
        ("PixelSpacing", [-0.8, 0.7], "PixelSpacing.*must be positive"),
        ("ImageOrientationPatient", [0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "degenerate ImageOrientationPatient"),
    ],
    ids=["nan-position", "inf-orientation", "zero-spacing", "negative-spacing", "zero-orientation"],
)
def test_bad_geometry_tags_are_errors_naming_the_file(
    keyword: str, value: object, message: str, tmp_path: Path, volume: Volume
) -> None:
    folder = _series(tmp_path, volume)
    victim = _slices(folder)[0]
    if keyword == "ImagePositionPatient":
        _edit(victim, **{keyword: value})
    else:
        for path in _slices(folder):
            _edit(path, **{keyword: value})
    with pytest.raises(errors.InconsistentGeometryError, match=message) as caught:
        load_patient(folder)
    assert caught.value.path is not None and "PATIENT_DICOM" in caught.value.path


def test_rescale_slope_zero_is_treated_as_one_with_a_warning(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    victim = _by_z(folder)[2]
    _edit(victim, RescaleSlope=0)
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, volume[0])
    assert any("RescaleSlope 0" in w and victim.name in w and "treated as 1" in w for w in patient.warnings)


def test_a_localizer_in_the_series_is_dropped_with_a_warning(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    scout = pydicom.dcmread(_slices(folder)[0])
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    scout.SOPInstanceUID = pydicom.uid.generate_uid()
    scout.ImagePositionPatient = [-50.0, -40.0, 500.0]
    scout.save_as(folder / "PATIENT_DICOM" / "scout")
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, volume[0])
    assert any("localizer" in w and "scout" in w for w in patient.warnings)


def test_a_same_series_image_in_another_orientation_is_dropped(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    other = pydicom.dcmread(_slices(folder)[0])
    other.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]  # a coronal reformat
    other.SOPInstanceUID = pydicom.uid.generate_uid()
    other.save_as(folder / "PATIENT_DICOM" / "coronal")
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, volume[0])
    assert any("another size or orientation" in w and "coronal" in w for w in patient.warnings)


def test_a_truncated_slice_says_how_much_is_missing(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    victim = _by_z(folder)[4]
    victim.write_bytes(victim.read_bytes()[:-100])
    patient = load_patient(folder)
    assert patient.shape[0] == 7
    warning = next(w for w in patient.warnings if victim.name in w)
    assert "ends 100 bytes before the end of its pixel data" in warning


def test_one_missing_position_names_the_slice_and_falls_back(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume)
    victim = _by_z(folder)[3]
    ds = pydicom.dcmread(victim)
    del ds.ImagePositionPatient
    ds.save_as(victim)
    patient = load_patient(folder)
    assert patient.slice_order == "instance"
    assert any("ImagePositionPatient" in w and victim.name in w for w in patient.warnings)


def test_many_gaps_are_summarised_not_listed_one_by_one(tmp_path: Path) -> None:
    hu = np.zeros((40, 8, 8), np.int16)
    geometry = VolumeGeometry((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 1.0, 1.0))
    folder = write_dicom_variant(tmp_path / "p", hu, geometry, AS_STORED)
    for path in _by_z(folder)[1::2]:  # every other slice missing: 19 gaps
        path.unlink()
    stretched = tmp_path / "q"
    os.rename(folder, stretched)
    # keep the median step at 1 mm so that the removed slices read as gaps
    extra = write_dicom_variant(
        tmp_path / "r",
        np.zeros((30, 8, 8), np.int16),
        VolumeGeometry((0.0, 0.0, 100.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 1.0, 1.0)),
        AS_STORED,
    )
    series_uid = pydicom.dcmread(_slices(stretched)[0]).SeriesInstanceUID
    for k, path in enumerate(_slices(extra)):
        _edit(path, SeriesInstanceUID=series_uid)
        os.rename(path, stretched / "PATIENT_DICOM" / f"extra_{k}")
    patient = load_patient(stretched)
    gaps = [w for w in patient.warnings if w.startswith("gap of")]
    assert len(gaps) == 5
    assert any("more gaps" in w for w in patient.warnings)


# ----------------------------------------------------------------------------- masks


def test_a_mask_shifted_in_plane_is_refused_by_name(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume, masks=True)
    for path in (folder / "MASKS_DICOM" / "liver").iterdir():
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient = [float(ds.ImagePositionPatient[0]) + 10.0, *map(float, ds.ImagePositionPatient[1:])]
        ds.save_as(path)
    patient = load_patient(folder)
    assert "liver" not in patient.masks
    assert re.search(r"image_\d+: mask slice is shifted 10.00 mm in-plane", patient.mask_errors["liver"])


def test_a_mask_on_another_pixel_spacing_is_refused_by_name(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume, masks=True)
    for path in (folder / "MASKS_DICOM" / "liver").iterdir():
        _edit(path, PixelSpacing=[0.57, 0.57])
    patient = load_patient(folder)
    assert re.search(r"image_\d+: mask PixelSpacing \[0.57, 0.57\] differs", patient.mask_errors["liver"])


def test_a_mask_in_another_orientation_is_refused_by_name(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume, masks=True)
    for path in (folder / "MASKS_DICOM" / "liver").iterdir():
        _edit(path, ImageOrientationPatient=[-1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    patient = load_patient(folder)
    assert "ImageOrientationPatient" in patient.mask_errors["liver"]


def test_a_broken_mask_does_not_keep_the_ct_from_opening(tmp_path: Path, volume: Volume) -> None:
    folder = _series(tmp_path, volume, masks=True)
    next((folder / "MASKS_DICOM" / "liver").iterdir()).unlink()
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, volume[0])
    assert "7 mask slices for 8 CT slices" in patient.mask_errors["liver"]


# ----------------------------------------------------------------------------- NIfTI


def _nifti(folder: Path, data: np.ndarray, affine: np.ndarray | None = None, name: str = "image.nii.gz") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([-0.8, -0.8, 2.5, 1.0]) if affine is None else affine), str(folder / name))
    return folder / name


def test_nifti_values_beyond_int16_are_clipped_with_a_warning(tmp_path: Path) -> None:
    data = np.zeros((6, 5, 4), np.int32)
    data[0, 0, 0], data[1, 0, 0] = 40000, -40000
    patient = load_patient(_nifti(tmp_path / "n", data))
    assert patient.hu.max() == 32767 and patient.hu.min() == -32768
    assert any("2 voxels outside the int16 HU range were clipped" in w for w in patient.warnings)


def _with_sform(path: Path, affine: np.ndarray) -> Path:
    """Rewrite a NIfTI header's sform by hand (nibabel refuses to build such an image itself)."""
    image = nib.load(path)
    header = image.header.copy()
    header["srow_x"], header["srow_y"], header["srow_z"] = affine[0], affine[1], affine[2]
    header["sform_code"], header["qform_code"] = 1, 0
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), None, header), str(path))
    return path


def test_a_degenerate_nifti_affine_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = _nifti(tmp_path / "n", np.zeros((4, 4, 4), np.int16))
    _with_sform(path, np.diag([0.8, 0.0, 2.5, 1.0]))
    with pytest.raises(errors.CtsegError, match=re.escape(str(path)) + ".*degenerate NIfTI affine"):
        load_patient(path)


def test_a_nifti_affine_with_nan_is_an_error(tmp_path: Path) -> None:
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    affine[0, 3] = np.nan
    path = _with_sform(_nifti(tmp_path / "n", np.zeros((4, 4, 4), np.int16)), affine)
    with pytest.raises(errors.CtsegError, match=r"NaN or infinite|degenerate"):
        load_patient(path)


def test_a_4d_nifti_is_an_error_saying_so(tmp_path: Path) -> None:
    path = _nifti(tmp_path / "n", np.zeros((4, 4, 4, 3), np.int16))
    with pytest.raises(errors.CtsegError, match=re.escape(str(path)) + ".*expected a 3D volume"):
        load_patient(path)


def test_a_corrupt_nifti_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "n").mkdir()
    path = tmp_path / "n" / "image.nii.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(errors.CtsegError, match=re.escape(str(path)) + ".*not a readable NIfTI"):
        load_patient(tmp_path / "n")


@pytest.mark.parametrize("name", ["imaging.nii.gz", "patient01.nii.gz", "CT_abdomen.nii"])
def test_a_folder_holding_only_a_nifti_ct_under_any_name_opens(name: str, tmp_path: Path) -> None:
    _nifti(tmp_path / "n", np.full((6, 5, 4), 40, np.int16), name=name)
    assert load_patient(tmp_path / "n").shape == (4, 5, 6)


def test_two_nifti_files_neither_named_as_ct_is_a_clear_error(tmp_path: Path) -> None:
    for name in ("a.nii.gz", "b.nii.gz"):
        _nifti(tmp_path / "n", np.zeros((4, 4, 4), np.int16), name=name)
    with pytest.raises(errors.NoDicomError, match=r"2 NIfTI files that could be the CT.*a.nii.gz, b.nii.gz"):
        load_patient(tmp_path / "n")


def test_a_nifti_ct_with_only_a_label_beside_it_keeps_the_label_as_a_mask(tmp_path: Path) -> None:
    _nifti(tmp_path / "n", np.full((6, 5, 4), 40, np.int16), name="patient01.nii.gz")
    _nifti(tmp_path / "n", np.ones((6, 5, 4), np.uint8), name="segmentation.nii.gz")
    patient = load_patient(tmp_path / "n")
    assert patient.masks["liver"].all()


def test_a_corrupt_label_beside_a_nifti_ct_is_reported_not_fatal(tmp_path: Path) -> None:
    _nifti(tmp_path / "n", np.full((6, 5, 4), 40, np.int16))
    (tmp_path / "n" / "liver.nii.gz").write_bytes(b"broken")
    patient = load_patient(tmp_path / "n")
    assert "liver.nii.gz" in patient.mask_errors["liver"]


@pytest.mark.parametrize("ending", [".nrrd", ".mha", ".mhd"])
def test_a_nrrd_or_metaimage_ct_given_opens_and_in_a_folder_is_named(tmp_path: Path, ending: str) -> None:
    """Issue 26, defect 28: a NRRD / MetaImage CT used to give "none of the 1 files is DICOM"; given
    as the file it opens (io.itk_image), and a folder of one says which formats ctseg reads."""
    import SimpleITK as sitk

    hu = np.full((6, 32, 40), -1000, dtype=np.int16)
    hu[:, 8:24, 10:30] = 60
    image = sitk.GetImageFromArray(hu)
    image.SetSpacing((0.8, 0.8, 2.5))
    folder = tmp_path / "scan"
    folder.mkdir()
    path = folder / f"ct{ending}"
    sitk.WriteImage(image, str(path))
    patient = load_patient(path)
    assert patient.shape == (6, 32, 40) and patient.hu.max() == 60 and patient.hu.min() == -1000
    with pytest.raises(errors.NoDicomError, match=rf"NIfTI, NRRD or MetaImage .*open the file itself \(ct{ending}\)"):
        load_patient(folder)
