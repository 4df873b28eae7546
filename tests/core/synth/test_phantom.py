"""Synthetic phantom: determinism, DICOM round trip with plain pydicom, tags and HU plausibility."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from ctseg_core.errors import Cancelled
from ctseg_core.synth.phantom import MASK_NAMES, PhantomVolume, make_phantom, write_phantom


@pytest.fixture(scope="module")
def volume() -> PhantomVolume:
    """A full-length phantom at reduced in-plane size, shared by the read-only checks."""
    return make_phantom(seed=0, slices=64, size=256)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("phantom") / "seed3", seed=3, slices=12, size=256)


def _read_series(folder: Path) -> list[pydicom.Dataset]:
    files = sorted(folder.iterdir(), key=lambda f: int(f.name.split("_")[1]))
    return [pydicom.dcmread(f) for f in files]


@pytest.mark.slow
def test_same_seed_is_identical_and_seeds_differ() -> None:
    a, b, c = make_phantom(5, 16, 256), make_phantom(5, 16, 256), make_phantom(6, 16, 256)
    assert a.hu.dtype == np.int16 and a.hu.shape == (16, 256, 256)
    assert a.hu.tobytes() == b.hu.tobytes()
    for name in MASK_NAMES:
        assert a.masks[name].dtype == bool
        assert np.array_equal(a.masks[name], b.masks[name])
    assert (a.spacing_mm, a.origin_mm) == (b.spacing_mm, b.origin_mm)
    assert not np.array_equal(a.hu, c.hu)
    assert not np.array_equal(a.masks["liver"], c.masks["liver"])


def test_layout_and_file_format(written: Path) -> None:
    for sub in ["PATIENT_DICOM", *(f"MASKS_DICOM/{name}" for name in MASK_NAMES)]:
        names = sorted(p.name for p in (written / sub).iterdir())
        assert names == sorted(f"image_{k}" for k in range(12)), sub
    raw = (written / "PATIENT_DICOM" / "image_0").read_bytes()
    assert raw[128:132] == b"DICM"
    ds = pydicom.dcmread(written / "PATIENT_DICOM" / "image_0")
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.SOPClassUID == CTImageStorage == ds.file_meta.MediaStorageSOPClassUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (256, 256, 16, 16, 15)
    assert ds.PixelRepresentation == 1
    assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, -1024.0)
    assert (float(ds.WindowCenter), float(ds.WindowWidth)) == (40.0, 400.0)
    assert "SpacingBetweenSlices" not in ds
    mask = pydicom.dcmread(written / "MASKS_DICOM" / "liver" / "image_0")
    assert (mask.BitsAllocated, mask.PixelRepresentation) == (8, 0)


def test_pixels_round_trip_through_plain_pydicom(written: Path) -> None:
    vol = make_phantom(seed=3, slices=12, size=256)
    for k, ds in enumerate(_read_series(written / "PATIENT_DICOM")):
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_array_equal(hu, vol.hu[k])
    for name in MASK_NAMES:
        for k, ds in enumerate(_read_series(written / "MASKS_DICOM" / name)):
            px = ds.pixel_array
            assert set(np.unique(px)) <= {0, 255}
            np.testing.assert_array_equal(px == 255, vol.masks[name][k])
    assert vol.masks["liver"].any() and vol.masks["livertumor"].any()


def test_tags_geometry_and_uids(written: Path) -> None:
    vol = make_phantom(seed=3, slices=12, size=256)
    ct = _read_series(written / "PATIENT_DICOM")
    masks = {name: _read_series(written / "MASKS_DICOM" / name) for name in MASK_NAMES}
    everything = ct + [ds for series in masks.values() for ds in series]
    dz, dy, dx = vol.spacing_mm
    fov = dx * 256
    for k, ds in enumerate(ct):
        assert ds.InstanceNumber == k + 1
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        assert x == pytest.approx(-fov / 2, abs=0.01) and y == pytest.approx(-fov / 2, abs=0.01)
        assert z == pytest.approx(vol.origin_mm[2] + k * dz, abs=1e-3)
        assert [float(v) for v in ds.PixelSpacing] == [dy, dx]
        assert float(ds.SliceThickness) == dz
    assert dz in (1.5, 2.0, 2.5) and 0.65 * 2 <= dx <= 0.85 * 2
    zs = [float(ds.ImagePositionPatient[2]) for ds in ct]
    assert all(b > a for a, b in itertools.pairwise(zs))
    for name, series in masks.items():
        for a, b in zip(ct, series, strict=False):
            assert a.ImagePositionPatient == b.ImagePositionPatient and a.PixelSpacing == b.PixelSpacing
        assert "SYNTHETIC" in series[0].SeriesDescription and name in series[0].SeriesDescription
    for ds in everything:
        assert str(ds.PatientName) == "Phantom^3" and ds.PatientID == "PHANTOM-3"
        assert ds.Modality == "CT" and "SYNTHETIC" in ds.SeriesDescription
    assert len({ds.FrameOfReferenceUID for ds in everything}) == 1
    assert len({ds.StudyInstanceUID for ds in everything}) == 1
    assert len({ds.SeriesInstanceUID for ds in everything}) == 1 + len(MASK_NAMES)
    assert len({ds.SOPInstanceUID for ds in everything}) == len(everything)


def test_uids_are_deterministic(tmp_path: Path, written: Path) -> None:
    again = write_phantom(tmp_path / "again", seed=3, slices=12, size=256)
    for sub in ("PATIENT_DICOM/image_5", "MASKS_DICOM/spleen/image_5"):
        assert (again / sub).read_bytes() == (written / sub).read_bytes()


@pytest.mark.slow
def test_hu_values_are_plausible(volume: PhantomVolume) -> None:
    hu, liver = volume.hu, volume.masks["liver"]
    size = hu.shape[1]
    assert 50 <= hu[liver].mean() <= 120
    corners = np.concatenate([hu[:, :12, :12].ravel(), hu[:, :12, -12:].ravel()])
    assert abs(corners.mean() + 1000) <= 30
    assert (hu >= 400).sum() > 100  # bone
    tumour = volume.masks["livertumor"]
    assert tumour.any() and not (tumour & ~liver).any()
    assert hu[tumour].mean() < hu[liver & ~tumour].mean()
    _, rows, cols = np.nonzero(liver)
    assert cols.mean() < size / 2  # patient right is image left
    assert rows.mean() < 0.6 * size  # anterior half, give or take


def test_subcutaneous_fat_ring(volume: PhantomVolume) -> None:
    """Sample 4-8 mm inside the skin on rows through the body centre, on both flanks."""
    d = volume.spacing_mm[2]
    k, size = volume.hu.shape[0] // 2, volume.hu.shape[1]
    samples = []
    for row in volume.hu[k, size // 2 - 8 : size // 2 + 8]:
        body = np.nonzero(row > -500)[0]
        lo, hi = int(np.ceil(4 / d)), int(np.floor(8 / d)) + 1
        samples += [row[body[0] + lo : body[0] + hi], row[body[-1] - hi + 1 : body[-1] - lo + 1]]
    assert abs(np.concatenate(samples).mean() + 100) <= 40


def test_liver_is_present_and_changes_along_z(volume: PhantomVolume) -> None:
    area = volume.masks["liver"].sum(axis=(1, 2))
    assert (area > 0).mean() >= 0.6
    assert area[30] != area[40]
    assert volume.masks["spleen"].any()
    short = make_phantom(seed=0, slices=8, size=256)
    assert short.masks["liver"][3].any() and short.masks["liver"][4].any()


@pytest.mark.parametrize("seed", [0, 5, 31337])
@pytest.mark.slow
def test_liver_label_has_image_evidence(seed: int) -> None:
    """The IVC stands out from the liver and lies in a groove, so the mask has no invisible holes.

    An IVC at parenchyma HU, wrapped by the liver, once put up to 5 % of the liver mask in
    holes that nothing in the image shows; no model can learn such a label.
    """
    from ctseg_core.model.postprocess import fill_holes
    from ctseg_core.synth.anatomy import draw_patient

    patient = draw_patient(seed)
    assert abs(patient.ivc[4] - patient.liver.hu) >= 10.0
    liver = make_phantom(seed=seed, slices=64, size=256).masks["liver"]
    holes = fill_holes(liver) & ~liver
    assert holes.sum() < 0.01 * liver.sum()


def test_refuses_existing_patient_folder(written: Path) -> None:
    before = (written / "PATIENT_DICOM" / "image_0").read_bytes()
    with pytest.raises(FileExistsError, match="seed3"):
        write_phantom(written, seed=4, slices=2, size=256)
    assert (written / "PATIENT_DICOM" / "image_0").read_bytes() == before


def test_single_slice(tmp_path: Path) -> None:
    out = write_phantom(tmp_path / "one", seed=1, slices=1, size=256)
    ds = pydicom.dcmread(out / "PATIENT_DICOM" / "image_0")
    assert ds.InstanceNumber == 1
    liver = pydicom.dcmread(out / "MASKS_DICOM" / "liver" / "image_0").pixel_array
    assert (liver == 255).any()


def test_sizes_keep_the_field_of_view() -> None:
    small, large = make_phantom(2, 2, 256), make_phantom(2, 2, 512)
    assert small.hu.shape == (2, 256, 256) and large.hu.shape == (2, 512, 512)
    assert small.spacing_mm[2] * 256 == pytest.approx(large.spacing_mm[2] * 512, rel=1e-3)
    assert 0.65 <= large.spacing_mm[2] <= 0.85
    assert make_phantom(2, 1, 768).hu.shape == (1, 768, 768)


def test_progress_and_cancel(tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    write_phantom(tmp_path / "p", seed=0, slices=3, size=256, progress=lambda d, t, s: calls.append((d, t, s)))
    assert calls[-1][:2] == (3, 3) and {c[2] for c in calls} == {"generating phantom", "writing DICOM"}
    polls = iter(range(100))
    with pytest.raises(Cancelled):
        write_phantom(tmp_path / "c", seed=0, slices=3, size=256, should_cancel=lambda: next(polls) >= 4)
    assert not (tmp_path / "c").exists()


def test_rejects_empty_volume() -> None:
    with pytest.raises(ValueError, match="slices >= 1"):
        make_phantom(slices=0)
