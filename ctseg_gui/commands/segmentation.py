"""Segmenting the liver from the viewer: Segment / Cancel on a worker, and the model preloaded while idle.

The model runs in the model process (:func:`~ctseg_gui.jobs.segmentation.model_process`), started when
the window is first shown, so it loads while the user opens a patient; it is stopped when the window
closes. The model is loaded once per path (:class:`~ctseg_gui.jobs.segmentation.SegmenterCache`);
once the window has been idle a moment, a worker asks for the window's model, so the first Segment
starts predicting at once. If the model process dies, Segment says so and it restarts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from ctseg_core.engine import ModelProcess
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.patients import MASK_JOB
from ctseg_gui.jobs.segmentation import (
    SegmentationOutcome,
    SegmenterCache,
    model_process,
    preload_segmenter,
    segment,
)
from ctseg_gui.panels.segmentation import SegmentationPanel

log = logging.getLogger(__name__)

SEGMENT_JOB, PRELOAD_JOB = "segment", "preload"
#: The model starts loading this long after the window is first shown, and is put off by as much
#: again while a status-bar job runs, so that launching and opening a patient never share the CPU with it.
PRELOAD_DELAY_MS = 1500


class Segmentation(QObject):
    """Runs the model on the patient shown and puts the prediction and its scores on the state."""

    finished = Signal()  # a prediction is shown
    preloaded = Signal(bool)  # the background model load ended: True if the model is ready

    def __init__(
        self,
        host: WindowHost,
        panel: SegmentationPanel,
        busy: Callable[[], bool],
        model_path: str | None = None,
        segmenters: SegmenterCache | None = None,
    ) -> None:
        """``busy``: True while a status-bar job runs (the preload then waits)."""
        super().__init__(host.window())
        self.host, self.state, self.runner, self.panel, self.busy = host, host.state, host.runner, panel, busy
        self.model_path = model_path
        #: The model process this window starts and stops (None when ``segmenters`` is given: tests).
        self.model_process: ModelProcess | None = model_process() if segmenters is None else None
        self.segmenters = segmenters if segmenters is not None else SegmenterCache()
        #: True once the window asked to keep the model loaded in the background (:meth:`start_preloading`).
        self.preloading = False
        self.preload_timer = QTimer(self)
        self.preload_timer.setSingleShot(True)
        self.preload_timer.setInterval(PRELOAD_DELAY_MS)
        self.preload_timer.timeout.connect(self.preload)
        self._started = 0.0

    @property
    def running(self) -> bool:
        return self.runner.running(SEGMENT_JOB)

    def start_preloading(self) -> None:
        """Load the model in the background once the window is idle, and each model chosen later at once
        (the window asks when it is first shown, unless told not to preload)."""
        self.preloading = True
        process = self.model_process
        if process is not None and not process.is_alive():
            process.model_path = self.model_path  # the child loads the window's model as it starts
            process.start()
        self.preload_timer.start()

    def shutdown(self) -> None:
        """Cancel Segment and the preload, then stop the model process (the window is closing)."""
        self.preload_timer.stop()
        self.runner.cancel(SEGMENT_JOB)
        self.runner.cancel(PRELOAD_JOB)
        if self.model_process is not None:
            self.model_process.close()

    def set_model(self, model_path: str | None) -> None:
        """Segment with another model file from now on (None: the bundled model); a running
        segmentation finishes with the model it started with. Each model loads once and is kept."""
        self.model_path = model_path
        if self.model_process is not None:
            self.model_process.model_path = model_path  # what a restarted model process preloads

    def start(self) -> None:
        """Segment the liver on a worker: model loaded once, then predicted and measured there."""
        patient, gt = self.state.patient, self.state.gt
        if patient is None or self.running or self.runner.running(MASK_JOB):
            return
        segmenters, model_path = self.segmenters, self.model_path
        self.panel.set_running(True, "starting…")
        self._started = time.monotonic()
        self.runner.start(
            SEGMENT_JOB,
            lambda progress, cancel: segment(segmenters, model_path, patient, gt, progress, cancel),
            on_success=self._on_segmented,
            on_failure=self._on_failed,
            on_progress=self.panel.show_progress,
        )

    def cancel(self) -> None:
        if self.runner.cancel(SEGMENT_JOB):
            self.panel.set_running(False, "Cancelled.")
            self.host.show_status("Segmentation cancelled")

    def drop(self) -> None:
        """Forget a running segmentation silently (its patient is being replaced)."""
        self.runner.cancel(SEGMENT_JOB)
        self.panel.set_running(False)

    def _on_segmented(self, outcome: SegmentationOutcome) -> None:
        self.state.set_prediction(outcome.mask, outcome.scores, outcome.quality, outcome.uncertainty)
        seconds = time.monotonic() - self._started
        self.panel.set_running(False, f"Done in {seconds:.1f} s (model, prediction and metrics).")
        self.panel.status.setToolTip(" · ".join(f"{stage} {s:.2f} s" for stage, s in outcome.timings.items()))
        self.finished.emit()

    def _on_failed(self, error: BaseException) -> None:
        self.panel.set_running(False, "Failed.")
        self.host.report_error("Segmentation failed", error)

    def preload(self) -> bool:
        """Load the model on a worker unless it is loaded or Segment is loading it; True if started.

        While a status-bar job runs, it tries again a little later. A missing model file is skipped,
        and a failure only logged: Segment reports the real error.
        """
        segmenters, model_path = self.segmenters, self.model_path
        if self.runner.running(PRELOAD_JOB) or self.running or segmenters.is_loaded(model_path):
            return False
        if self.busy():
            self.preload_timer.start()
            return False
        self.runner.start(
            PRELOAD_JOB,
            lambda progress, cancel: preload_segmenter(segmenters, model_path, progress, cancel),
            on_success=self.preloaded.emit,
            on_failure=self._on_preload_failed,
        )
        return True

    def _on_preload_failed(self, error: BaseException) -> None:
        log.info("model preload failed (Segment will report it): %s", error)
        self.preloaded.emit(False)
