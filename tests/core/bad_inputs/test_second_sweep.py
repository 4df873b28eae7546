"""Issue 26's second sweep: hostile inputs built here (pydicom, nibabel, numpy), each asserting the exact
outcome — the volume loaded, the warning or error that names the problem."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage, generate_uid

from ctseg_core import errors
from ctseg_core.io.dicom_build import ImagePlane, Rescale, SeriesIds, image_dataset
from ctseg_core.io.loading import load_patient

SHAPE = (6, 20, 24)
HU_RESCALE = Rescale(0, 1)


def _ct_hu(seed: int = 1) -> np.ndarray:
    """A CT-like volume in HU: air outside a body of fat and soft tissue, a brighter 'liver'."""
    rng = np.random.default_rng(seed)
    hu = np.full(SHAPE, -1000, dtype=np.int16)
    hu[:, 3:17, 3:21] = -100 + rng.integers(-20, 20, size=(SHAPE[0], 14, 18))
    hu[:, 6:14, 6:18] = 50 + rng.integers(-10, 10, size=(SHAPE[0], 8, 12))
    return hu


def _write_series(
    folder: Path,
    stored: np.ndarray,
    *,
    rescale: Rescale | None = HU_RESCALE,
    spacing: Sequence[float] = (0.8, 0.8),
    study_uid: str = "1.2.3.4",
    frame_uid: str = "1.2.3.5",
    series_uid: str | None = None,
    prefix: str = "slice",
    **attributes: object,
) -> str:
    """Write ``stored`` [z, rows, columns] as one axial DICOM series in ``folder``; its series UID."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = series_uid or generate_uid()
    ids = SeriesIds("Test^Patient", "P1", study_uid, uid, frame_uid)
    for k, plane in enumerate(stored):
        where = ImagePlane((-10.0, -10.0, 2.5 * k), (1, 0, 0, 0, 1, 0), list(spacing), 2.5)
        ds = image_dataset(CTImageStorage, ids, "CT", plane, instance_number=k + 1, plane=where, rescale=rescale)
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / f"{prefix}{k:03d}.dcm", enforce_file_format=True)
    return uid


def _mask_of(hu: np.ndarray) -> np.ndarray:
    return (hu > 0).astype(np.uint8) * 255


# ----------------------------------------------------------------------------- 15: a mask is never the CT


def test_15_ct_and_mask_folders_side_by_side_load_the_ct_and_say_so(tmp_path: Path) -> None:
    hu = _ct_hu()
    _write_series(tmp_path / "p" / "ct", hu)
    _write_series(tmp_path / "p" / "masks" / "portalvein", _mask_of(hu), rescale=Rescale(0, 1))
    _write_series(tmp_path / "p" / "masks" / "liver", _mask_of(hu), rescale=Rescale(0, 1))
    patient = load_patient(tmp_path / "p")
    np.testing.assert_array_equal(patient.hu, hu)
    assert any("2 series hold only mask values" in w and "not loaded as the CT" in w for w in patient.warnings)


def test_15_a_mask_archive_given_as_the_patient_is_refused(tmp_path: Path) -> None:
    hu = _ct_hu()
    for organ in ("liver", "portalvein"):
        _write_series(tmp_path / "src" / "MASKS_DICOM" / organ, _mask_of(hu))
    archive = tmp_path / "MASKS_DICOM.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted((tmp_path / "src").rglob("*.dcm")):
            out.write(path, str(path.relative_to(tmp_path / "src")))
    with pytest.raises(errors.NotACtError, match=r"MASKS_DICOM.zip.*no CT here.*only mask values"):
        load_patient(archive)


def test_15_a_mask_folder_opened_alone_is_refused(tmp_path: Path) -> None:
    _write_series(tmp_path / "liver", (_ct_hu() > 0).astype(np.uint8))
    with pytest.raises(errors.NotACtError, match=r"liver.*0/1, as a binary mask does"):
        load_patient(tmp_path / "liver")


