"""IRCAD-layout patients (folders and zips), their masks, and NIfTI masks, on phantom patients."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from ctseg_core import errors
from ctseg_core.cli import main as ctseg_main
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import load_mask
from ctseg_core.io.nifti import write_nifti_mask
from ctseg_core.io.summary import hu_sha256, mask_sha256
from ctseg_core.synth.phantom import make_phantom


def _zip_folder(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())


def test_phantom_loads_exactly(phantom_dir: Path) -> None:
    expected = make_phantom(seed=3, slices=32)
    patient = load_patient(phantom_dir)
    np.testing.assert_array_equal(patient.hu, expected.hu)
    assert patient.spacing_mm == pytest.approx(expected.spacing_mm)
    assert set(patient.masks) == set(expected.masks)
    for name, mask in expected.masks.items():
        np.testing.assert_array_equal(patient.masks[name], mask)
    assert "SYNTHETIC" in patient.series_description
    assert patient.warnings == []


def test_zipped_ircad_layout_loads_like_the_folder(phantom_dir: Path, tmp_path: Path) -> None:
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    _zip_folder(phantom_dir / "PATIENT_DICOM", zipped / "PATIENT_DICOM.zip")
    _zip_folder(phantom_dir / "MASKS_DICOM", zipped / "MASKS_DICOM.zip")
    folder, archive = load_patient(phantom_dir), load_patient(zipped)
    assert hu_sha256(archive.hu) == hu_sha256(folder.hu)
    assert archive.available_masks == folder.available_masks
    for name in folder.masks:
        assert mask_sha256(archive.masks[name]) == mask_sha256(folder.masks[name])


def test_masks_load_lazily(phantom_dir: Path) -> None:
    patient = load_patient(phantom_dir, masks=None)
    assert patient.masks == {} and "liver" in patient.available_masks
    liver = load_mask(patient, "liver")
    assert liver.dtype == bool and liver.any()
    assert load_mask(patient, "liver") is liver


def test_masks_pair_by_position_not_file_name(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir, copy)
    liver_dir = copy / "MASKS_DICOM" / "liver"
    files = sorted(liver_dir.iterdir())
    for i, path in enumerate(files):  # rename to scrambled names
        path.rename(liver_dir / f"m{(i * 7919) % 1000:03d}_{i}")
    patient = load_patient(copy, masks=["liver"])
    np.testing.assert_array_equal(patient.masks["liver"], make_phantom(seed=3, slices=32).masks["liver"])


def test_masks_without_positions_pair_by_file_name(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir, copy)
    for path in (copy / "MASKS_DICOM" / "liver").iterdir():
        ds = pydicom.dcmread(path)
        del ds.ImagePositionPatient
        ds.save_as(path)
    patient = load_patient(copy, masks=["liver"])
    np.testing.assert_array_equal(patient.masks["liver"], make_phantom(seed=3, slices=32).masks["liver"])


def _assert_broken_mask(folder: Path, reason: str) -> None:
    """A broken ground-truth mask is reported by name while the CT still opens."""
    patient = load_patient(folder, masks=["liver"])
    assert patient.hu.size > 0 and "liver" not in patient.masks
    assert re.search(reason, patient.mask_errors["liver"]), patient.mask_errors
    assert any("mask 'liver' not loaded" in w for w in patient.warnings)
    with pytest.raises(errors.MaskMismatchError, match=reason):
        load_mask(patient, "liver")


def test_mask_count_mismatch(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir, copy)
    (copy / "MASKS_DICOM" / "liver" / "image_5").unlink()
    _assert_broken_mask(copy, "liver.*31 mask slices for 32 CT slices")


def test_mask_grid_mismatch(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir, copy)
    path = copy / "MASKS_DICOM" / "liver" / "image_4"
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = 16, 16
    ds.PixelData = bytes(256)
    ds.save_as(path)
    _assert_broken_mask(copy, "image_4.*16×16.*grids must match")


def test_mask_at_unknown_position(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir, copy)
    path = copy / "MASKS_DICOM" / "liver" / "image_4"
    ds = pydicom.dcmread(path)
    ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], 999.0]
    ds.save_as(path)
    _assert_broken_mask(copy, "image_4.*matches no CT slice")


@pytest.mark.parametrize("flip_axes", [(), (0,), (0, 2)])
def test_nifti_mask_round_trip_any_axis_flip(phantom_dir: Path, tmp_path: Path, flip_axes: tuple[int, ...]) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir / "PATIENT_DICOM", copy / "PATIENT_DICOM")
    patient = load_patient(copy, masks=None)
    liver = make_phantom(seed=3, slices=32).masks["liver"]
    write_nifti_mask(liver, patient, tmp_path / "liver.nii.gz")
    image = nib.load(tmp_path / "liver.nii.gz")
    data, affine = np.asarray(image.dataobj), image.affine.copy()
    for axis in flip_axes:  # same grid, stored with reversed axes: the affine says so
        data = np.flip(data, axis)
        flip = np.eye(4)
        flip[axis, axis], flip[axis, 3] = -1, data.shape[axis] - 1
        affine = affine @ flip
    labels = data.astype(np.uint8) * 2  # LiTS: 1 liver, 2 tumour, both are liver
    nib.save(nib.Nifti1Image(labels, affine), copy / "segmentation-3.nii.gz")
    loaded = load_patient(copy, masks=["liver"])
    np.testing.assert_array_equal(loaded.masks["liver"], liver)


def test_nifti_mask_on_another_grid_is_refused(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir / "PATIENT_DICOM", copy / "PATIENT_DICOM")
    nib.save(nib.Nifti1Image(np.zeros((64, 64, 32), np.uint8), np.eye(4)), copy / "liver.nii.gz")
    _assert_broken_mask(copy, "liver.nii.gz")


def test_nifti_volume_patient(phantom_dir: Path, tmp_path: Path) -> None:
    patient = load_patient(phantom_dir, masks=["liver"])
    image = nib.Nifti1Image(np.transpose(patient.hu, (2, 1, 0)), patient.geometry.affine_ras())
    nib.save(image, tmp_path / "volume-3.nii.gz")
    write_nifti_mask(patient.masks["liver"], patient, tmp_path / "segmentation-3.nii.gz")
    loaded = load_patient(tmp_path / "volume-3.nii.gz")
    assert hu_sha256(loaded.hu) == hu_sha256(patient.hu)
    assert loaded.spacing_mm == pytest.approx(patient.spacing_mm)
    np.testing.assert_array_equal(loaded.masks["liver"], patient.masks["liver"])


def test_info_json(phantom_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ctseg_main(["info", str(phantom_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    patient = load_patient(phantom_dir)
    assert info["shape"] == [32, 512, 512]
    assert info["spacing_mm"] == pytest.approx(list(patient.spacing_mm))
    assert info["slice_order"] == "position"
    assert info["hu_sha256"] == hu_sha256(patient.hu)
    assert (info["hu_min"], info["hu_max"]) == (int(patient.hu.min()), int(patient.hu.max()))
    liver = info["masks"]["liver"]
    assert liver["voxels"] == int(patient.masks["liver"].sum())
    assert liver["sha256"] == mask_sha256(patient.masks["liver"])
    assert liver["volume_ml"] > 0
    assert info["warnings"] == [] and info["load_seconds"] > 0


def test_info_on_bad_path_prints_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ctseg_main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "does not exist" in err and "Traceback" not in err


def test_phantom_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ctseg_main(["phantom", str(tmp_path / "ph"), "--seed", "5", "--slices", "8"]) == 0
    assert load_patient(tmp_path / "ph").shape == (8, 512, 512)
    assert ctseg_main(["phantom", str(tmp_path / "ph"), "--slices", "8"]) == 2
    assert "ph" in capsys.readouterr().err


def test_read_mask_folder_and_write_progress(phantom_dir: Path, tmp_path: Path) -> None:
    from ctseg_core.io.masks import read_mask_folder, write_ircad_mask

    patient = load_patient(phantom_dir, masks=["liver"])
    calls: list[int] = []
    folder = write_ircad_mask(
        patient.masks["liver"], patient, tmp_path, name="edited", progress=lambda d, t, s: calls.append(d)
    )
    assert calls[-1] == patient.shape[0]
    np.testing.assert_array_equal(read_mask_folder(folder, patient), patient.masks["liver"])


def test_a_corrupt_mask_file_is_named_as_corrupt_not_as_a_count_mismatch(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir, copy)
    path = copy / "MASKS_DICOM" / "liver" / "image_7"
    path.write_bytes(path.read_bytes()[:300])
    _assert_broken_mask(copy, "image_7.*corrupt mask file")


def test_a_broken_spleen_beside_the_ct_does_not_block_the_liver(phantom_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(phantom_dir, copy)
    (copy / "spleen.nii.gz").write_bytes(b"not a nifti file")
    patient = load_patient(copy)
    assert "liver" in patient.masks and "spleen" in patient.mask_errors
    assert "spleen.nii.gz" in patient.mask_errors["spleen"]


def test_a_label_folder_beside_the_zip_hides_no_zipped_organ(phantom_dir: Path, tmp_path: Path) -> None:
    import zipfile

    copy = tmp_path / "p"
    copy.mkdir()
    for folder in ("PATIENT_DICOM", "MASKS_DICOM"):
        with zipfile.ZipFile(copy / f"{folder}.zip", "w") as archive:
            for file in sorted((phantom_dir / folder).rglob("*")):
                if file.is_file():
                    archive.write(file, str(file.relative_to(phantom_dir)))
    zipped = load_patient(copy, masks=None)
    shutil.copytree(phantom_dir / "MASKS_DICOM" / "spleen", copy / "MASKS_DICOM" / "edited")
    again = load_patient(copy, masks=None)
    assert set(again.available_masks) == set(zipped.available_masks) | {"edited"}
    shutil.copytree(phantom_dir / "MASKS_DICOM" / "spleen", copy / "MASKS_DICOM" / "liver")
    shadowed = load_patient(copy, masks=None)
    assert any("instead of the copy in MASKS_DICOM.zip" in w for w in shadowed.warnings)
