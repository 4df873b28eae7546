"""Worker threads for long jobs: the core's progress and cancel hooks, as Qt signals.

A job runs ``work(progress, should_cancel)`` on its own QThread. Its signals are queued to the
:class:`JobRunner` on the GUI thread, which passes them to the job's callbacks only while the job
is still the current one of its kind and not cancelled. So a cancelled or superseded job never
touches the UI, even when it had already finished by the time the user cancelled it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ctseg_core.errors import Cancelled
from ctseg_core.progress import CancelCheck, ProgressCallback

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A job's work: ``work(progress, should_cancel)`` returns its result (of type ``T``).
Work = Callable[[ProgressCallback, CancelCheck], T]
ProgressSlot = Callable[[int, int, str], None]

#: Progress reports closer together than this are dropped (the last one of a stage never is),
#: so a job reporting per file cannot flood the GUI thread's event queue.
PROGRESS_INTERVAL_S = 0.03

#: How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). Every
#: Qt callback into Python (a paint, an event) takes the GIL again; against a worker running Python,
#: one repaint's hundred or so callbacks waited 70-170 ms at 5 ms, and 17-32 ms at this value.
GIL_SWITCH_INTERVAL_S = 0.0005


def share_the_gil_in_short_turns() -> None:
    """The GUI thread waits at most this long for the GIL a worker holds; only contended turns shorten."""
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


class Job(QThread):
    """One run of ``work`` on its own thread; emits itself with every signal."""

    progressed = Signal(object, int, int, str)
    succeeded = Signal(object, object)
    failed = Signal(object, object)
    ended = Signal(object)

    def __init__(
        self,
        kind: str,
        work: Work[Any],
        on_success: Callable[[Any], object],
        on_progress: ProgressSlot | None,
        on_failure: Callable[[BaseException], object],
    ) -> None:
        """The runner passes ``work``'s result to ``on_success``; :meth:`JobRunner.start` checks
        that their types agree, so the job itself stores them untyped."""
        super().__init__()
        self.kind = kind
        self.on_success = on_success
        self.on_progress = on_progress
        self.on_failure = on_failure
        self._work = work
        self._cancel = threading.Event()
        self._last_report = 0.0

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the work to stop at its next cancel check; nothing it produces will be shown."""
        self._cancel.set()

    def run(self) -> None:
        try:
            result = self._work(self._report, self._cancel.is_set)
        except Cancelled:
            pass
        except Exception as error:  # every failure must reach the user as a message
            if not self.cancelled:
                log.debug("%s job failed", self.kind, exc_info=error)
                self.failed.emit(self, error)
        else:
            if not self.cancelled:
                self.succeeded.emit(self, result)
        finally:
            self.ended.emit(self)

    def _report(self, done: int, total: int, stage: str) -> None:
        now = time.monotonic()
        if self.cancelled or (0 < done < total and now - self._last_report < PROGRESS_INTERVAL_S):
            return
        self._last_report = now
        self.progressed.emit(self, done, total, stage)


class JobRunner(QObject):
    """Starts jobs by kind ("load", "segment"…): a new job of a kind cancels the previous one."""

    changed = Signal()  # a job started, finished or was cancelled

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        share_the_gil_in_short_turns()  # the jobs' threads share the GIL with the GUI thread
        self._current: dict[str, Job] = {}
        self._alive: set[Job] = set()  # includes cancelled jobs still winding down

    def start(
        self,
        kind: str,
        work: Work[T],
        on_success: Callable[[T], object],
        on_failure: Callable[[BaseException], object],
        on_progress: ProgressSlot | None = None,
    ) -> Job:
        """Run ``work`` on a new thread, cancelling the running job of ``kind``; on the GUI thread,
        ``on_success`` gets its result, ``on_failure`` its exception (never both, neither if cancelled)."""
        self.cancel(kind)
        job = Job(kind, work, on_success, on_progress, on_failure)
        job.progressed.connect(self._on_progress)
        job.succeeded.connect(self._on_success)
        job.failed.connect(self._on_failure)
        job.ended.connect(self._on_ended)
        self._current[kind] = job
        self._alive.add(job)
        job.start()
        self.changed.emit()
        return job

    def running(self, kind: str) -> bool:
        return kind in self._current

    def cancel(self, kind: str) -> bool:
        """Cancel the current job of ``kind``; True if there was one."""
        job = self._current.pop(kind, None)
        if job is None:
            return False
        job.cancel()
        self.changed.emit()
        return True

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel everything and wait for the threads, so none outlives its QThread object."""
        for kind in list(self._current):
            self.cancel(kind)
        for job in list(self._alive):
            job.wait(timeout_ms)

    def _is_live(self, job: Job) -> bool:
        return self._current.get(job.kind) is job and not job.cancelled

    @Slot(object, int, int, str)
    def _on_progress(self, job: Job, done: int, total: int, stage: str) -> None:
        if self._is_live(job) and job.on_progress is not None:
            job.on_progress(done, total, stage)

    @Slot(object, object)
    def _on_success(self, job: Job, result: object) -> None:
        if self._is_live(job):
            del self._current[job.kind]
            job.on_success(result)
            self.changed.emit()

    @Slot(object, object)
    def _on_failure(self, job: Job, error: BaseException) -> None:
        if self._is_live(job):
            del self._current[job.kind]
            job.on_failure(error)
            self.changed.emit()

    @Slot(object)
    def _on_ended(self, job: Job) -> None:
        job.wait()  # run() is returning: this is immediate, and keeps the QThread alive until then
        self._alive.discard(job)
