"""Small hand-made DICOM series for edge cases the phantom does not cover."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def ct_slice(
    pixels: np.ndarray,
    position: Sequence[float] | None,
    series_uid: str,
    instance: int | None = 1,
    orientation: Sequence[float] | None = (1, 0, 0, 0, 1, 0),
    spacing: Sequence[float] = (0.8, 0.8),
    slope: float = 1.0,
    intercept: float = -1024.0,
    thickness: float | None = 2.5,
    modality: str = "CT",
) -> Dataset:
    """One CT slice dataset; pixels are stored values (HU = stored × slope + intercept)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName = "Test^Patient"
    ds.PatientID = "T1"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = "1.2.3.5"
    ds.SeriesDescription = "factory"
    if instance is not None:
        ds.InstanceNumber = instance
    if position is not None:
        ds.ImagePositionPatient = [float(v) for v in position]
    if orientation is not None:
        ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(v) for v in spacing]
    if thickness is not None:
        ds.SliceThickness = thickness
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    ds.PixelData = pixels.astype("<i2" if pixels.dtype == np.int16 else "<u2").tobytes()
    return ds


def write_series(
    folder: Path,
    count: int = 6,
    shape: tuple[int, int] = (16, 20),
    z_positions: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
    series_uid: str | None = None,
    seed: int = 0,
    **slice_kwargs: object,
) -> tuple[np.ndarray, list[Path]]:
    """Write a series; returns the HU volume in position order and the file paths (in K order)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    series_uid = series_uid or generate_uid()
    z_positions = list(z_positions) if z_positions is not None else [2.5 * k for k in range(count)]
    stored = rng.integers(0, 2000, size=(len(z_positions), *shape)).astype(np.int16)
    paths = []
    for k, z in enumerate(z_positions):
        ds = ct_slice(stored[k], (-10.0, -20.0, z), series_uid, instance=k + 1, **slice_kwargs)  # type: ignore[arg-type]
        path = folder / (names[k] if names else f"slice_{k}.dcm")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    order = np.argsort(np.asarray(z_positions), kind="stable")
    slope = float(slice_kwargs.get("slope", 1.0))  # type: ignore[arg-type]
    intercept = float(slice_kwargs.get("intercept", -1024.0))  # type: ignore[arg-type]
    hu = np.rint(stored[order].astype(np.float64) * slope + intercept).astype(np.int16)
    return hu, paths


def rewrite(path: Path, **changes: object) -> None:
    """Change (or with value None, delete) tags of a written slice."""
    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