def test_15_a_binary_nifti_alone_is_not_a_ct(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    nib.save(
        nib.Nifti1Image(np.zeros((8, 8, 4), np.uint8) + np.eye(8, dtype=np.uint8)[..., None], np.eye(4)),
        folder / "patient01.nii.gz",
    )
    with pytest.raises(errors.NotACtError, match=r"patient01.nii.gz: not a CT.*0/1"):
        load_patient(folder)


# ----------------------------------------------------------------------------- 16: the file given is what loads


def test_16_a_dicom_file_given_loads_its_own_series_not_the_largest(tmp_path: Path) -> None:
    hu = _ct_hu()
    _write_series(tmp_path / "p", hu[:4], prefix="a")
    _write_series(tmp_path / "p", _ct_hu(seed=7), prefix="b")  # a larger series beside it
    patient = load_patient(tmp_path / "p" / "a001.dcm")
    np.testing.assert_array_equal(patient.hu, hu[:4])
    np.testing.assert_array_equal(load_patient(tmp_path / "p").hu, _ct_hu(seed=7))  # the folder: the largest


def test_16_a_nrrd_given_beside_dicom_loads_the_nrrd(tmp_path: Path) -> None:
    import SimpleITK as sitk

    _write_series(tmp_path / "p", _ct_hu())
    other = _ct_hu(seed=3)[:5]
    image = sitk.GetImageFromArray(other)
    image.SetSpacing((0.8, 0.8, 2.5))
    sitk.WriteImage(image, str(tmp_path / "p" / "scan.nrrd"))
    patient = load_patient(tmp_path / "p" / "scan.nrrd")
    assert patient.source.kind == "itk"
    assert patient.shape == other.shape


def test_16_a_non_image_dicom_given_loads_its_folder_and_says_so(tmp_path: Path) -> None:
    hu = _ct_hu()
    _write_series(tmp_path / "p", hu)
    ds = pydicom.dcmread(tmp_path / "p" / "slice000.dcm", stop_before_pixels=True)
    ds.Modality, ds.SOPClassUID, ds.SeriesInstanceUID = "RTSTRUCT", "1.2.840.10008.5.1.4.1.1.481.3", generate_uid()
    del ds.Rows, ds.Columns
    ds.save_as(tmp_path / "p" / "rtstruct.dcm")
    patient = load_patient(tmp_path / "p" / "rtstruct.dcm")
    np.testing.assert_array_equal(patient.hu, hu)
    assert any("rtstruct.dcm is not a CT image" in w for w in patient.warnings)


# ----------------------------------------------------------------------------- 17: HU + 1024 without the intercept


def test_17_dicom_stored_as_hu_plus_1024_without_intercept_is_warned(tmp_path: Path) -> None:
    hu = _ct_hu()
    _write_series(tmp_path / "p", (hu + 1024).astype(np.uint16), rescale=None)
    patient = load_patient(tmp_path / "p")
    assert int(patient.hu.min()) == 24
    assert any("HU + 1024 stored without RescaleIntercept" in w and "air at" in w for w in patient.warnings)


def test_17_a_nifti_of_hu_plus_1024_is_warned_and_a_true_ct_is_not(tmp_path: Path) -> None:
    for name, offset in (("shifted", 1024), ("true", 0)):
        (tmp_path / name).mkdir()
        data = np.transpose(_ct_hu() + offset, (2, 1, 0)).astype(np.int16)
        nib.save(nib.Nifti1Image(data, np.diag([-0.8, -0.8, 2.5, 1])), tmp_path / name / "image.nii.gz")
    assert any("HU + 1024" in w for w in load_patient(tmp_path / "shifted").warnings)
    assert not any("HU + 1024" in w for w in load_patient(tmp_path / "true").warnings)


def test_17_the_quality_estimate_flags_a_scan_of_hu_plus_1024() -> None:
    from ctseg_core.model.inference import with_hu_check
    from ctseg_core.model.quality import estimate_quality

    probability = np.zeros(SHAPE, np.float32)
    probability[1:-1, 6:14, 6:18] = 0.99
    quality = estimate_quality(probability, probability > 0.5)
    assert not quality.check_scan
    assert with_hu_check(quality, _ct_hu()) is quality
    flagged = with_hu_check(quality, _ct_hu() + 1024)
    assert flagged.check_scan
    assert any("HU + 1024" in reason for reason in flagged.reasons)


# ----------------------------------------------------------------------------- 19: PixelPaddingValue


def test_19_unsigned_data_padded_with_63536_reads_as_air_not_32767(tmp_path: Path) -> None:
    hu = _ct_hu()
    stored = (hu + 1024).astype(np.uint16)
    stored[:, :, :2] = 63536  # outside the field of view
    _write_series(tmp_path / "p", stored, rescale=Rescale(-1024, 1), PixelPaddingValue=63536)
    patient = load_patient(tmp_path / "p")
    expected = hu.copy()
    expected[:, :, :2] = -1024
    np.testing.assert_array_equal(patient.hu, expected)
    assert any(f"{6 * 20 * 2} voxels of PixelPaddingValue" in w and "air" in w for w in patient.warnings)
    assert not any("clipped" in w for w in patient.warnings)


def test_19_a_padding_range_limit_is_honoured_for_signed_data(tmp_path: Path) -> None:
    hu = _ct_hu()
    hu[:, 0, :] = -3000
    hu[:, 1, :] = -2500
    _write_series(tmp_path / "p", hu, PixelPaddingValue=-3000, PixelPaddingRangeLimit=-2000)
    patient = load_patient(tmp_path / "p")
    assert int(patient.hu[:, :2].max()) == -1024 and int(patient.hu[:, :2].min()) == -1024


# ----------------------------------------------------------------------------- 20: non-square pixels


@pytest.mark.parametrize("spacing", [(1.0, 0.5), (0.5, 1.0)], ids=["columns-finer", "rows-finer"])
def test_20_non_square_pixels_are_cropped_and_resized_in_millimetres(spacing: tuple[float, float]) -> None:
    from ctseg_core.model.preprocessing import InputSpec, crop_and_resize, restore_to_grid

    dy, dx = spacing
    rows, columns = int(200 / dy), int(200 / dx)
    y, x = np.mgrid[0:rows, 0:columns]
    disk = ((y - rows / 2) * dy) ** 2 + ((x - columns / 2) * dx) ** 2 < 60.0**2  # a 120 mm disk
    hu = np.where(disk, 40, -1000).astype(np.int16)[None].repeat(2, axis=0)
    spec = InputSpec(size=64)
    stack, box = crop_and_resize(hu, spec, spacing_yx=spacing)
    assert box.side * dy == pytest.approx(box.columns_side * dx, abs=max(dy, dx))
    body = stack[0] > -400
    height, width = np.ptp(np.nonzero(body.any(axis=1))[0]), np.ptp(np.nonzero(body.any(axis=0))[0])
    assert height == pytest.approx(width, abs=2)  # a disk stays a disk on the network grid
    back = restore_to_grid((stack > -400).astype(np.float32), box) >= 0.5
    assert np.count_nonzero(back[0] != disk) < 0.02 * disk.sum()


def test_20_square_pixels_keep_the_box_they_always_had() -> None:
    from ctseg_core.model.preprocessing import body_crop_box

    hu = _ct_hu()
    assert body_crop_box(hu, (0.7, 0.7)) == body_crop_box(hu)
    assert body_crop_box(hu).side_x is None


# ----------------------------------------------------------------------------- 25: a training mask on another grid


def _nifti_patient(folder: Path, hu: np.ndarray, liver: np.ndarray | None) -> Path:
    """A NIfTI patient (``image.nii.gz`` + ``liver.nii.gz``) on a plain 1 mm grid."""
    folder.mkdir(parents=True)
    affine = np.diag([-1.0, -1.0, 2.5, 1.0])
    nib.save(nib.Nifti1Image(np.transpose(hu, (2, 1, 0)).astype(np.int16), affine), folder / "image.nii.gz")
    if liver is not None:
        nib.save(nib.Nifti1Image(np.transpose(liver, (2, 1, 0)).astype(np.uint8), affine), folder / "liver.nii.gz")
    return folder


def test_25_a_training_patient_whose_mask_is_on_another_grid_is_left_out_saying_why(tmp_path: Path) -> None:
    from ctseg_core.model.preprocessing import InputSpec
    from ctseg_core.model.train import _cached_patients

    hu = _ct_hu()
    _nifti_patient(tmp_path / "data" / "good", hu, hu > 0)
    _nifti_patient(tmp_path / "data" / "bad", hu, (hu > 0)[:, :, :-2])  # two columns short
    said: list[str] = []
    real, _ = _cached_patients([tmp_path / "data"], 0, InputSpec(size=32), tmp_path / "cache", said.append)
    assert [p.name for p in real] == ["good"]
    message = next(line for line in said if "left out of training" in line)
    assert "bad" in message and "no liver mask to train on (its liver mask:" in message and "label grid is" in message


# ----------------------------------------------------------------------------- 26: --register and the models folder


def test_26_register_into_a_models_folder_that_cannot_be_written_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctseg_core.cli import main
    from ctseg_core.model import train

    (tmp_path / "blocker").write_text("a file where the models folder would be")
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(tmp_path / "blocker" / "models"))
    monkeypatch.setattr(train, "run_training", lambda *a, **k: pytest.fail("training started"))
    code = main(["train", str(tmp_path), "--out", str(tmp_path / "out"), "--register", "mine"])
    assert code == 2
    assert "blocker: is a file, not a folder" in capsys.readouterr().err


