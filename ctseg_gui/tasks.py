"""The viewer's long jobs as plain functions of ``(progress, should_cancel)``; no Qt here.

They run on worker threads (``workers.py``) and only compose ``ctseg_core`` calls, so they can be
tested and reused without a display. Every job checks the cancel flag before returning, so a
job cancelled near its end still ends in :class:`~ctseg_core.errors.Cancelled`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ctseg_core.errors import CtsegError
from ctseg_core.mask_io import load_mask
from ctseg_core.metrics import OverlapReport, compare, per_slice_dice, volume_ml
from ctseg_core.patient import Patient, load_patient
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled
from ctseg_core.recovery import RecoveryInfo, find_recovery

if TYPE_CHECKING:
    from ctseg_core.inference import Segmenter

#: The organ shown as ground truth when a patient opens (the model segments the liver).
DEFAULT_ORGAN = "liver"


@dataclass(frozen=True)
class Scores:
    """The readouts for one (ground truth, prediction) pair; None where a mask is missing."""

    gt_volume_ml: float | None = None
    prediction_volume_ml: float | None = None
    report: OverlapReport | None = None
    per_slice_dice: np.ndarray | None = None

    def slice_dice(self, index: int) -> float:
        """Dice of one slice; NaN when unknown or when both slices are empty."""
        return math.nan if self.per_slice_dice is None else float(self.per_slice_dice[index])

    def worst_slice(self) -> int | None:
        """Slice with the lowest defined Dice (GT or prediction non-empty there), first if tied."""
        dice = self.per_slice_dice
        if dice is None or np.isnan(dice).all():
            return None
        return int(np.nanargmin(dice))


def score(gt: np.ndarray | None, prediction: np.ndarray | None, spacing_mm: tuple[float, float, float]) -> Scores:
    """Volumes always; overlap, surface distances and per-slice Dice when both masks exist."""
    if gt is not None and prediction is not None:
        report = compare(prediction, gt, spacing_mm)
        return Scores(report.volume_ml_ref, report.volume_ml_pred, report, per_slice_dice(gt, prediction))
    return Scores(
        gt_volume_ml=None if gt is None else volume_ml(gt, spacing_mm),
        prediction_volume_ml=None if prediction is None else volume_ml(prediction, spacing_mm),
    )


def start_slice(gt: np.ndarray | None, depth: int) -> int:
    """Slice to show first: the middle of the ground-truth extent, else the middle of the scan."""
    if gt is not None:
        occupied = np.flatnonzero(gt.any(axis=(1, 2)))
        if occupied.size:
            return int(occupied[occupied.size // 2])
    return depth // 2


@dataclass(frozen=True)
class OpenedPatient:
    """A loaded patient with its default ground truth, ready to show, and any autosaved label of it."""

    patient: Patient
    gt_name: str | None
    gt: np.ndarray | None
    scores: Scores
    start_slice: int
    recovery: RecoveryInfo | None = None


def _find_recovery(patient: Patient) -> RecoveryInfo | None:
    """The autosave of this CT, if any; an unreadable cache never stops a patient from opening."""
    try:
        return find_recovery(patient)
    except OSError:
        return None


def open_patient(path: str | Path, progress: ProgressCallback, should_cancel: CancelCheck) -> OpenedPatient:
    """Load the CT and only the liver mask (other organs load when the user asks for them), and
    look for an autosaved label of this very CT (hashing the HU only when an autosave exists)."""
    patient = load_patient(path, masks=[DEFAULT_ORGAN], progress=progress, should_cancel=should_cancel)
    gt = patient.masks.get(DEFAULT_ORGAN)
    opened = OpenedPatient(
        patient=patient,
        gt_name=DEFAULT_ORGAN if gt is not None else None,
        gt=gt,
        scores=score(gt, None, patient.spacing_mm),
        start_slice=start_slice(gt, patient.shape[0]),
        recovery=_find_recovery(patient),
    )
    raise_if_cancelled(should_cancel)
    return opened


@dataclass(frozen=True)
class GroundTruth:
    """One organ's mask as ground truth, scored against the prediction shown at the time."""

    name: str
    mask: np.ndarray
    scores: Scores


def load_ground_truth(
    patient: Patient,
    name: str,
    prediction: np.ndarray | None,
    progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> GroundTruth:
    """Read organ ``name`` (cached on the patient after the first time) and rescore."""
    mask = load_mask(patient, name, progress=progress, should_cancel=should_cancel)
    result = GroundTruth(name, mask, score(mask, prediction, patient.spacing_mm))
    raise_if_cancelled(should_cancel)
    return result


def _load_segmenter(model_path: str | None) -> Segmenter:
    """Import the inference module (and through it TensorFlow) only when a model is needed."""
    try:
        from ctseg_core.inference import Segmenter
    except ImportError as error:
        raise CtsegError(None, f"segmentation is unavailable in this installation: {error}") from error
    return Segmenter.load(model_path)


class SegmenterCache:
    """Each model is loaded once and kept; loading (≈3 s, TensorFlow import) runs on the asking worker."""

    def __init__(self, loader: Callable[[str | None], Segmenter] | None = None) -> None:
        self._loader = loader if loader is not None else _load_segmenter
        self._lock = threading.Lock()
        self._models: dict[str | None, Segmenter] = {}

    def get(self, model_path: str | None) -> Segmenter:
        key = str(Path(model_path).expanduser().resolve()) if model_path else None
        with self._lock:
            if key not in self._models:
                self._models[key] = self._loader(model_path)
            return self._models[key]


@dataclass(frozen=True)
class SegmentationOutcome:
    """A prediction and its scores against the ground truth shown when it started."""

    mask: np.ndarray
    timings: dict[str, float]
    scores: Scores


def segment(
    cache: SegmenterCache,
    model_path: str | None,
    patient: Patient,
    gt: np.ndarray | None,
    progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> SegmentationOutcome:
    """Predict the liver, then measure it, all on the calling (worker) thread."""
    progress(0, 0, "loading model")
    segmenter = cache.get(model_path)
    raise_if_cancelled(should_cancel)
    result = segmenter.predict(patient.hu, patient.spacing_mm, progress=progress, should_cancel=should_cancel)
    raise_if_cancelled(should_cancel)
    progress(0, 0, "measuring")
    outcome = SegmentationOutcome(result.mask, dict(result.timings), score(gt, result.mask, patient.spacing_mm))
    raise_if_cancelled(should_cancel)
    return outcome
