"""Segment's jobs as plain functions of ``(progress, should_cancel)``: the model loaded once, then
predicted and measured; no Qt here.

They run on worker threads (:mod:`~ctseg_gui.jobs.workers`) and only compose ``ctseg_core`` calls, so
they can be tested and reused without a display. Every job checks the cancel flag before returning,
so a job cancelled near its end still ends in :class:`~ctseg_core.errors.Cancelled`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ctseg_core.errors import CtsegError
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import MaskScores, score_masks
from ctseg_core.model.quality import ScanQuality
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

if TYPE_CHECKING:
    from ctseg_core.model.inference import Segmenter

log = logging.getLogger(__name__)


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
    scores: MaskScores
    quality: ScanQuality | None = None  # the model's estimate of its Dice, "check this scan", slice uncertainty
    uncertainty: np.ndarray | None = None  # uint8 [z, y, x] per-voxel uncertainty, for the overlay


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
    result = segmenter.predict(
        patient.hu, patient.spacing_mm, progress=progress, should_cancel=should_cancel, return_uncertainty=True
    )
    raise_if_cancelled(should_cancel)
    progress(0, 0, "measuring")
    outcome = SegmentationOutcome(
        result.mask,
        dict(result.timings),
        score_masks(gt, result.mask, patient.spacing_mm),
        result.quality,
        result.uncertainty,
    )
    raise_if_cancelled(should_cancel)
    return outcome
