"""Loading CT series: order by geometry, HU from the rescale, fallbacks, and every bad input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import ct_slice, rewrite, write_series

from ctseg_core import errors
from ctseg_core.errors import Cancelled
from ctseg_core.io.loading import load_patient
from ctseg_core.io.summary import hu_sha256


def test_hu_uses_rescale_slope_and_intercept(tmp_path: Path) -> None:
    hu, _ = write_series(tmp_path / "s", slope=2.0, intercept=-1000.0)
    patient = load_patient(tmp_path / "s")
    assert patient.hu.dtype == np.int16
    np.testing.assert_array_equal(patient.hu, hu)


def test_order_follows_positions_not_names_or_instance_numbers(tmp_path: Path) -> None:
    z = [10.0, 2.5, 7.5, 0.0, 5.0]
    hu, _paths = write_series(tmp_path / "s", z_positions=z, names=[f"{n}.dcm" for n in "abcde"])
    patient = load_patient(tmp_path / "s")
    assert patient.slice_order == "position"
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_allclose(patient.slice_positions_mm, sorted(z))
    assert patient.spacing_mm[0] == pytest.approx(2.5)
    assert patient.geometry.origin_mm[2] == pytest.approx(0.0)


def test_flipped_rows_come_out_canonical(tmp_path: Path) -> None:
    # Columns run towards anterior (−y): the stored stack is sorted along normal = −z (high z first),
    # and the canonical grid flips rows (anterior at the top) and slices (inferior first).
    hu, _ = write_series(tmp_path / "s", orientation=(1, 0, 0, 0, -1, 0))
    patient = load_patient(tmp_path / "s")
    np.testing.assert_array_equal(patient.hu, hu[:, ::-1, :])
    assert patient.source.positions_lps[0][2] == pytest.approx(12.5)
    assert patient.geometry.origin_mm[2] == pytest.approx(0.0)
    assert patient.geometry.origin_mm[1] == pytest.approx(-20.0 - 15 * 0.8)
    np.testing.assert_allclose(patient.geometry.affine_lps()[:3, :3], np.diag([0.8, 0.8, 2.5]), atol=1e-12)


def test_spacing_comes_from_positions_not_slice_thickness(tmp_path: Path) -> None:
    write_series(tmp_path / "s", z_positions=[0, 1.25, 2.5, 3.75], thickness=5.0)
    patient = load_patient(tmp_path / "s")
    assert patient.spacing_mm == pytest.approx((1.25, 0.8, 0.8))
    assert patient.warnings == []


def test_gap_and_uneven_spacing_warn_naming_slices(tmp_path: Path) -> None:
    write_series(tmp_path / "gap", z_positions=[0, 2.5, 5, 12.5, 15, 17.5])
    gap = load_patient(tmp_path / "gap")
    assert any("gap" in w and "slice_2.dcm" in w and "slice_3.dcm" in w for w in gap.warnings)
    write_series(tmp_path / "uneven", z_positions=[0, 2.5, 5, 7.7, 10, 12.5])
    uneven = load_patient(tmp_path / "uneven")
    assert any("uneven" in w and "2-3" in w for w in uneven.warnings)


def test_fallback_to_instance_number_then_file_name(tmp_path: Path) -> None:
    hu, paths = write_series(tmp_path / "s", names=["c", "a", "b", "f", "e", "d"])
    for path in paths:
        rewrite(path, ImagePositionPatient=None)
    by_instance = load_patient(tmp_path / "s")
    assert by_instance.slice_order == "instance"
    np.testing.assert_array_equal(by_instance.hu, hu)
    assert any("InstanceNumber" in w for w in by_instance.warnings)
    for path in paths:
        rewrite(path, InstanceNumber=None)
    by_name = load_patient(tmp_path / "s")
    assert by_name.slice_order == "filename"
    order = np.argsort(["c", "a", "b", "f", "e", "d"])
    np.testing.assert_array_equal(by_name.hu, hu[order])


def test_shuffled_file_names_load_identically(tmp_path: Path) -> None:
    write_series(tmp_path / "s", count=12)
    original = load_patient(tmp_path / "s")
    rng = np.random.default_rng(1)
    shuffled = tmp_path / "shuffled" / "nested"
    shuffled.mkdir(parents=True)
    for i, path in enumerate(rng.permutation(sorted((tmp_path / "s").iterdir()))):
        shutil.copy(path, shuffled / f"i{i:04d},{rng.integers(9999)}b.dcm" if i % 2 else shuffled / f"{i}")
    copy = load_patient(tmp_path / "shuffled")
    assert hu_sha256(copy.hu) == hu_sha256(original.hu)


def test_identical_duplicates_are_dropped_different_ones_are_an_error(tmp_path: Path) -> None:
    hu, paths = write_series(tmp_path / "s")
    shutil.copy(paths[2], tmp_path / "s" / "copy_of_2.dcm")
    rewrite(tmp_path / "s" / "copy_of_2.dcm", SOPInstanceUID="1.2.3.999")
    patient = load_patient(tmp_path / "s")
    np.testing.assert_array_equal(patient.hu, hu)
    assert any("duplicate" in w for w in patient.warnings)
    ds = pydicom.dcmread(tmp_path / "s" / "copy_of_2.dcm")
    ds.PixelData = (np.frombuffer(ds.PixelData, "<i2") + 1).astype("<i2").tobytes()
    ds.save_as(tmp_path / "s" / "copy_of_2.dcm")
    with pytest.raises(errors.DuplicatePositionError, match=r"copy_of_2.dcm|slice_2.dcm"):
        load_patient(tmp_path / "s")


def test_several_series_choose_largest_ct_or_by_uid(tmp_path: Path) -> None:
    small, _ = write_series(tmp_path / "p" / "a", count=4, series_uid="1.2.3.100", seed=1)
    big, _ = write_series(tmp_path / "p" / "b", count=7, series_uid="1.2.3.200", seed=2)
    patient = load_patient(tmp_path / "p")
    np.testing.assert_array_equal(patient.hu, big)
    assert any("1.2.3.100" in w for w in patient.warnings)
    chosen = load_patient(tmp_path / "p", series_uid="1.2.3.100")
    np.testing.assert_array_equal(chosen.hu, small)
    with pytest.raises(errors.UnknownSeriesError, match=r"1.2.3.404.*1.2.3.200"):
        load_patient(tmp_path / "p", series_uid="1.2.3.404")


def test_non_dicom_files_are_skipped_silently(tmp_path: Path) -> None:
    hu, _ = write_series(tmp_path / "s")
    (tmp_path / "s" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "s" / "README").write_text("scanner export\n")
    (tmp_path / "s" / "thumb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
    patient = load_patient(tmp_path / "s")
    np.testing.assert_array_equal(patient.hu, hu)
    assert patient.warnings == []


def test_corrupt_files_are_skipped_with_a_warning_naming_each(tmp_path: Path) -> None:
    hu, paths = write_series(tmp_path / "s", count=6)
    data = paths[5].read_bytes()
    paths[5].write_bytes(data[:-100])  # truncated inside the pixel data
    garbage = tmp_path / "s" / "garbage.dcm"
    garbage.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 300)
    patient = load_patient(tmp_path / "s")
    np.testing.assert_array_equal(patient.hu, hu[:5])
    text = " ".join(patient.warnings)
    assert "slice_5.dcm" in text and "garbage.dcm" in text


def test_all_corrupt_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    for i in range(3):
        (folder / f"bad{i}").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 100)
    with pytest.raises(errors.AllFilesCorruptError, match="bad0"):
        load_patient(folder)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(errors.PathMissingError, match="nowhere"):
        load_patient(tmp_path / "nowhere")


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_series(tmp_path / "s")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("s") else real_access(p, mode))
    with pytest.raises(errors.PermissionDeniedError, match="permission denied"):
        load_patient(tmp_path / "s")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "scan").mkdir()
    with pytest.raises(errors.EmptyFolderError, match="scan: folder is empty"):
        load_patient(tmp_path / "scan")


def test_folder_without_dicom(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("hello")
    with pytest.raises(errors.NoDicomError, match=r"docs.*none of the 1 files is DICOM"):
        load_patient(tmp_path / "docs")


def test_missing_pixel_data(tmp_path: Path) -> None:
    _, paths = write_series(tmp_path / "s")
    rewrite(paths[3], PixelData=None)
    with pytest.raises(errors.MissingPixelDataError, match=r"slice_3.dcm"):
        load_patient(tmp_path / "s")


def test_a_slice_of_another_size_is_dropped_with_a_warning_and_no_majority_is_an_error(tmp_path: Path) -> None:
    hu, paths = write_series(tmp_path / "s")
    uid = pydicom.dcmread(paths[0]).SeriesInstanceUID
    odd = ct_slice(np.zeros((8, 8), np.int16), (-10, -20, 30.0), uid)
    odd.save_as(tmp_path / "s" / "odd.dcm", enforce_file_format=True)
    patient = load_patient(tmp_path / "s")
    np.testing.assert_array_equal(patient.hu, hu)
    assert any("another size or orientation" in w and "odd.dcm" in w for w in patient.warnings)
    for k in range(5):  # now as many odd slices as good ones: no majority to trust
        ct_slice(np.zeros((8, 8), np.int16), (-10, -20, 40.0 + k), uid).save_as(
            tmp_path / "s" / f"odd{k}.dcm", enforce_file_format=True
        )
    with pytest.raises(errors.InconsistentGeometryError, match="8×8"):
        load_patient(tmp_path / "s")


def test_compressed_transfer_syntaxes_decode(tmp_path: Path) -> None:
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

    hu, paths = write_series(tmp_path / "s", count=3, shape=(64, 64))
    for path, syntax in zip(paths, [RLELossless, JPEG2000Lossless, JPEGLSLossless], strict=False):
        ds = pydicom.dcmread(path)
        ds.compress(syntax)
        ds.save_as(path)
    patient = load_patient(tmp_path / "s")
    np.testing.assert_array_equal(patient.hu, hu)


def test_jpeg_lossless_process_14_decodes(tmp_path: Path) -> None:
    """The commonest lossless CT compression; encoded here by GDCM (through SimpleITK)."""
    sitk = pytest.importorskip("SimpleITK", reason="SimpleITK (bench extra) encodes the JPEG Lossless test file")
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLosslessSV1

    hu, paths = write_series(tmp_path / "s", count=3, shape=(32, 32))
    ds = pydicom.dcmread(paths[1])
    writer = sitk.ImageFileWriter()
    writer.SetImageIO("GDCMImageIO")
    writer.SetFileName(str(tmp_path / "gdcm.dcm"))
    writer.SetUseCompression(True)
    writer.SetCompressor("JPEG")
    writer.Execute(sitk.GetImageFromArray(ds.pixel_array[None].astype(np.int16)))
    encoded = pydicom.dcmread(tmp_path / "gdcm.dcm")
    assert encoded.file_meta.TransferSyntaxUID == JPEGLosslessSV1
    frames = list(pydicom.encaps.generate_frames(encoded.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.save_as(paths[1], enforce_file_format=True)
    patient = load_patient(tmp_path / "s")
    np.testing.assert_array_equal(patient.hu, hu)


def test_progress_is_reported_and_cancel_stops(tmp_path: Path) -> None:
    write_series(tmp_path / "s", count=10)
    calls: list[tuple[int, int, str]] = []
    load_patient(tmp_path / "s", progress=lambda d, t, s: calls.append((d, t, s)))
    stages = {s for _, _, s in calls}
    assert {"reading headers", "reading pixels"} <= stages
    assert calls[-1][0] == calls[-1][1]
    with pytest.raises(Cancelled):
        load_patient(tmp_path / "s", should_cancel=lambda: True)