def test_26_a_read_only_models_folder_is_refused_by_the_name_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import tempfile

    from ctseg_core.model.registry import check_new_name

    def refused(*args: object, **kwargs: object) -> object:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with pytest.raises(errors.ReadOnlyError, match=r"models: read-only file system"):
        check_new_name("mine", folder=tmp_path / "models")


# ----------------------------------------------------------------------------- 18: multi-label NIfTI labels


def _nifti_label(path: Path, values: np.ndarray) -> None:
    nib.save(nib.Nifti1Image(np.transpose(values, (2, 1, 0)).astype(np.uint8), np.diag([-1.0, -1.0, 2.5, 1.0])), path)


def _organs() -> np.ndarray:
    """A label map of five structures (TotalSegmentator style): values 1…5 in bands."""
    labels = np.zeros(SHAPE, np.uint8)
    for value in range(1, 6):
        labels[:, 3 * value : 3 * value + 2, 4:20] = value
    return labels


def test_18_a_multi_label_nifti_without_description_is_not_binarised_as_liver(tmp_path: Path) -> None:
    folder = _nifti_patient(tmp_path / "p", _ct_hu(), None)
    _nifti_label(folder / "segmentation.nii.gz", _organs())
    patient = load_patient(folder)
    assert "liver" not in patient.masks
    assert "holds 5 labels (values 1, 2, 3, 4, 5) and no label description" in patient.mask_errors["liver"]


