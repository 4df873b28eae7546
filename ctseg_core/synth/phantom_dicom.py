"""The phantom's files: a CT series and one 8-bit mask series per organ, in the 3D-IRCADb-01 layout.

Why: the phantom must load through the same DICOM path as a real patient. Its UIDs are derived
from the seed and shape, so writing the same phantom twice gives the same files; the CT is
stored as scanners store it (HU + 1024, RescaleIntercept -1024), the masks as 0/255.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, generate_uid

from ctseg_core.io.dicom_build import ImagePlane, Rescale, SeriesIds, image_dataset
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

_STORE_OFFSET = 1024  # stored value = HU + 1024, RescaleIntercept -1024, as scanners do


class PhantomLike(Protocol):
    """What the writer needs of a phantom (:class:`ctseg_core.synth.phantom.PhantomVolume`)."""

    hu: np.ndarray
    masks: dict[str, np.ndarray]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    seed: int


def write_ircad_folders(
    out: Path,
    vol: PhantomLike,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> None:
    """Write ``out/PATIENT_DICOM`` and ``out/MASKS_DICOM/<organ>``; on failure or cancel, remove what it created."""
    patient_dir = out / "PATIENT_DICOM"
    folders = {"ct": patient_dir} | {name: out / "MASKS_DICOM" / name for name in vol.masks}
    created = [d for d in (out, out / "MASKS_DICOM", *folders.values()) if not d.exists()]
    slices = vol.hu.shape[0]
    try:
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=folder != patient_dir)
        for k in range(slices):
            raise_if_cancelled(should_cancel)
            _write_ct_slice(patient_dir, vol, k)
            for number, name in enumerate(vol.masks, start=2):
                _write_mask_slice(folders[name], vol, name, number, k)
            if progress is not None:
                progress(k + 1, slices, "writing DICOM")
    except BaseException:
        for d in created:
            shutil.rmtree(d, ignore_errors=True)
        raise


def _write_ct_slice(folder: Path, vol: PhantomLike, k: int) -> None:
    pixels = (vol.hu[k] + _STORE_OFFSET).astype(np.int16)
    ds = _slice_dataset(vol, "ct", k, pixels, Rescale(-_STORE_OFFSET, 1, "HU"))
    _set_series_tags(ds, vol, 1, f"SYNTHETIC phantom CT seed {vol.seed}", mask=False)
    dcmwrite(folder / f"image_{k}", ds, enforce_file_format=True)


def _write_mask_slice(folder: Path, vol: PhantomLike, name: str, number: int, k: int) -> None:
    pixels = vol.masks[name][k].astype(np.uint8) * 255
    ds = _slice_dataset(vol, name, k, pixels, Rescale(0, 1, "US"))
    _set_series_tags(ds, vol, number, f"SYNTHETIC phantom {name} mask seed {vol.seed}", mask=True)
    dcmwrite(folder / f"image_{k}", ds, enforce_file_format=True)


def _uid(vol: PhantomLike, *parts: object) -> str:
    """Deterministic UID: same seed and shape give the same UIDs on every run."""
    shape = "x".join(str(n) for n in vol.hu.shape)
    return generate_uid(entropy_srcs=["ctseg-phantom", str(vol.seed), shape, *map(str, parts)])


def _slice_dataset(vol: PhantomLike, series: str, k: int, pixels: np.ndarray, rescale: Rescale) -> Dataset:
    """Slice ``k`` of one series (CT Image Storage for the masks too, as IRCAD stores them)."""
    x0, y0, z0 = vol.origin_mm
    z = round(z0 + k * vol.spacing_mm[0], 3)
    ids = SeriesIds(
        patient_name=f"Phantom^{vol.seed}",
        patient_id=f"PHANTOM-{vol.seed}",
        study_uid=_uid(vol, "study"),
        series_uid=_uid(vol, "series", series),
        frame_of_reference_uid=_uid(vol, "frame"),
    )
    plane = ImagePlane(
        position=[x0, y0, z],
        orientation=[1, 0, 0, 0, 1, 0],
        pixel_spacing=[vol.spacing_mm[1], vol.spacing_mm[2]],
        thickness=vol.spacing_mm[0],
    )
    instance_uid = _uid(vol, "instance", series, k)
    return image_dataset(
        CTImageStorage,
        ids,
        "CT",
        pixels,
        instance_uid=instance_uid,
        instance_number=k + 1,
        plane=plane,
        rescale=rescale,
        SliceLocation=z,
    )


def _set_series_tags(ds: Dataset, vol: PhantomLike, number: int, description: str, mask: bool) -> None:
    """The tags a scanner writes the same on every slice of a series (dates, protocol, window)."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"] if mask else ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20000101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = ""
    ds.Manufacturer = "ctseg synthetic phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "SYNTHETIC abdominal CT phantom"
    ds.SeriesDescription = description
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.BodyPartExamined = "ABDOMEN"
    ds.KVP = 120
    ds.PatientPosition = "HFS"
    ds.StudyID = "1"
    ds.SeriesNumber = number
    ds.AcquisitionNumber = 1
    ds.PositionReferenceIndicator = ""
    ds.WindowCenter, ds.WindowWidth = (128, 256) if mask else (40, 400)
