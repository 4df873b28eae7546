"""Segmenting many patients from Python: load → predict → write → score → CSV, one call.

``ctseg segment`` is a thin shim over :func:`segment_patients` (as TotalSegmentator's command is over
its Python API). A batch always finishes: a patient that fails gets an error row naming the problem
(a ctseg error's message, or for a bug its type and message, with the traceback in a log file),
later patients still run, and the summary CSV is written. Only an output folder that is a file,
which no patient could be written into, stops the batch before it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctseg_core.batch.models import SegmenterSource, model_processes, shared_segmenter
from ctseg_core.batch.patient import PatientSegmenter
from ctseg_core.batch.pipeline import BatchOptions, run_pipelined, run_sequential
from ctseg_core.batch.planning import OUTPUT_NAMES, BatchItem, check_outputs, expand_patients, plan_outputs
from ctseg_core.batch.rows import Row, write_summary
from ctseg_core.errors import InvalidArgumentError
from ctseg_core.progress import CancelCheck, ProgressCallback

if TYPE_CHECKING:
    from ctseg_core.batch.cluster import WorkerSegmenterLoader


def segment_patients(
    paths: Iterable[str | Path],
    out: str | Path | None = None,
    fmt: str = "ircad",
    model: str | Path | None = None,
    *,
    threads: int | None = None,
    summary: str | Path | None = None,
    segmenter: PatientSegmenter | None = None,
    on_row: Callable[[Row], None] | None = None,
    progress: ProgressCallback | None = None,
    report: bool = False,
    items: Sequence[BatchItem] | None = None,
    workers: int | None = None,
    prefetch: int = 1,
    scheduler: Any = None,
    should_cancel: CancelCheck | None = None,
    worker_segmenter: WorkerSegmenterLoader | None = None,
    durable_rows: bool = False,
) -> list[Row]:
    """Segment every patient under ``paths`` and return one row per patient (metrics or ``error``).

    ``fmt``: a ``--format`` name (:data:`OUTPUT_NAMES`; "ircad" writes ``MASKS_DICOM/liver_pred``).
    ``summary``: CSV path; by
    default ``OUT/ctseg_summary.csv`` is written for batches of more than one patient.
    ``on_row`` sees each row as soon as it is ready, in the patients' order, on the calling thread
    (the CLI prints it; a cohort batch stores it). ``items``: patients already planned (a cohort's
    series, each with its output folder), instead of ``paths``.

    How the patients run: loading the next ``prefetch`` patients while the current one is in the
    network, and writing on another thread (``prefetch=0``: strictly one after another);
    ``workers=N``: N model processes (:mod:`ctseg_core.engine`) instead of the model in this process;
    ``scheduler``: a Dask scheduler's address (or a ``distributed.Client``) to run one task per
    patient on a cluster whose workers load the model once each (``worker_segmenter``: what they
    load, by default ``model``). ``should_cancel`` stops the batch with
    :class:`~ctseg_core.errors.Cancelled`. ``durable_rows``: a patient enters the network only once
    the rows before it were handed to ``on_row`` (a batch that stores each row loses none it finished
    when killed, as a sequential one; see :mod:`ctseg_core.batch.pipeline`).
    """
    _check_arguments(fmt, workers, prefetch, segmenter, scheduler)
    out_path = Path(out) if out is not None else None
    check_outputs(out_path, summary)
    options = BatchOptions(fmt, report, on_row, progress, should_cancel, durable_rows)
    if scheduler is not None:
        from ctseg_core.batch.cluster import run_on_cluster, worker_model

        loader = worker_segmenter or worker_model(Path(model) if model else None, threads)
        planned = _plan(paths, items, out_path)
        rows = run_on_cluster(planned, scheduler, loader, options)
    else:
        source = _segmenter_source(segmenter, model, threads, workers)
        planned = _plan(paths, items, out_path)
        if prefetch == 0 or len(planned) <= 1:
            rows = run_sequential(planned, source, options)
        else:
            rows = run_pipelined(planned, source, options, workers or 1, prefetch)
    if len(rows) > 1 or summary is not None:
        target = Path(summary) if summary is not None else (out_path or Path(".")) / "ctseg_summary.csv"
        write_summary(rows, target)
    return rows


def _check_arguments(
    fmt: str, workers: int | None, prefetch: int, segmenter: PatientSegmenter | None, scheduler: Any
) -> None:
    if fmt not in OUTPUT_NAMES:
        raise ValueError(f"fmt must be one of {sorted(OUTPUT_NAMES)}, got {fmt!r}")
    if workers is not None and workers < 1:
        raise InvalidArgumentError(None, f"workers must be a whole number ≥ 1, got {workers!r}")
    if prefetch < 0:
        raise InvalidArgumentError(None, f"prefetch must be ≥ 0, got {prefetch!r}")
    if scheduler is not None and (segmenter is not None or workers is not None):
        raise InvalidArgumentError(None, "a cluster batch loads its model on the cluster's workers: no segmenter")
    if segmenter is not None and workers is not None:
        raise InvalidArgumentError(None, "give a loaded segmenter or a number of model processes (workers), not both")


def _segmenter_source(
    segmenter: PatientSegmenter | None, model: str | Path | None, threads: int | None, workers: int | None
) -> SegmenterSource:
    """Model processes for ``workers``, else the given segmenter, else the model loaded here."""
    if workers is not None:
        return model_processes(Path(model) if model else None, threads, workers)
    if segmenter is None:
        from ctseg_core.model.inference import Segmenter

        segmenter = Segmenter.load(Path(model) if model else None, threads=threads)
    return shared_segmenter(segmenter)


def _plan(paths: Iterable[str | Path], items: Sequence[BatchItem] | None, out: Path | None) -> list[BatchItem]:
    return list(items) if items is not None else plan_outputs(expand_patients(paths), out)
