"""One builder for the DICOM image datasets ctseg writes: CT slices, mask slices, multi-frame CT.

Why: the phantom, the orientation test variants and the mask writer all need the same modules
(file meta, SOP common, patient/study/series identity, image plane, image pixel, rescale); built
in one place, the tags they share have one form and one byte order. Callers add what is theirs
(dates, window, references, functional groups) as keyword attributes or on the returned dataset.
Values are stored as given (``[1, 0, 0, 0, 1, 0]`` stays integers, floats stay floats), so a
caller decides how each number is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid


@dataclass(frozen=True)
class SeriesIds:
    """What ties one file to its patient, study, series and frame of reference."""

    patient_name: str
    patient_id: str
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str


@dataclass(frozen=True)
class ImagePlane:
    """Where one slice lies (DICOM's image plane module, LPS mm)."""

    position: Sequence[float]  # ImagePositionPatient: the centre of the first pixel
    orientation: Sequence[float]  # ImageOrientationPatient: row cosines, then column cosines
    pixel_spacing: Sequence[float]  # PixelSpacing: [between rows, between columns]
    thickness: float | None = None  # SliceThickness, left out when None


@dataclass(frozen=True)
class Rescale:
    """Stored value → output value (HU for CT): ``slope × stored + intercept``."""

    intercept: float
    slope: float = 1
    kind: str | None = None  # RescaleType ("HU", "US"), left out when None


def image_dataset(
    sop_class_uid: str,
    ids: SeriesIds,
    modality: str,
    pixels: np.ndarray,
    *,
    instance_uid: str | None = None,
    instance_number: int | None = None,
    plane: ImagePlane | None = None,
    rescale: Rescale | None = None,
    **attributes: object,
) -> Dataset:
    """An image dataset with file meta (Explicit VR Little Endian), ready for ``dcmwrite``.

    ``pixels`` is one frame (rows, columns) or several (frames, rows, columns, which sets
    NumberOfFrames); its dtype sets the bits (int16: 16 bits signed, uint8: 8 bits unsigned).
    ``instance_uid`` defaults to a new UID. ``attributes`` are further tags by DICOM keyword.
    """
    uid = UID(instance_uid or generate_uid())
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class_uid, uid)
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = uid
    ds.Modality = modality
    _set_identity(ds, ids)
    if instance_number is not None:
        ds.InstanceNumber = instance_number
    if plane is not None:
        _set_plane(ds, plane)
    _set_pixels(ds, pixels)
    if rescale is not None:
        _set_rescale(ds, rescale)
    for keyword, value in attributes.items():
        if tag_for_keyword(keyword) is None:
            raise KeyError(f"{keyword!r} is not a DICOM keyword")
        setattr(ds, keyword, value)
    return ds


def _file_meta(sop_class_uid: str, instance_uid: UID) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def _set_identity(ds: Dataset, ids: SeriesIds) -> None:
    ds.PatientName = ids.patient_name
    ds.PatientID = ids.patient_id
    ds.StudyInstanceUID = ids.study_uid
    ds.SeriesInstanceUID = ids.series_uid
    ds.FrameOfReferenceUID = ids.frame_of_reference_uid


def _set_plane(ds: Dataset, plane: ImagePlane) -> None:
    ds.ImagePositionPatient = list(plane.position)
    ds.ImageOrientationPatient = list(plane.orientation)
    ds.PixelSpacing = list(plane.pixel_spacing)
    if plane.thickness is not None:
        ds.SliceThickness = plane.thickness


def _set_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    """Image pixel module: monochrome, bits from the dtype, little-endian PixelData."""
    if pixels.ndim not in (2, 3) or pixels.dtype.kind not in "iu":
        raise ValueError(f"pixels must be 2D or 3D integers, got {pixels.ndim}D {pixels.dtype}")
    bits = pixels.dtype.itemsize * 8
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()


def _set_rescale(ds: Dataset, rescale: Rescale) -> None:
    ds.RescaleIntercept = rescale.intercept
    ds.RescaleSlope = rescale.slope
    if rescale.kind is not None:
        ds.RescaleType = rescale.kind
