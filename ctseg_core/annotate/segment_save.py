"""Saving a label of several named segments in the save dialog's formats, as a worker function; no Qt.

Every file format (NIfTI with its ITK-SNAP label description, DICOM SEG, RTSTRUCT, ``.seg.nrrd``) goes
through :func:`ctseg_core.annotate.labels.save_label`, whose writers keep every segment's name, colour
and value. An IRCAD target is one mask folder per segment: the liver under the name the user
gave, every other segment as ``<name>_<segment>`` beside it (never over a ground-truth folder of
that organ). The same checks as :func:`ctseg_core.annotate.labels.save_label`: the target's name,
and no ground truth replaced unless asked.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from ctseg_core.annotate.labels import LabelFormat, SavedLabel, SaveTarget, save_label
from ctseg_core.annotate.segment_set import PRIMARY_SEGMENT
from ctseg_core.errors import GroundTruthProtectedError
from ctseg_core.io.masks import write_ircad_mask
from ctseg_core.io.patient import Patient
from ctseg_core.io.segments import LabelMap
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled


def ircad_folder_name(target_name: str, segment_name: str) -> str:
    """The mask folder of a segment in an IRCAD save: the liver's is the target's own name."""
    return target_name if segment_name == PRIMARY_SEGMENT else f"{target_name}_{segment_name}"


def save_segments(
    label_map: LabelMap,
    patient: Patient,
    target: SaveTarget,
    sources: list[Dataset] | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    algorithm_type: str = "MANUAL",
) -> SavedLabel:
    """Write every segment of ``label_map`` in ``target``'s format; the save, with the CT headers a SEG read."""
    if target.format is not LabelFormat.IRCAD:  # every file format keeps all segments: one dispatch
        return save_label(label_map, patient, target, sources, progress, should_cancel, algorithm_type)
    report = progress or (lambda done, total, stage: None)
    target.check()
    protected = None if target.replace_ground_truth else target.ground_truth_replaced(patient)
    if protected is not None:
        raise GroundTruthProtectedError(None, protected)
    raise_if_cancelled(should_cancel)
    _write_ircad(label_map, patient, target, report, should_cancel)
    return SavedLabel(target, sources)


def _write_ircad(
    label_map: LabelMap, patient: Patient, target: SaveTarget, report: ProgressCallback, cancel: CancelCheck | None
) -> None:
    for segment, mask in label_map.masks().items():
        report(0, label_map.shape[0], f"writing mask {segment}")
        write_ircad_mask(
            mask,
            patient,
            target.path,
            ircad_folder_name(target.name, segment),
            should_cancel=cancel,
            progress=report,
            replace_ground_truth=target.replace_ground_truth,
        )