def test_18_two_labels_lits_style_are_the_liver_and_the_warning_says_which_values(tmp_path: Path) -> None:
    folder = _nifti_patient(tmp_path / "p", _ct_hu(), None)
    labels = _organs()
    labels[labels > 2] = 0
    _nifti_label(folder / "segmentation.nii.gz", labels)
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.masks["liver"], labels > 0)
    assert any("holds 2 labels (values 1, 2)" in w and "every non-zero voxel" in w for w in patient.warnings)


def test_18_a_multi_label_nifti_with_a_label_description_gives_one_mask_per_segment(tmp_path: Path) -> None:
    from ctseg_core.io.label_table import write_label_table
    from ctseg_core.io.segments import default_segment

    folder = _nifti_patient(tmp_path / "p", _ct_hu(), None)
    labels = _organs()
    _nifti_label(folder / "organs.nii.gz", labels)
    names = ["spleen", "kidney_right", "kidney_left", "gallbladder", "liver"]
    write_label_table([default_segment(n, v) for v, n in enumerate(names, start=1)], folder / "organs.txt")
    patient = load_patient(folder)
    assert set(names) <= set(patient.masks)
    np.testing.assert_array_equal(patient.masks["liver"], labels == 5)
    assert int(patient.masks["liver"].sum()) == int((labels == 5).sum())


# ----------------------------------------------------------------------------- 13: ctseg's outputs are never the CT


def test_13_ctseg_output_beside_an_unnamed_nifti_ct_leaves_it_openable(tmp_path: Path) -> None:
    from ctseg_core.io.nifti import write_nifti_mask

    folder = tmp_path / "p"
    folder.mkdir()
    hu = _ct_hu()
    nib.save(nib.Nifti1Image(np.transpose(hu, (2, 1, 0)), np.diag([-1.0, -1.0, 2.5, 1.0])), folder / "patient01.nii.gz")
    patient = load_patient(folder)
    write_nifti_mask(hu > 0, patient, folder / "patient01 liver edited.nii.gz")  # a name no rule knows
    again = load_patient(folder)
    np.testing.assert_array_equal(again.hu, hu)
    np.testing.assert_array_equal(again.masks["patient01 liver edited"], hu > 0)


# ----------------------------------------------------------------------------- 11: NIfTI folders with other files


def test_11_a_nifti_folder_with_a_json_sidecar_and_a_readme_opens(tmp_path: Path) -> None:
    hu = _ct_hu()
    folder = _nifti_patient(tmp_path / "p", hu, hu > 0)
    (folder / "image.json").write_text('{"Modality": "CT"}')
    (folder / "README").write_text("converted with dcm2niix")
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, hu)
    assert "liver" in patient.masks


def test_11_a_dicom_seg_beside_a_nifti_ct_is_not_loaded_as_the_ct(tmp_path: Path) -> None:
    hu = _ct_hu()
    folder = _nifti_patient(tmp_path / "p", hu, None)
    ds = image_dataset("1.2.840.10008.5.1.4.1.1.66.4", SeriesIds("T", "P1", "1.2", "1.3", "1.4"), "SEG", _mask_of(hu))
    ds.save_as(folder / "seg.dcm", enforce_file_format=True)
    patient = load_patient(folder)
    assert patient.source.kind == "nifti"
    np.testing.assert_array_equal(patient.hu, hu)


