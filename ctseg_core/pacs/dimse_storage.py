"""Receiving C-STORE requests, the same for a C-GET, a C-MOVE's destination and the receiving node.

A request becomes an :class:`~ctseg_core.pacs.archive.Instance` (the bytes as they came, ready to
write) once its UIDs check out; a data set that does not decode, or whose UIDs are not UIDs, is
refused with a DIMSE failure status and never written.
"""

from __future__ import annotations

from typing import Any

from pydicom.uid import (
    ComprehensiveSRStorage,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    EncapsulatedPDFStorage,
    EnhancedCTImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    EnhancedSRStorage,
    LegacyConvertedEnhancedCTImageStorage,
    MRImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
    RTDoseStorage,
    RTStructureSetStorage,
    SecondaryCaptureImageStorage,
    SegmentationStorage,
    UltrasoundImageStorage,
    XRayAngiographicImageStorage,
)
from pynetdicom import ALL_TRANSFER_SYNTAXES
from pynetdicom.presentation import PresentationContext, build_context

from ctseg_core.pacs.archive import Instance
from ctseg_core.pacs.store import is_uid

#: DIMSE status codes a storage SCP answers with.
SUCCESS, OUT_OF_RESOURCES, CANNOT_UNDERSTAND, PROCESSING_FAILURE = 0x0000, 0xA700, 0xC210, 0xC211
#: The storage classes a C-GET asks to receive (a request holds at most 128 contexts).
RETRIEVED_CLASSES = (
    CTImageStorage,
    EnhancedCTImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    MRImageStorage,
    EnhancedMRImageStorage,
    SegmentationStorage,
    RTStructureSetStorage,
    RTDoseStorage,
    SecondaryCaptureImageStorage,
    PositronEmissionTomographyImageStorage,
    EnhancedPETImageStorage,
    NuclearMedicineImageStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    UltrasoundImageStorage,
    XRayAngiographicImageStorage,
    EnhancedSRStorage,
    ComprehensiveSRStorage,
    EncapsulatedPDFStorage,
)


def retrieved_contexts() -> list[PresentationContext]:
    return [build_context(uid, ALL_TRANSFER_SYNTAXES) for uid in RETRIEVED_CLASSES]


class RefusedInstance(Exception):
    """A C-STORE request ctseg will not write: its status and why."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def received_instance(event: Any) -> Instance:
    """The instance an ``EVT_C_STORE`` carries; :class:`RefusedInstance` when it is malformed."""
    sop_uid = str(event.request.AffectedSOPInstanceUID or "")
    try:
        dataset = event.dataset
        study_uid = dataset.get("StudyInstanceUID", "")
        series_uid = dataset.get("SeriesInstanceUID", "")
        declared = dataset.get("SOPInstanceUID", sop_uid)
        content = event.encoded_dataset(include_meta=True)
    except Exception as error:  # a malformed data set can fail in any of pydicom's parsers
        raise RefusedInstance(CANNOT_UNDERSTAND, f"malformed data set ({type(error).__name__})") from None
    for what, value in (("SOP Instance UID", sop_uid), ("Study UID", study_uid), ("Series UID", series_uid)):
        if not is_uid(str(value)):
            raise RefusedInstance(CANNOT_UNDERSTAND, f"malformed data set: {what} is not a UID")
    if str(declared) != sop_uid:
        raise RefusedInstance(CANNOT_UNDERSTAND, "malformed data set: its SOP Instance UID differs from the request's")
    return Instance(sop_uid, str(study_uid), str(series_uid), bytes(content))
