"""Running a batch's patients: one after another, or pipelined so the model never waits for the disk.

Pipelined, a loader thread reads and preprocesses the next patients into a bounded queue while the
current one is in the network (one model worker, or ``workers`` of them), and a writer thread writes
and scores each prediction. The caller's thread alone turns outcomes into rows, in the patients'
order: it calls ``on_row`` (a cohort database's connection lives on that thread), writes error logs
and raises :class:`~ctseg_core.errors.Cancelled`, so the rows are those of the sequential run; its
``progress`` counts patients (a hook that raises Cancelled there stops the batch within ``_POLL``).
At most ``prefetch + workers + 3`` patients are in memory at once, whatever the batch's size.

``durable_rows`` (a cohort batch, whose ``on_row`` stores each result): a patient enters the network
only once the rows before it have been delivered (with ``workers`` N, all but the N - 1 before it),
so a batch killed at any moment has stored every patient it finished, as a sequential one has;
loading still runs ahead.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ctseg_core.batch.models import ModelSlot, SegmenterSource
from ctseg_core.batch.patient import load_item, segment_patient, with_timings, write_and_score
from ctseg_core.batch.planning import BatchItem
from ctseg_core.batch.rows import Row, failure_row
from ctseg_core.errors import Cancelled
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

if TYPE_CHECKING:
    from ctseg_core.io.patient import Patient
    from ctseg_core.model.inference import Segmentation

#: Marks the end of a stage's stream.
_END = None
#: How often a blocked stage looks at the stop flag, and the caller at its cancel check (seconds).
_POLL = 0.1
#: How long a batch that stopped early (a cancel, a crash) waits for the read or the scores under way
#: (seconds): a cancel is not held up by a large scan's surface distances; a stage still busy after
#: that sees the stop flag once its step is done and ends, its work dropped.
_STOP_WAIT = 0.2


@dataclass(frozen=True)
class BatchOptions:
    """What every patient of a batch is given: the output format, the HTML report, the hooks."""

    fmt: str = "ircad"
    report: bool = False
    on_row: Callable[[Row], None] | None = None
    progress: ProgressCallback | None = None
    should_cancel: CancelCheck | None = None
    durable_rows: bool = False


def run_sequential(items: Sequence[BatchItem], source: SegmenterSource, options: BatchOptions) -> list[Row]:
    """Each patient loaded, segmented, written and scored before the next one (in this thread)."""
    slot = ModelSlot(source)
    rows: list[Row] = []
    try:
        for item in items:
            try:
                raise_if_cancelled(options.should_cancel)
                row = segment_patient(item, slot, options.fmt, options.progress, options.report, options.should_cancel)
            except Cancelled:
                raise
            except Exception as error:  # a bug or a ctseg error: this patient's row says so, the batch goes on
                row = failure_row(item, error)
            _deliver(rows, row, options.on_row)
    finally:
        slot.close()
    return rows


@dataclass
class _Job:
    """One patient on its way through the pipeline; ``error`` stops its work where it happened."""

    index: int
    item: BatchItem
    patient: Patient | None = None
    result: Segmentation | None = None
    row: Row | None = None
    error: Exception | None = None
    seconds: float = 0.0  # the patient's own work, queue waits left out


class _Stages:
    """The queues between the stages, the stop flag, and the first crash of a stage's own code."""

    def __init__(self, prefetch: int) -> None:
        self.stop = threading.Event()
        self.loaded: queue.Queue[_Job | None] = queue.Queue(maxsize=max(prefetch, 1))
        self.predicted: queue.Queue[_Job | None] = queue.Queue(maxsize=1)
        self.finished: queue.Queue[_Job] = queue.Queue()  # rows only: patients are let go before
        self.crash: BaseException | None = None
        self.delivered = 0  # rows handed to on_row, guarded by ``turn``
        self.turn = threading.Condition()

    def wait_for_rows(self, count: int) -> bool:
        """Wait until ``count`` rows are delivered (False when the batch stopped first)."""
        with self.turn:
            while self.delivered < count and not self.stop.is_set():
                self.turn.wait(_POLL)
        return not self.stop.is_set()

    def delivered_one(self) -> None:
        with self.turn:
            self.delivered += 1
            self.turn.notify_all()

    def put(self, into: queue.Queue[Any], value: Any) -> bool:
        """Wait for room (False when the batch stopped first): the bound on patients in memory."""
        while not self.stop.is_set():
            try:
                into.put(value, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    def get(self, source: queue.Queue[Any]) -> Any:
        """The next value, or the end marker when the batch stopped."""
        while not self.stop.is_set():
            try:
                return source.get(timeout=_POLL)
            except queue.Empty:
                continue
        return _END

    def thread(self, name: str, body: Callable[[], None]) -> threading.Thread:
        """A daemon thread running ``body``; a crash of the pipeline itself stops the batch."""

        def guarded() -> None:
            try:
                body()
            except BaseException as error:
                self.crash = error
                self.stop.set()

        return threading.Thread(target=guarded, name=name, daemon=True)


def run_pipelined(
    items: Sequence[BatchItem], source: SegmenterSource, options: BatchOptions, workers: int = 1, prefetch: int = 1
) -> list[Row]:
    """The batch with loading, inference (``workers`` model workers) and writing overlapped."""
    stages = _Stages(prefetch)
    models = [
        stages.thread(f"ctseg-batch-model-{k}", lambda: _predict(stages, source, options, workers))
        for k in range(workers)
    ]
    others = [
        stages.thread("ctseg-batch-loader", lambda: _load(stages, items, workers, options.should_cancel)),
        stages.thread("ctseg-batch-writer", lambda: _write(stages, workers, options)),
    ]
    finished = False
    try:
        for thread in (*others, *models):
            thread.start()
        rows = _collect(stages, items, options)
        finished = True
        return rows
    finally:
        stages.stop.set()
        _join(models, others, finished)


def _join(models: list[threading.Thread], others: list[threading.Thread], finished: bool) -> None:
    """Wait for the model workers (each closes its model; a cancelled prediction stops within the
    engine's grace), and for the loader and the writer: to the end when the batch finished, else
    until :data:`_STOP_WAIT` after the stop."""
    deadline = time.monotonic() + _STOP_WAIT
    for thread in models:
        thread.join()
    for thread in others:
        thread.join(None if finished else max(0.0, deadline - time.monotonic()))


def _load(stages: _Stages, items: Sequence[BatchItem], workers: int, should_cancel: CancelCheck | None) -> None:
    """Read the patients in order into the bounded queue; a cancel ends the stream after its job."""
    for index, item in enumerate(items):
        job = _Job(index, item)
        started = time.perf_counter()
        try:
            raise_if_cancelled(should_cancel)
            job.patient = load_item(item)
        except Exception as error:  # its row (or the Cancelled) is made on the caller's thread
            job.error = error
        job.seconds += time.perf_counter() - started
        if not stages.put(stages.loaded, job) or isinstance(job.error, Cancelled):
            break
    for _ in range(workers):
        stages.put(stages.loaded, _END)


def _predict(stages: _Stages, source: SegmenterSource, options: BatchOptions, workers: int) -> None:
    """One model worker: segment loaded patients until the stream ends."""
    slot = ModelSlot(source, stop=stages.stop.is_set)
    try:
        slot.prepare()
        while (job := stages.get(stages.loaded)) is not _END:
            if options.durable_rows and not stages.wait_for_rows(job.index - workers + 1):
                return
            if job.error is None and job.patient is not None:
                started = time.perf_counter()
                try:
                    job.result = slot.predict(
                        job.patient.hu, job.patient.spacing_mm, should_cancel=options.should_cancel
                    )
                except Exception as error:
                    job.error = error
                job.seconds += time.perf_counter() - started
            if not stages.put(stages.predicted, job):
                return
    finally:
        slot.close()
        stages.put(stages.predicted, _END)


def _write(stages: _Stages, workers: int, options: BatchOptions) -> None:
    """Write and score each prediction, then let the patient go (only its row travels on)."""
    ended = 0
    while ended < workers:
        job = stages.get(stages.predicted)
        if job is _END:
            ended += 1
            if stages.stop.is_set():
                return
            continue
        if job.error is None and job.patient is not None and job.result is not None:
            started = time.perf_counter()
            try:
                row = write_and_score(job.item, job.patient, job.result, options.fmt, options.report)
                job.row = with_timings(row, job.seconds + time.perf_counter() - started, job.result)
            except Exception as error:
                job.error = error
        job.patient = job.result = None
        stages.finished.put(job)


def _collect(stages: _Stages, items: Sequence[BatchItem], options: BatchOptions) -> list[Row]:
    """The rows in the patients' order, each handed to ``on_row`` the moment its turn is ready."""
    rows: list[Row] = []
    waiting: dict[int, _Job] = {}
    while len(rows) < len(items):
        raise_if_cancelled(options.should_cancel)
        if stages.crash is not None:
            raise stages.crash
        try:
            job = stages.finished.get(timeout=_POLL)
        except queue.Empty:
            _report(options.progress, len(rows), len(items))  # a heartbeat: a progress hook may cancel
            continue
        waiting[job.index] = job
        while len(rows) in waiting:
            done = waiting.pop(len(rows))
            if isinstance(done.error, Cancelled):
                raise done.error
            _deliver(rows, _row_of(done), options.on_row)
            stages.delivered_one()
            _report(options.progress, len(rows), len(items))
    return rows


def _report(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Patients done, on the caller's thread: after each row, and every ``_POLL`` seconds between."""
    if progress is not None:
        progress(done, total, "segmenting patients")


def _row_of(job: _Job) -> Row:
    if job.error is not None:
        return failure_row(job.item, job.error)
    assert job.row is not None, "a job without an error has its row"
    return job.row


def _deliver(rows: list[Row], row: Row, on_row: Callable[[Row], None] | None) -> None:
    rows.append(row)
    if on_row is not None:
        on_row(row)