# ----------------------------------------------------------------------------- issue 25 §4: label files beside the CT


def _dicom_patient_with(tmp_path: Path, fmt: str, name: str) -> tuple[Path, np.ndarray, np.ndarray]:
    """A DICOM CT folder and, beside it, a label file in ``fmt`` (liver and tumour) written for it."""
    from ctseg_core.io.label_files import write_label_file
    from ctseg_core.io.segments import LabelMap

    hu = _ct_hu()
    folder = tmp_path / "p"
    _write_series(folder, hu)
    liver = hu > 0
    tumour = np.zeros_like(liver)
    tumour[2:4, 8:11, 8:12] = True
    liver &= ~tumour
    write_label_file(LabelMap.from_masks({"liver": liver, "tumour": tumour}), load_patient(folder), folder / name, fmt)
    return folder, liver, tumour


@pytest.mark.parametrize(("fmt", "name"), [("seg", "annotation.dcm"), ("seg.nrrd", "annotation.seg.nrrd")])
def test_25_4_a_label_file_beside_a_dicom_ct_is_its_ground_truth_by_segment(
    tmp_path: Path, fmt: str, name: str
) -> None:
    folder, liver, tumour = _dicom_patient_with(tmp_path, fmt, name)
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.masks["liver"], liver)
    np.testing.assert_array_equal(patient.masks["tumour"], tumour)
    assert not patient.mask_errors


def test_25_4_an_rtstruct_beside_the_ct_is_read_by_roi_name(tmp_path: Path) -> None:
    folder, liver, _ = _dicom_patient_with(tmp_path, "rtstruct", "rs.dcm")
    patient = load_patient(folder)
    assert {"liver", "tumour"} <= set(patient.masks)
    assert abs(int(patient.masks["liver"].sum()) - int(liver.sum())) <= 0.1 * liver.sum()  # contours, not voxels


def test_25_4_a_seg_of_another_series_is_reported_not_loaded(tmp_path: Path) -> None:
    folder, _, _ = _dicom_patient_with(tmp_path, "seg", "annotation.dcm")
    ds = pydicom.dcmread(folder / "annotation.dcm")
    ds.FrameOfReferenceUID = "9.9.9"
    for item in ds.ReferencedSeriesSequence:
        item.SeriesInstanceUID = "9.9.8"
    ds.save_as(folder / "annotation.dcm")
    patient = load_patient(folder)
    assert "tumour" not in patient.mask_sources
    assert any("annotation.dcm" in w and "references another series" in w for w in patient.warnings)


def test_25_4_ctseg_prediction_beside_the_ct_is_never_its_liver(tmp_path: Path) -> None:
    folder, _, _ = _dicom_patient_with(tmp_path, "seg", "liver_pred.seg.dcm")
    patient = load_patient(folder)
    assert "liver" not in patient.mask_sources
    assert "liver (liver_pred.seg.dcm)" in patient.masks


def test_25_4_a_label_on_another_grid_is_reported_and_the_ct_opens(tmp_path: Path) -> None:
    import SimpleITK as sitk

    hu = _ct_hu()
    folder = _nifti_patient(tmp_path / "p", hu, None)
    image = sitk.GetImageFromArray((hu > 0).astype(np.uint8)[:, :, :-3])
    sitk.WriteImage(image, str(folder / "segmentation.nrrd"))
    patient = load_patient(folder)
    np.testing.assert_array_equal(patient.hu, hu)
    assert "segmentation" in patient.mask_errors


# ----------------------------------------------------------------------------- 12: one undecodable compressed slice


def _rle_series(folder: Path, hu: np.ndarray) -> None:
    from pydicom.uid import RLELossless

    _write_series(folder, hu)
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless)
        ds.save_as(path)


@pytest.mark.filterwarnings("ignore:End of file reached")
def test_12_a_truncated_rle_slice_is_skipped_and_named_as_truncated(tmp_path: Path) -> None:
    hu = _ct_hu()
    _rle_series(tmp_path / "p", hu)
    broken = tmp_path / "p" / "slice002.dcm"
    broken.write_bytes(broken.read_bytes()[:-150])
    patient = load_patient(tmp_path / "p")
    np.testing.assert_array_equal(patient.hu, np.delete(hu, 2, axis=0))
    assert any("slice002.dcm: file truncated: it ends inside its compressed pixel data" in w for w in patient.warnings)
    assert not any("no 'Pixel Data'" in w for w in patient.warnings)


