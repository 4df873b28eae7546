"""Opening a patient and reading another organ as ground truth, as plain functions of
``(progress, should_cancel)``; no Qt here.

They run on worker threads (:mod:`~ctseg_gui.jobs.workers`) and only compose ``ctseg_core`` calls;
their results (:class:`OpenedPatient`, :class:`GroundTruth`) are what the viewer state shows. Every
job checks the cancel flag before returning, so a job cancelled near its end still ends in
:class:`~ctseg_core.errors.Cancelled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctseg_core.annotate.recovery import RecoveryInfo, find_recovery, set_aside_damaged
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import load_mask
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import MaskScores, middle_slice, score_masks
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

#: The organ shown as ground truth when a patient opens (the model segments the liver).
DEFAULT_ORGAN = "liver"


@dataclass(frozen=True)
class OpenedPatient:
    """A loaded patient with its default ground truth, ready to show, and any autosaved label of it."""

    patient: Patient
    gt_name: str | None
    gt: np.ndarray | None
    scores: MaskScores
    start_slice: int
    recovery: RecoveryInfo | None = None


def _find_recovery(patient: Patient) -> RecoveryInfo | None:
    """The autosave of this CT, if any; an unreadable cache never stops a patient from opening, and
    a damaged autosave is set aside and named in the patient's warnings."""
    try:
        patient.warnings.extend(set_aside_damaged(patient))
        return find_recovery(patient)
    except OSError:
        return None


def open_patient(
    path: str | Path, progress: ProgressCallback, should_cancel: CancelCheck, series_uid: str | None = None
) -> OpenedPatient:
    """Load the CT (``series_uid``: that series, else the loader's choice) and only the liver mask
    (other organs load when the user asks for them), and look for an autosaved label of this very
    CT (hashing the HU only when an autosave exists)."""
    patient = load_patient(
        path, series_uid=series_uid, masks=[DEFAULT_ORGAN], progress=progress, should_cancel=should_cancel
    )
    gt = patient.masks.get(DEFAULT_ORGAN)
    opened = OpenedPatient(
        patient=patient,
        gt_name=DEFAULT_ORGAN if gt is not None else None,
        gt=gt,
        scores=score_masks(gt, None, patient.spacing_mm),
        start_slice=middle_slice(gt, patient.shape[0]),
        recovery=_find_recovery(patient),
    )
    raise_if_cancelled(should_cancel)
    return opened


@dataclass(frozen=True)
class GroundTruth:
    """One organ's mask as ground truth, scored against the prediction shown at the time."""

    name: str
    mask: np.ndarray
    scores: MaskScores


def load_ground_truth(
    patient: Patient,
    name: str,
    prediction: np.ndarray | None,
    progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> GroundTruth:
    """Read organ ``name`` (cached on the patient after the first time) and rescore."""
    mask = load_mask(patient, name, progress=progress, should_cancel=should_cancel)
    result = GroundTruth(name, mask, score_masks(mask, prediction, patient.spacing_mm))
    raise_if_cancelled(should_cancel)
    return result
