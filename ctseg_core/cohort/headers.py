"""What the index keeps of one DICOM file: a few tags read without the pixels.

The loader's header pass (:func:`ctseg_core.io.dicom.read_header`) reads every tag and finds where
the pixels start, for loading; the index only catalogues, so it asks pydicom for the tags it
stores (``specific_tags``), which skips the parsing of the rest, and never touches pixel data.
"""

from __future__ import annotations

import dataclasses
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from ctseg_core.errors import UnreadableSlice
from ctseg_core.io.dicom import looks_like_dicom
from ctseg_core.io.file_kinds import NON_IMAGE_MODALITIES, DicomIdentity
from ctseg_core.io.sources import DicomSource

#: The tags the index reads (sequences: only where a SEG, a structure set or an Enhanced CT keeps its facts).
INDEX_TAGS = (
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "PatientID",
    "PatientName",
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "ImageType",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "InstanceNumber",
    "SharedFunctionalGroupsSequence",
    "ReferencedSeriesSequence",
    "ReferencedFrameOfReferenceSequence",
    "SegmentSequence",
    "StructureSetROISequence",
)
_READ_ERRORS = (
    InvalidDicomError,
    OSError,
    EOFError,
    ValueError,
    struct.error,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    zipfile.BadZipFile,
    zlib.error,
    RecursionError,
    OverflowError,
)


@dataclass(frozen=True)
class InstanceRecord:
    """One DICOM file (or zip member) as the index sees it."""

    entry: str
    sop_uid: str
    sop_class_uid: str
    modality: str
    patient_id: str
    patient_name: str
    study_uid: str
    study_date: str
    study_description: str
    series_uid: str
    series_number: int | None
    series_description: str
    image_type: tuple[str, ...]
    rows: int
    columns: int
    frames: int
    #: ImagePositionPatient (3 values), ImageOrientationPatient (6), PixelSpacing (2)
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    instance_number: int | None
    #: SEG and RTSTRUCT: the series they are drawn on
    referenced_series: tuple[str, ...] = ()
    #: SEG segment labels, RTSTRUCT ROI names
    labels: tuple[str, ...] = ()
    #: a SEG whose every segment a program made (SegmentAlgorithmType AUTOMATIC)
    automatic: bool = False

    @property
    def is_image(self) -> bool:
        """An image to look at, as the discovery rule counts one (not a SEG, a structure set, a report)."""
        return self.rows > 0 and self.columns > 0 and self.modality.upper() not in NON_IMAGE_MODALITIES

    @property
    def identity(self) -> DicomIdentity | None:
        """What :func:`ctseg_core.io.file_kinds.dicom_identity` says of the same file."""
        return DicomIdentity(self.patient_id, self.study_uid, self.sop_uid) if self.is_image else None


def read_instance(
    entry: str, source: DicomSource | None = None, series_seen: dict[str, InstanceRecord] | None = None
) -> InstanceRecord | None:
    """The index's record of one file (or a ``source``'s entry); None when it is no DICOM;
    :class:`UnreadableSlice` when corrupt.

    ``series_seen``: the first image record of each series read so far (filled here). The tags a
    series shares (patient, study, series, description, modality) are then taken from it, and only
    the image's own are converted: converting tag values costs as much as reading the file.
    """
    name = source.display_name(entry) if source is not None else entry
    try:
        with source.open(entry) if source is not None else open(entry, "rb") as handle:
            if not looks_like_dicom(handle.read(132)):
                return None
            handle.seek(0)
            ds = pydicom.dcmread(handle, stop_before_pixels=True, force=True, specific_tags=list(INDEX_TAGS))
        seen = series_seen.get(_ascii(ds, _SERIES_UID)) if series_seen is not None else None
        record = _image_of_series(entry, ds, seen) if seen is not None else _record(entry, ds)
    except PermissionError as error:
        raise UnreadableSlice(name, "permission denied") from error
    except _READ_ERRORS as error:
        raise UnreadableSlice(name, f"not readable as DICOM ({error.__class__.__name__}: {error})") from error
    if not record.sop_class_uid and not record.rows:  # the loader's rule (io.dicom.read_header)
        raise UnreadableSlice(name, "no SOP Class UID and no image: not readable as DICOM")
    if series_seen is not None and record.is_image:
        series_seen.setdefault(record.series_uid, record)
    return record


def _record(entry: str, ds: pydicom.Dataset) -> InstanceRecord:
    """The record of a dataset read with :data:`INDEX_TAGS` (the first image of its series, or no image)."""
    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    measures = _first(shared.get("PixelMeasuresSequence")) if shared is not None else None
    plane = _first(shared.get("PlaneOrientationSequence")) if shared is not None else None
    image = _image_of_series(entry, ds, _NOTHING_SEEN)
    segments = list(ds.get("SegmentSequence") or [])
    return dataclasses.replace(
        image,
        sop_class_uid=_ascii(ds, 0x00080016),
        modality=_ascii(ds, 0x00080060).upper(),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        study_uid=_ascii(ds, 0x0020000D),
        study_date=_ascii(ds, 0x00080020),
        study_description=_text(ds, "StudyDescription"),
        series_uid=_ascii(ds, _SERIES_UID),
        series_number=_integer((_numbers(ds, 0x00200011, 1) or (None,))[0]),
        series_description=_text(ds, "SeriesDescription"),
        orientation=image.orientation or _floats(_get(plane, "ImageOrientationPatient"), 6),
        pixel_spacing=image.pixel_spacing or _floats(_get(measures, "PixelSpacing"), 2),
        slice_thickness=_single(ds, 0x00180050) or _number(_get(measures, "SliceThickness")),
        spacing_between_slices=_single(ds, 0x00180088) or _number(_get(measures, "SpacingBetweenSlices")),
        referenced_series=_referenced_series(ds),
        labels=tuple(str(s.get("SegmentLabel", "") or "") for s in segments) + _roi_names(ds),
        automatic=bool(segments) and all(str(s.get("SegmentAlgorithmType", "")) == "AUTOMATIC" for s in segments),
    )