def test_12_an_undecodable_rle_slice_is_skipped_not_the_scan(tmp_path: Path) -> None:
    hu = _ct_hu()
    _rle_series(tmp_path / "p", hu)
    broken = tmp_path / "p" / "slice003.dcm"
    data = bytearray(broken.read_bytes())
    data[-300:-250] = b"\xff" * 50
    broken.write_bytes(bytes(data))
    patient = load_patient(tmp_path / "p")
    assert patient.shape[0] == 5
    assert any("slice003.dcm: pixel data cannot be decoded" in w for w in patient.warnings)
    assert any("slices may be missing" in w for w in patient.warnings)


@pytest.mark.filterwarnings("ignore:End of file reached")
def test_12_every_slice_unreadable_is_an_error(tmp_path: Path) -> None:
    _rle_series(tmp_path / "p", _ct_hu())
    for path in (tmp_path / "p").iterdir():
        path.write_bytes(path.read_bytes()[:-150])
    with pytest.raises(errors.AllFilesCorruptError, match=r"pixel data of all 6 slices is unreadable"):
        load_patient(tmp_path / "p")


# ----------------------------------------------------------------------------- 10: huge sizes, out of memory


def test_10_a_nifti_declaring_a_huge_size_is_refused_before_allocating(tmp_path: Path) -> None:
    folder = _nifti_patient(tmp_path / "p", _ct_hu(), None)
    image = nib.load(folder / "image.nii.gz")
    header = image.header.copy()
    header.set_data_shape((30000, 30000, 3000))
    raw = header.binaryblock + b"\0" * 4 + b"\0" * 64  # a header and a few bytes: the size is a lie
    (folder / "image.nii").write_bytes(raw)
    (folder / "image.nii.gz").unlink()
    with pytest.raises(
        errors.VolumeTooLargeError, match=r"image.nii: declares 30000 × 30000 × 3000 voxels.*GiB of memory"
    ):
        load_patient(folder)


def test_10_a_dicom_series_larger_than_memory_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctseg_core.io import memory_budget

    _write_series(tmp_path / "p", _ct_hu())
    monkeypatch.setattr(memory_budget, "available_bytes", lambda: 1000)
    with pytest.raises(errors.VolumeTooLargeError, match=r"p: declares 6 × 20 × 24 voxels.*0.0 GiB is available"):
        load_patient(tmp_path / "p")


def test_10_a_real_memory_error_while_loading_is_a_message_not_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctseg_core.io import loading

    _write_series(tmp_path / "p", _ct_hu())

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(loading, "canonicalise", exhausted)
    with pytest.raises(errors.VolumeTooLargeError, match=r"p: ran out of memory loading the scan"):
        load_patient(tmp_path / "p")


# ----------------------------------------------------------------------------- 21, 30: NIfTI values and header


def test_21_nan_voxels_in_a_nifti_ct_become_air_with_a_warning(tmp_path: Path) -> None:
    hu = _ct_hu().astype(np.float32)
    hu[0, :2, :3] = np.nan
    hu[1, 0, 0] = np.inf
    folder = tmp_path / "p"
    folder.mkdir()
    nib.save(nib.Nifti1Image(np.transpose(hu, (2, 1, 0)), np.diag([-1.0, -1.0, 2.5, 1.0])), folder / "image.nii.gz")
    patient = load_patient(folder)
    assert int(patient.hu[0, :2, :3].max()) == -1024 and int(patient.hu[1, 0, 0]) == -1024
    assert any("7 voxels were not numbers (NaN or infinite): set to air" in w for w in patient.warnings)


