"""What a search asks for and what it finds, the same for QIDO-RS and C-FIND.

Both answer with DICOM attributes (QIDO as DICOM JSON, C-FIND as data sets); :func:`study_match`
and :func:`series_match` read either from a pydicom ``Dataset``. Values are the server's text:
whoever shows them passes them through :mod:`ctseg_core.shown_text`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from ctseg_core.errors import InvalidArgumentError

_DATE = re.compile(r"^\d{8}$")
#: Attributes a study search asks to be returned.
STUDY_FIELDS = (
    "StudyInstanceUID",
    "PatientID",
    "PatientName",
    "StudyDate",
    "StudyDescription",
    "AccessionNumber",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
SERIES_FIELDS = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)


@dataclass(frozen=True)
class Query:
    """Search criteria; empty ones match anything. Dates are ``YYYYMMDD``."""

    patient_id: str = ""
    patient_name: str = ""
    date_from: str = ""
    date_to: str = ""
    modality: str = ""
    accession: str = ""

    @property
    def date_range(self) -> str:
        """DICOM range matching: ``FROM-TO``, ``FROM-``, ``-TO``, or empty."""
        if not (self.date_from or self.date_to):
            return ""
        if self.date_from == self.date_to:
            return self.date_from
        return f"{self.date_from}-{self.date_to}"

    def study_keys(self) -> dict[str, str]:
        """The non-empty matching keys of a study-level search."""
        keys = {
            "PatientID": self.patient_id,
            "PatientName": self.patient_name,
            "StudyDate": self.date_range,
            "AccessionNumber": self.accession,
            "ModalitiesInStudy": self.modality,
        }
        return {key: value for key, value in keys.items() if value}


def parse_date_range(text: str) -> tuple[str, str]:
    """``--date``: ``YYYYMMDD``, ``FROM-TO``, ``FROM-`` or ``-TO`` (dates as ``YYYYMMDD``)."""
    first, dash, last = text.strip().partition("-")
    if not dash:
        last = first
    for part in (first, last):
        if part and not _DATE.match(part):
            raise InvalidArgumentError(text, "dates are YYYYMMDD, a range FROM-TO, FROM- or -TO")
    if not (first or last):
        raise InvalidArgumentError(text, "give at least one date")
    if first and last and first > last:
        raise InvalidArgumentError(text, "the range ends before it starts")
    return first, last


@dataclass(frozen=True)
class StudyMatch:
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    description: str
    accession: str
    modalities: str
    series_count: int | None
    instance_count: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeriesMatch:
    study_uid: str
    series_uid: str
    modality: str
    number: int | None
    description: str
    instance_count: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


def _number(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def study_match(ds: Dataset) -> StudyMatch:
    return StudyMatch(
        study_uid=_text(ds, "StudyInstanceUID"),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        study_date=_text(ds, "StudyDate"),
        description=_text(ds, "StudyDescription"),
        accession=_text(ds, "AccessionNumber"),
        modalities=_text(ds, "ModalitiesInStudy"),
        series_count=_number(ds, "NumberOfStudyRelatedSeries"),
        instance_count=_number(ds, "NumberOfStudyRelatedInstances"),
    )


def series_match(ds: Dataset, study_uid: str) -> SeriesMatch:
    return SeriesMatch(
        study_uid=_text(ds, "StudyInstanceUID") or study_uid,
        series_uid=_text(ds, "SeriesInstanceUID"),
        modality=_text(ds, "Modality"),
        number=_number(ds, "SeriesNumber"),
        description=_text(ds, "SeriesDescription"),
        instance_count=_number(ds, "NumberOfSeriesRelatedInstances"),
    )