def _single(ds: pydicom.Dataset, tag: int) -> float | None:
    """One DS or IS number, or None."""
    found = _numbers(ds, tag, 1)
    return found[0] if found else None


#: The series facts of an image whose series is not known yet (all filled in by :func:`_record`).
_NOTHING_SEEN = InstanceRecord(
    entry="",
    sop_uid="",
    sop_class_uid="",
    modality="",
    patient_id="",
    patient_name="",
    study_uid="",
    study_date="",
    study_description="",
    series_uid="",
    series_number=None,
    series_description="",
    image_type=(),
    rows=0,
    columns=0,
    frames=1,
    position=None,
    orientation=None,
    pixel_spacing=None,
    slice_thickness=None,
    spacing_between_slices=None,
    instance_number=None,
)


def _image_of_series(entry: str, ds: pydicom.Dataset, seen: InstanceRecord) -> InstanceRecord:
    """Another image of a series already seen: its own tags converted, the series' copied."""
    return dataclasses.replace(
        seen,
        entry=entry,
        sop_uid=_ascii(ds, _SOP_INSTANCE_UID),
        image_type=tuple(v.upper() for v in _ascii(ds, _IMAGE_TYPE).split("\\") if v),
        rows=_unsigned(ds, _ROWS),
        columns=_unsigned(ds, _COLUMNS),
        frames=max(1, int((_numbers(ds, _NUMBER_OF_FRAMES, 1) or (1.0,))[0])),
        position=_numbers(ds, _POSITION, 3),
        orientation=_numbers(ds, _ORIENTATION, 6) or seen.orientation,
        pixel_spacing=_numbers(ds, _PIXEL_SPACING, 2) or seen.pixel_spacing,
        instance_number=_integer((_numbers(ds, _INSTANCE_NUMBER, 1) or (None,))[0]),
    )


# Tags read on every image, decoded from their raw bytes: UI, CS, IS and DS values are ASCII and US
# a number, so no character set applies, and pydicom's conversion (objects, validation) costs as
# much as reading the file. Anything unexpected falls back to pydicom's own conversion.
_SOP_INSTANCE_UID, _IMAGE_TYPE, _SERIES_UID = 0x00080018, 0x00080008, 0x0020000E
_ROWS, _COLUMNS, _NUMBER_OF_FRAMES = 0x00280010, 0x00280011, 0x00280008
_POSITION, _ORIENTATION, _PIXEL_SPACING, _INSTANCE_NUMBER = 0x00200032, 0x00200037, 0x00280030, 0x00200013


def _raw_bytes(ds: pydicom.Dataset, tag: int) -> bytes | None:
    """The value bytes of an element not converted yet; None when absent or already converted."""
    element = ds.get_item(tag)
    return element.value if isinstance(element, RawDataElement) and isinstance(element.value, bytes) else None


def _ascii(ds: pydicom.Dataset, tag: int) -> str:
    """An ASCII value (UI, CS: several joined by a backslash, as stored)."""
    raw = _raw_bytes(ds, tag)
    if raw is not None:
        return raw.decode("ascii", "replace").strip(" \0")
    value = _value(ds, tag)
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value or "").strip()


def _value(ds: pydicom.Dataset, tag: int) -> Any:
    """A tag's value as pydicom converts it, None when absent."""
    element = ds.get(tag)
    return None if element is None else element.value


def _numbers(ds: pydicom.Dataset, tag: int, count: int) -> tuple[float, ...] | None:
    """``count`` numbers of an IS or DS tag, or None when absent or malformed."""
    raw = _raw_bytes(ds, tag)
    if raw is None:
        value = _value(ds, tag)
        return _floats([value] if count == 1 and value is not None else value, count)
    try:
        values = tuple(float(part) for part in raw.split(b"\\"))
    except ValueError:
        return None
    return values if len(values) == count else None


def _unsigned(ds: pydicom.Dataset, tag: int) -> int:
    """A US value (Rows, Columns), 0 when absent."""
    element = ds.get_item(tag)
    if isinstance(element, RawDataElement) and isinstance(element.value, bytes) and len(element.value) == 2:
        return int.from_bytes(element.value, "little" if element.is_little_endian else "big")
    return _integer(_value(ds, tag)) or 0


def _referenced_series(ds: pydicom.Dataset) -> tuple[str, ...]:
    """The series a SEG (ReferencedSeriesSequence) or a structure set (through its frame of reference) is on."""
    found = [_text(item, "SeriesInstanceUID") for item in ds.get("ReferencedSeriesSequence") or []]
    for frame in ds.get("ReferencedFrameOfReferenceSequence") or []:
        for study in frame.get("RTReferencedStudySequence") or []:
            found += [_text(s, "SeriesInstanceUID") for s in study.get("RTReferencedSeriesSequence") or []]
    return tuple(dict.fromkeys(uid for uid in found if uid))


def _roi_names(ds: pydicom.Dataset) -> tuple[str, ...]:
    return tuple(str(roi.get("ROIName", "") or "") for roi in ds.get("StructureSetROISequence") or [])


def _first(sequence: Any) -> pydicom.Dataset | None:
    try:
        return sequence[0] if sequence else None
    except (TypeError, IndexError):
        return None


def _get(item: pydicom.Dataset | None, keyword: str) -> Any:
    return item.get(keyword) if item is not None else None


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    """``count`` numbers of a multi-valued tag, or None when absent or malformed."""
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return values if len(values) == count else None