def test_30_a_nifti_whose_qform_and_sform_disagree_is_warned(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    image = nib.Nifti1Image(np.transpose(_ct_hu(), (2, 1, 0)), np.diag([-1.0, -1.0, 2.5, 1.0]))
    shifted = np.diag([-1.0, -1.0, 2.5, 1.0])
    shifted[:3, 3] = (30.0, 0.0, 0.0)
    image.set_qform(shifted, code=1)
    image.set_sform(np.diag([-1.0, -1.0, 2.5, 1.0]), code=1)
    nib.save(image, folder / "image.nii.gz")
    assert any("qform and sform disagree (by up to 30.00)" in w for w in load_patient(folder).warnings)


def test_30_a_nifti_with_neither_qform_nor_sform_is_warned_and_a_normal_one_is_not(tmp_path: Path) -> None:
    for name, code in (("bare", 0), ("normal", 1)):
        (tmp_path / name).mkdir()
        image = nib.Nifti1Image(np.transpose(_ct_hu(), (2, 1, 0)), np.diag([-1.0, -1.0, 2.5, 1.0]))
        image.set_qform(None if code == 0 else image.affine, code=code)
        image.set_sform(None if code == 0 else image.affine, code=code)
        nib.save(image, tmp_path / name / "image.nii.gz")
    assert any("neither qform nor sform is set" in w for w in load_patient(tmp_path / "bare").warnings)
    assert not any("qform" in w for w in load_patient(tmp_path / "normal").warnings)


# ----------------------------------------------------------------------------- 22: segment prints the warnings


def test_22_segment_prints_the_loaders_warnings_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    from ctseg_core.cli.segment import _print_row

    row = {
        "patient": "p1",
        "dice": None,
        "jaccard": None,
        "assd_mm": None,
        "hd95_mm": None,
        "volume_ml_pred": 1.0,
        "volume_ml_gt": None,
        "seconds": 1.0,
        "output": "out",
        "warnings": "series 1.2 has modality MR, not CT; name \x1b]0;title\x07",
    }
    _print_row(row, as_json=False)
    err = capsys.readouterr().err
    assert "p1: warning: series 1.2 has modality MR, not CT; name \\x1b]0;title\\x07" in err
    assert "\x1b" not in err


# ----------------------------------------------------------------------------- 29: a model that holds code


def test_29_a_model_refused_by_keras_safe_mode_is_said_to_hold_code_not_to_be_corrupt() -> None:
    from ctseg_core.model.inference import keras_load_problem

    refusal = ValueError(
        "Requested the deserialization of a `Lambda` layer with a Python `lambda` inside it. This carries a "
        "potential risk of arbitrary code execution and thus it is disallowed by default. If you trust the "
        "source of the saved model, you can pass `safe_mode=False` to the loading function"
    )
    said = keras_load_problem(refusal)
    assert said.startswith("holds Python code") and "not loaded (Keras safe mode)" in said
    assert "corrupt" not in said
    assert keras_load_problem(OSError("truncated")).startswith("model file is corrupt")


@pytest.mark.slow
def test_29_a_saved_lambda_model_is_refused_with_that_message(tmp_path: Path) -> None:
    import keras

    from ctseg_core.model.inference import Segmenter

    inputs = keras.Input((160, 160, 3))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x[..., :1] * 0.5)(inputs))
    model.save(tmp_path / "gadget.keras")
    source = Path(__file__).resolve().parents[3] / "resources" / "models" / "liver_unet.card.json"
    shutil.copy(source, tmp_path / "gadget.card.json")
    with pytest.raises(errors.ModelError, match=r"gadget.keras: holds Python code.*not loaded"):
        Segmenter.load(tmp_path / "gadget.keras", backend="tensorflow")


# ----------------------------------------------------------------------------- 27: DICOMDIR


def _disc(tmp_path: Path) -> Path:
    """A CD-style export: a DICOMDIR and the image files it lists (pydicom's FileSet)."""
    from pydicom.fileset import FileSet

    _write_series(
        tmp_path / "src",
        _ct_hu(),
        StudyDate="20260101",
        StudyTime="120000",
        StudyID="1",
        SeriesNumber=1,
        AccessionNumber="",
        ReferringPhysicianName="",
        PatientBirthDate="",
        PatientSex="",
    )
    fileset = FileSet()
    for path in sorted((tmp_path / "src").iterdir()):
        fileset.add(pydicom.dcmread(path))
    fileset.write(tmp_path / "disc")
    return tmp_path / "disc"


def test_27_a_full_disc_with_its_dicomdir_loads(tmp_path: Path) -> None:
    patient = load_patient(_disc(tmp_path))
    np.testing.assert_array_equal(patient.hu, _ct_hu())
    assert not any("DICOMDIR" in w for w in patient.warnings)


def test_27_a_folder_holding_only_a_dicomdir_says_its_files_are_missing(tmp_path: Path) -> None:
    disc = _disc(tmp_path)
    for path in sorted(disc.iterdir()):
        if path.is_dir():
            shutil.rmtree(path)
    with pytest.raises(
        errors.NoDicomError, match=r"DICOMDIR \(a CD/DVD index\) lists 6 files and 6 of them are not there"
    ):
        load_patient(disc)


def test_27_a_partial_copy_of_a_disc_loads_what_is_there_and_says_what_is_missing(tmp_path: Path) -> None:
    disc = _disc(tmp_path)
    images = sorted(p for p in disc.rglob("*") if p.is_file() and p.name != "DICOMDIR")
    images[-1].unlink()
    patient = load_patient(disc)
    assert patient.shape[0] == 5
    assert any("lists 6 files and 1 of them are not there" in w for w in patient.warnings)


# ----------------------------------------------------------------------------- 23: zips keep only what loads


