"""Segment's jobs as plain functions of ``(progress, should_cancel)``: the model loaded once, then
predicted and measured; no Qt here.

The model runs in the GUI process's model process (:func:`model_process`, a spawned child: the GUI
process never imports TensorFlow, and a crash in the runtime never takes the window down); a worker
only waits on it, so the GUI thread keeps the GIL to itself.

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

from ctseg_core.engine import ModelProcess
from ctseg_core.errors import CtsegError
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import MaskScores, score_masks
from ctseg_core.model.quality import ScanQuality
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

if TYPE_CHECKING:
    from ctseg_core.engine import RemoteSegmenter
    from ctseg_core.model.finetune import FineTuneResult
    from ctseg_core.model.inference import Segmenter

log = logging.getLogger(__name__)

_model_process: ModelProcess | None = None
#: The model process runs at a lower priority than the window (os.nice): on 2 cores its runtime's
#: threads then yield the CPU to the GUI thread whenever it has an event to handle.
MODEL_PROCESS_NICE = 5


def model_process() -> ModelProcess:
    """The GUI process's model process (the bundled model preloaded), made on first use, not started.

    One per GUI process: the window starts it when it opens and closes it when it closes; a request
    after that starts it again.
    """
    global _model_process
    if _model_process is None:
        _model_process = ModelProcess(nice=MODEL_PROCESS_NICE)
    return _model_process


def _load_segmenter(model_path: str | None) -> Segmenter | RemoteSegmenter:
    """The model, loaded (once) in the model process; waits for the load and raises its error."""
    try:
        return model_process().segmenter(model_path)
    except ImportError as error:
        raise CtsegError(None, f"segmentation is unavailable in this installation: {error}") from error


def fine_tune_in_model_process(
    *args: object, progress: ProgressCallback, should_cancel: CancelCheck, **kwargs: object
) -> FineTuneResult:
    """``fine_tune(*args, **kwargs)`` in a model process of its own, closed after, so that Segment keeps
    its process meanwhile and TensorFlow never loads beside the GUI."""
    with ModelProcess(preload=False, nice=MODEL_PROCESS_NICE) as process:
        result: FineTuneResult = process.fine_tune(*args, progress=progress, should_cancel=should_cancel, **kwargs)
    return result


def model_file(model_path: str | None) -> Path:
    """The file a model path names; None is the bundled model (its path only: nothing is imported
    beyond ``ctseg_core.model.inference``, which leaves TensorFlow alone until a model loads)."""
    if model_path:
        return Path(model_path).expanduser()
    from ctseg_core.model.inference import default_model_path

    return default_model_path()


class SegmenterCache:
    """Each model is loaded once and kept; the asking worker waits for the load (in the model process)."""

    def __init__(self, loader: Callable[[str | None], Segmenter | RemoteSegmenter] | None = None) -> None:
        self._loader = loader if loader is not None else _load_segmenter
        self._lock = threading.Lock()
        self._models: dict[str | None, Segmenter | RemoteSegmenter] = {}

    @staticmethod
    def _key(model_path: str | None) -> str | None:
        return str(Path(model_path).expanduser().resolve()) if model_path else None

    def get(self, model_path: str | None) -> Segmenter | RemoteSegmenter:
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
