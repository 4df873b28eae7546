"""The viewer's long jobs as plain functions of ``(progress, should_cancel)``; no Qt here.

They run on worker threads (``workers.py``) and only compose ``ctseg_core`` calls, so they can be
tested and reused without a display. Every job checks the cancel flag before returning, so a
job cancelled near its end still ends in :class:`~ctseg_core.errors.Cancelled`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ctseg_core.annotate.recovery import RecoveryInfo, find_recovery
from ctseg_core.errors import CtsegError
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import load_mask
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import OverlapReport, compare, per_slice_dice, volume_ml
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

if TYPE_CHECKING:
    from ctseg_core.model.inference import Segmenter

log = logging.getLogger(__name__)

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
        from ctseg_core.model.inference import Segmenter
    except ImportError as error:
        raise CtsegError(None, f"segmentation is unavailable in this installation: {error}") from error
    return Segmenter.load(model_path)


def model_file(model_path: str | None) -> Path:
    """The file a model path names; None is the bundled model (its path only: nothing is imported
    beyond ``ctseg_core.model.inference``, which leaves TensorFlow alone until a model loads)."""
    if model_path:
        return Path(model_path).expanduser()
    from ctseg_core.model.inference import default_model_path

    return default_model_path()


class SegmenterCache:
    """Each model is loaded once and kept; loading (≈3 s, TensorFlow import) runs on the asking worker."""

    def __init__(self, loader: Callable[[str | None], Segmenter] | None = None) -> None:
        self._loader = loader if loader is not None else _load_segmenter
        self._lock = threading.Lock()
        self._models: dict[str | None, Segmenter] = {}

    @staticmethod
    def _key(model_path: str | None) -> str | None:
        return str(Path(model_path).expanduser().resolve()) if model_path else None

    def get(self, model_path: str | None) -> Segmenter:
        key = self._key(model_path)
        with self._lock:
            if key not in self._models:
                self._models[key] = self._loader(model_path)
            return self._models[key]

    def is_loaded(self, model_path: str | None) -> bool:
        """True once ``get(model_path)`` would return at once (never waits for a load in progress)."""
        return self._key(model_path) in self._models


def preload_segmenter(
    cache: SegmenterCache, model_path: str | None, progress: ProgressCallback, should_cancel: CancelCheck
) -> bool:
    """Warm the cache while the user looks at the scan, so the first Segment starts predicting at once.

    Loads only a model file that exists; True if the model is now loaded. A failure is logged and
    returns False: the user reads the real message when Segment loads the model again.
    """
    if cache.is_loaded(model_path):
        return True
    try:
        if not model_file(model_path).is_file():
            return False
        raise_if_cancelled(should_cancel)
        cache.get(model_path)
    except Exception as error:  # CtsegError, ImportError, a broken TensorFlow: Segment will say
        log.info("preloading the model failed (Segment will report it): %s", error)
        return False
    return True


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


@dataclass(frozen=True)
class VolumeEdit:
    """A whole-volume tool's result: the edited copy, the slices where it differs from the label
    it was given, and what the core function returned (e.g. the slices it interpolated)."""

    label: np.ndarray
    changed: list[int]
    result: Any


def edit_volume(
    label: np.ndarray,
    change: Callable[[np.ndarray], Any],
    progress: ProgressCallback,
    should_cancel: CancelCheck,
    stage: str = "editing the label",
) -> VolumeEdit:
    """Run a core edit (``ctseg_core.annotate.editing``, in place) on a copy of ``label``; ``label`` is not changed.

    The core tools take no progress callback, so this reports a busy ``stage`` and checks the
    cancel flag before and after; finding the changed slices here keeps that pass off the GUI thread.
    """
    progress(0, 0, stage)
    raise_if_cancelled(should_cancel)
    edited = label.copy()
    result = change(edited)
    raise_if_cancelled(should_cancel)
    differs = np.any((edited != label).reshape(label.shape[0], -1), axis=1)
    outcome = VolumeEdit(edited, [int(z) for z in np.flatnonzero(differs)], result)
    raise_if_cancelled(should_cancel)
    return outcome
