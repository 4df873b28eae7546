"""What the index keeps of one DICOM file: a few tags read without the pixels.

The loader's header pass (:func:`ctseg_core.io.dicom.read_header`) reads every tag and finds where
the pixels start, for loading; the index only catalogues, so it asks pydicom for the tags it
stores (``specific_tags``), which skips the parsing of the rest, and never touches pixel data.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

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
    position: tuple[float, float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    pixel_spacing: tuple[float, float] | None
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


def read_instance(entry: str, source: DicomSource | None = None) -> InstanceRecord | None:
    """The index's record of one file (or a ``source``'s entry); None when it is no DICOM;
    :class:`UnreadableSlice` when corrupt."""
    name = source.display_name(entry) if source is not None else entry
    try:
        with source.open(entry) if source is not None else open(entry, "rb") as handle:
            if not looks_like_dicom(handle.read(132)):
                return None
            handle.seek(0)
            ds = pydicom.dcmread(handle, stop_before_pixels=True, force=True, specific_tags=list(INDEX_TAGS))
        record = _record(entry, ds)
    except PermissionError as error:
        raise UnreadableSlice(name, "permission denied") from error
    except _READ_ERRORS as error:
        raise UnreadableSlice(name, f"not readable as DICOM ({error.__class__.__name__}: {error})") from error
    if not record.sop_class_uid and not record.rows:  # the loader's rule (io.dicom.read_header)
        raise UnreadableSlice(name, "no SOP Class UID and no image: not readable as DICOM")
    return record


def _record(entry: str, ds: pydicom.Dataset) -> InstanceRecord:
    """The record of a dataset read with :data:`INDEX_TAGS`."""
    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    measures = _first(shared.get("PixelMeasuresSequence")) if shared is not None else None
    plane = _first(shared.get("PlaneOrientationSequence")) if shared is not None else None
    spacing = _floats(ds.get("PixelSpacing"), 2) or _floats(_get(measures, "PixelSpacing"), 2)
    orientation = _floats(ds.get("ImageOrientationPatient"), 6) or _floats(_get(plane, "ImageOrientationPatient"), 6)
    thickness = _number(ds.get("SliceThickness")) or _number(_get(measures, "SliceThickness"))
    between = _number(ds.get("SpacingBetweenSlices")) or _number(_get(measures, "SpacingBetweenSlices"))
    image_type = ds.get("ImageType") or ()
    segments = list(ds.get("SegmentSequence") or [])
    return InstanceRecord(
        entry=entry,
        sop_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        modality=_text(ds, "Modality").upper(),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        study_uid=_text(ds, "StudyInstanceUID"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_integer(ds.get("SeriesNumber")),
        series_description=_text(ds, "SeriesDescription"),
        image_type=tuple(str(v).upper() for v in ([image_type] if isinstance(image_type, str) else image_type)),
        rows=_integer(ds.get("Rows")) or 0,
        columns=_integer(ds.get("Columns")) or 0,
        frames=max(1, _integer(ds.get("NumberOfFrames")) or 1),
        position=_floats(ds.get("ImagePositionPatient"), 3),  # type: ignore[arg-type]  # 3 values when not None
        orientation=orientation,  # type: ignore[arg-type]  # 6 values when not None
        pixel_spacing=spacing,  # type: ignore[arg-type]  # 2 values when not None
        slice_thickness=thickness,
        spacing_between_slices=between,
        instance_number=_integer(ds.get("InstanceNumber")),
        referenced_series=_referenced_series(ds),
        labels=tuple(str(s.get("SegmentLabel", "") or "") for s in segments) + _roi_names(ds),
        automatic=bool(segments) and all(str(s.get("SegmentAlgorithmType", "")) == "AUTOMATIC" for s in segments),
    )


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
