"""A batch on a Dask cluster (``distributed``): one task per patient, the model loaded once per worker.

A worker plugin loads the model when the worker joins (in that worker's process: ONNX Runtime by
default); each task loads, segments, writes and scores one patient there, so the patients' folders
and the output folder must be at the same paths on the workers (a shared file system). Only rows
come back: the client alone calls ``on_row`` (the cohort database) and writes the summary CSV, in
the patients' order. A patient that fails is its error row, made on the worker; a task whose
workers die (killed, out of memory) is retried as the scheduler's ``allowed-failures`` says and
then becomes a :class:`~ctseg_core.batch.rows.WorkerLostError` row: the batch is never lost.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import Client, Future, KilledWorker, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from ctseg_core.batch.patient import PatientSegmenter, segment_patient
from ctseg_core.batch.pipeline import BatchOptions
from ctseg_core.batch.planning import BatchItem
from ctseg_core.batch.rows import Row, WorkerLostError, failure_row
from ctseg_core.errors import InvalidArgumentError
from ctseg_core.progress import raise_if_cancelled

#: What each worker loads once: a picklable callable returning a segmenter.
WorkerSegmenterLoader = Callable[[], PatientSegmenter]
#: How often the client looks at its tasks and its cancel check (seconds).
_POLL = 0.1
#: How long the client waits to reach the scheduler.
CONNECT_TIMEOUT_S = 30


@dataclass(frozen=True)
class WorkerModel:
    """The model file (None: the bundled one) a worker loads with :meth:`Segmenter.load`."""

    model_path: Path | None = None
    threads: int | None = None

    def __call__(self) -> PatientSegmenter:
        from ctseg_core.model.inference import Segmenter

        return Segmenter.load(self.model_path, threads=self.threads)


def worker_model(model_path: Path | None, threads: int | None) -> WorkerSegmenterLoader:
    """The default worker loader: ``model_path`` (a path the workers can read) on ``threads``."""
    return WorkerModel(model_path, threads)


class ModelPlugin(WorkerPlugin):
    """Loads the model once in each worker (and in each worker that joins or restarts later).

    A model that fails to load is kept as the error every patient of that worker reports.
    """

    def __init__(self, load: WorkerSegmenterLoader) -> None:
        self.load = load
        self.segmenter: PatientSegmenter | None = None
        self.error: Exception | None = None

    def setup(self, worker: Any) -> None:
        try:
            self.segmenter = self.load()
        except Exception as error:  # each patient's row says why, the batch goes on
            self.error = error

    def teardown(self, worker: Any) -> None:
        self.segmenter = None

    def get(self) -> PatientSegmenter:
        if self.segmenter is None:
            raise self.error or RuntimeError("the worker's model is not loaded")
        return self.segmenter


def segment_on_worker(item: BatchItem, plugin_name: str, fmt: str, report: bool) -> Row:
    """One patient's task: its row, or its error row (with the log file on the worker)."""
    try:
        plugin = get_worker().plugins[plugin_name]
        assert isinstance(plugin, ModelPlugin), f"{plugin_name} is not ctseg's model plugin"
        return segment_patient(item, plugin.get(), fmt, None, report)
    except Exception as error:
        return failure_row(item, error)


def run_on_cluster(
    items: Sequence[BatchItem], scheduler: Any, load: WorkerSegmenterLoader, options: BatchOptions
) -> list[Row]:
    """The batch as one task per patient on the cluster at ``scheduler`` (an address or a Client)."""
    client, owned = _client(scheduler)
    name = f"ctseg-model-{secrets.token_hex(4)}"
    futures: list[Future] = []
    try:
        client.register_plugin(ModelPlugin(load), name=name)
        futures = [
            client.submit(segment_on_worker, item, name, options.fmt, options.report, key=f"{name}-patient-{i}")
            for i, item in enumerate(items)
        ]
        return _collect(futures, items, options)
    finally:
        client.cancel(futures)
        _forget_plugin(client, name)
        if owned:
            client.close()


def _client(scheduler: Any) -> tuple[Client, bool]:
    """A client of ``scheduler`` and whether this batch made it (and so closes it)."""
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False), True
    except (OSError, TimeoutError) as error:
        raise InvalidArgumentError(None, f"cannot reach the Dask scheduler at {scheduler}: {error}") from error


def _forget_plugin(client: Client, name: str) -> None:
    """Let the workers drop this batch's model (best effort: the cluster may be gone)."""
    try:
        client.unregister_worker_plugin(name)
    except Exception:  # the scheduler went away, or the plugin never registered
        return


def _collect(futures: list[Future], items: Sequence[BatchItem], options: BatchOptions) -> list[Row]:
    """The rows in the patients' order, each handed to ``on_row`` as soon as its turn is ready."""
    rows: list[Row] = []
    waiting: dict[int, Row] = {}
    pending = dict(enumerate(futures))
    while len(rows) < len(items):
        raise_if_cancelled(options.should_cancel)
        finished = [index for index, future in pending.items() if future.done()]
        if not finished:
            time.sleep(_POLL)
            continue
        for index in finished:
            waiting[index] = _row_of(pending.pop(index), items[index])
        while len(rows) in waiting:
            rows.append(row := waiting.pop(len(rows)))
            if options.on_row is not None:
                options.on_row(row)
            if options.progress is not None:
                options.progress(len(rows), len(items), "segmenting patients on the cluster")
    return rows


def _row_of(future: Future, item: BatchItem) -> Row:
    """A finished task's row; a task the cluster could not run is its patient's error row."""
    if future.status == "finished":
        row: Row = future.result()
        future.release()
        return row
    if future.status == "cancelled":
        return failure_row(item, WorkerLostError(None, "the cluster dropped this patient's task (scheduler gone?)"))
    error = future.exception()
    future.release()
    if isinstance(error, KilledWorker):
        return failure_row(item, WorkerLostError(None, f"the Dask workers segmenting this patient died ({error})"))
    return failure_row(item, error if isinstance(error, Exception) else RuntimeError(str(error)))
