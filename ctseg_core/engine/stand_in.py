"""A stand-in model for the model process's tests and benchmarks: no runtime, a known pace.

It thresholds soft tissue in batches of ``BATCH_SLICES`` slices, sleeping ``$CTSEG_STAND_IN_SECONDS``
per slice (default 0.01) and checking cancel between batches, as ``Segmenter.predict_stack`` does.
Load it with ``ModelProcess(loader="ctseg_core.engine.stand_in:load_stand_in")``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ctseg_core.errors import ModelError
from ctseg_core.model.inference import BATCH_SLICES, Segmentation
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

SECONDS_ENV = "CTSEG_STAND_IN_SECONDS"


class StandInSegmenter:
    """``Segmenter.predict``'s contract on a threshold: mask = 0 < HU < 200."""

    backend, backend_reason, card = "stand-in", "a test stand-in", None

    def __init__(self, path: Path | None, seconds_per_slice: float) -> None:
        self.path, self.seconds_per_slice = path, seconds_per_slice
        self.load_seconds = self.import_seconds = 0.0

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float] | None = None,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        return_probability: bool = False,
        return_uncertainty: bool = False,
    ) -> Segmentation:
        total = hu.shape[0]
        for start in range(0, total, BATCH_SLICES):
            raise_if_cancelled(should_cancel)
            done = min(start + BATCH_SLICES, total)
            time.sleep(self.seconds_per_slice * (done - start))
            if progress:
                progress(done, total, "segmenting")
        raise_if_cancelled(should_cancel)
        mask = (hu > 0) & (hu < 200)
        probability = mask.astype(np.float32) if return_probability else None
        uncertainty = np.where(mask, 10, 0).astype(np.uint8) if return_uncertainty else None
        return Segmentation(mask, probability, {"network": 0.0}, None, uncertainty)


def load_stand_in(model_path: Path | None, threads: int | None) -> StandInSegmenter:
    """The stand-in; a ``model_path`` that does not exist is a ModelError, as with a real model."""
    if model_path is not None and not Path(model_path).exists():
        raise ModelError(model_path, "model file not found")
    return StandInSegmenter(model_path, float(os.environ.get(SECONDS_ENV, "0.01")))
