"""Segment all: the cohort's series (all, the unsegmented, or the rows the filter leaves) segmented
in the background with the window's model, with progress and Cancel.

The batch runs on a worker (:func:`ctseg_gui.jobs.cohort.segment_cohort`) and stores each result
in the database as it lands; the table shows it at its next poll. The patient shown stays fully
usable: the batch has its own job kind, and the GUI thread only shows progress.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from ctseg_core.cohort import CohortDatabase
from ctseg_core.cohort.query import ALL_SEGMENTABLE
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.segmentation import Segmentation
from ctseg_gui.jobs.cohort import CohortBatch, CohortBatchOutcome, outputs_folder, segment_cohort
from ctseg_gui.panels.cohort import CohortPanel

BATCH_JOB = "cohort-segment"


class CohortBatchRunner(QObject):
    """Starts, reports and cancels Segment all; ``finished`` when it ends (done, failed or cancelled)."""

    finished = Signal()

    def __init__(
        self,
        host: WindowHost,
        panel: CohortPanel,
        segmentation: Segmentation,
        database: Callable[[], CohortDatabase | None],
    ) -> None:
        super().__init__(host.window())
        self.host, self.panel, self.segmentation, self._database = host, panel, segmentation, database
        panel.segmentRequested.connect(self.start)
        panel.cancel.clicked.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self.host.runner.running(BATCH_JOB)

    def start(self, what: str = "all") -> bool:
        """Segment ``what``: "all" series, the "unsegmented" (no result of this model), or the "filtered" rows."""
        database = self._database()
        if database is None or self.running:
            return False
        model = self.panel.model
        batch = CohortBatch(
            database.path,
            outputs_folder(database.path),
            query=model.query if what == "filtered" else ALL_SEGMENTABLE,
            series_ids=tuple(model.series_ids()) if what == "filtered" else None,
            only_new=what == "unsegmented",
        )
        segmenters, model_path = self.segmentation.segmenters, self.segmentation.model_path
        self.panel.set_batch_running(True, "starting…")
        self.host.runner.start(
            BATCH_JOB,
            lambda progress, cancel: segment_cohort(batch, segmenters, model_path, progress, cancel),
            on_success=self._on_done,
            on_failure=self._on_failed,
            on_progress=self.panel.show_batch_progress,
        )
        return True

    def cancel(self) -> None:
        """Stop at the batch's next progress report (the series under way is dropped); every result stored stays."""
        if self.host.runner.cancel(BATCH_JOB):
            self.panel.set_batch_running(False, "Cancelled: the results so far are kept.")
            self.host.show_status("Segment all cancelled")
            self.finished.emit()

    def _on_done(self, outcome: CohortBatchOutcome) -> None:
        failed = f", {outcome.failed} failed (see the Check column)" if outcome.failed else ""
        text = f"Segmented {outcome.segmented} series with {outcome.model.name}{failed}."
        self.panel.set_batch_running(False, text)
        self.host.show_status(text)
        self.finished.emit()

    def _on_failed(self, error: BaseException) -> None:
        self.panel.set_batch_running(False, "Segment all failed.")
        self.host.report_error("Segment all failed", error)
        self.finished.emit()