def _two_series_zip(tmp_path: Path) -> Path:
    _write_series(tmp_path / "src", _ct_hu(), prefix="a")
    _write_series(tmp_path / "src", _ct_hu(seed=5)[:4], prefix="b")
    archive = tmp_path / "scans.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted((tmp_path / "src").iterdir()):
            out.write(path, path.name)
    return archive


def test_23_a_zip_lets_go_of_the_bytes_of_series_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ctseg_core.io import loading

    seen: list[list[object]] = []
    real = loading.choose_series

    def spy(headers: list[object], *args: object, **kwargs: object) -> object:
        seen.append(headers)
        return real(headers, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loading, "choose_series", spy)
    patient = load_patient(_two_series_zip(tmp_path))
    np.testing.assert_array_equal(patient.hu, _ct_hu())
    assert all(header.raw is None for header in seen[0])  # type: ignore[attr-defined]


def test_23_a_zip_keeps_at_most_its_budget_of_member_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ctseg_core.io import sources

    archive = _two_series_zip(tmp_path)
    member = max(info.file_size for info in zipfile.ZipFile(archive).infolist())
    monkeypatch.setattr(sources, "KEEP_TOTAL_BYTES", 3 * member)
    kept: list[int] = []
    real = sources.ZipSource.reserve

    def spy(self: sources.ZipSource, count: int) -> bool:
        granted = real(self, count)
        kept.append(self._kept)
        return granted

    monkeypatch.setattr(sources.ZipSource, "reserve", spy)
    patient = load_patient(archive)
    np.testing.assert_array_equal(patient.hu, _ct_hu())  # members not kept are inflated again
    assert max(kept) <= 3 * member


# ----------------------------------------------------------------------------- 24: segment's peak memory


def test_24_segmenting_a_patient_peaks_under_four_times_its_hu_volume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Load, network (replaced by a fixed answer: its buffers do not grow with the scan), post-processing,
    the NIfTI written and Dice/ASSD/HD95 against the liver: numpy's peak, as tracemalloc sees it."""
    import tracemalloc

    from ctseg_core.batch import BatchItem, segment_patient
    from ctseg_core.model.card import read_card
    from ctseg_core.model.inference import Segmenter, default_model_path

    depth, size = 32, 512
    hu = np.full((depth, size, size), -1000, np.int16)
    y, x = np.mgrid[0:size, 0:size]
    body = (y - size / 2) ** 2 + (x - size / 2) ** 2 < (0.4 * size) ** 2
    liver = (y - size / 2) ** 2 + (x - size / 3) ** 2 < (0.15 * size) ** 2
    hu[:, body] = -80
    hu[:, liver] = 60
    truth = np.zeros(hu.shape, bool)
    truth[4:-4, liver] = True
    folder = _nifti_patient(tmp_path / "p", hu, truth)
    card = read_card(default_model_path())
    segmenter = Segmenter(None, card, default_model_path())
    cut = np.float32((-10 - card.input.hu_low) / (card.input.hu_high - card.input.hu_low))  # between fat and liver
    monkeypatch.setattr(
        Segmenter, "_run_batch", lambda self, batch: (batch[..., batch.shape[-1] // 2] > cut).astype(np.float32)
    )
    tracemalloc.start()
    row = segment_patient(BatchItem(folder, "p", tmp_path / "out"), segmenter, "nifti")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert row["dice"] is not None and row["dice"] > 0.5
    assert peak < 4 * hu.nbytes, f"peak {peak / hu.nbytes:.2f}× the HU volume"


def test_26_sibling_a_read_only_train_out_folder_is_refused_before_tensorflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import tempfile

    from ctseg_core.model import tf_runtime
    from ctseg_core.model.train import TrainConfig, run_training

    def refused(*args: object, **kwargs: object) -> object:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    monkeypatch.setattr(tf_runtime, "import_tensorflow", lambda *a: pytest.fail("training started"))
    with pytest.raises(errors.ReadOnlyError, match=r"out: read-only: permission denied"):
        run_training([tmp_path], tmp_path / "out", TrainConfig())


def test_10_sibling_a_nrrd_larger_than_memory_is_refused_from_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import SimpleITK as sitk

    from ctseg_core.io import memory_budget

    sitk.WriteImage(sitk.GetImageFromArray(_ct_hu()), str(tmp_path / "scan.nrrd"))
    monkeypatch.setattr(memory_budget, "available_bytes", lambda: 1000)
    with pytest.raises(errors.VolumeTooLargeError, match=r"scan.nrrd: declares 6 × 20 × 24 voxels"):
        load_patient(tmp_path / "scan.nrrd")
