"""The cohort browser's jobs as plain functions of ``(progress, should_cancel)``; no Qt here.

:func:`segment_cohort` is ``ctseg segment --cohort`` on a worker, through the same core function
(:func:`ctseg_core.batch.cohort.segment_series`: the pipelined batch, the model's identity, each row
paired with its series and scored against the ground truth the index found), with the window's
model process as the segmenter. Each result is stored the moment it is ready, through the worker's
own connection (SQLite connections stay on their thread), so the table, polling the database,
fills in live and a cancelled or killed batch keeps every finished result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctseg_core.cohort import CohortDatabase, ModelIdentity, SeriesQuery
from ctseg_core.cohort.query import ALL_SEGMENTABLE
from ctseg_core.io.loading import patient_series
from ctseg_core.io.series import SeriesSummary
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled
from ctseg_gui.jobs.segmentation import SegmenterCache

#: Output format of Segment all: NIfTI works for every layout the cohort holds.
OUTPUT_FORMAT = "nifti"


@dataclass(frozen=True)
class CohortBatch:
    """What Segment all segments: the series ``query`` matches (``series_ids``: only those, in
    that order), ``only_new``: leaving out those the model already has a result for."""

    database: Path
    out: Path
    query: SeriesQuery = ALL_SEGMENTABLE
    series_ids: tuple[int, ...] | None = None
    only_new: bool = False


@dataclass(frozen=True)
class CohortBatchOutcome:
    segmented: int
    failed: int
    model: ModelIdentity


def outputs_folder(database: Path) -> Path:
    """Where Segment all writes its masks and summary: beside the database, never into the patients' folders."""
    return database.with_name(f"{database.stem}_outputs")


def segment_cohort(
    batch: CohortBatch,
    segmenters: SegmenterCache,
    model_path: str | None,
    progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> CohortBatchOutcome:
    """Segment the batch's series with the window's model (in its model process), storing each
    result as it lands (:func:`ctseg_core.batch.cohort.segment_series`, pipelined)."""
    from ctseg_core.batch.cohort import chosen_series, model_identity, segment_series

    progress(0, 0, "loading model")
    segmenter = segmenters.get(model_path)
    raise_if_cancelled(should_cancel)
    model = model_identity(model_path)
    with CohortDatabase(batch.database, create=False) as cohort:
        series = chosen_series(cohort, model, batch.query, batch.series_ids, batch.only_new)
        counts = {"done": 0, "failed": 0}
        progress(0, len(series), f"0 of {len(series)} segmented")

        def count(row: dict[str, Any]) -> None:
            counts["done"] += 1
            counts["failed"] += "error" in row
            progress(counts["done"], len(series), f"{counts['done']} of {len(series)} segmented")

        segment_series(
            cohort,
            series,
            model,
            batch.out,
            OUTPUT_FORMAT,
            on_row=count,
            segmenter=segmenter,
            summary=batch.out / "ctseg_summary.csv" if series else None,
            progress=_cancel_checks(should_cancel),
            should_cancel=should_cancel,
        )
    raise_if_cancelled(should_cancel)
    return CohortBatchOutcome(counts["done"] - counts["failed"], counts["failed"], model)


def _cancel_checks(should_cancel: CancelCheck) -> ProgressCallback:
    """The batch reports each patient's loading and prediction here: each report is a chance to stop."""

    def report(done: int, total: int, stage: str) -> None:
        raise_if_cancelled(should_cancel)

    return report


def list_patient_series(
    path: str | Path, progress: ProgressCallback, should_cancel: CancelCheck
) -> list[SeriesSummary]:
    """The CT series of a folder (headers only), for the series picker; the others are not offered."""
    found = patient_series(path, progress, should_cancel)
    raise_if_cancelled(should_cancel)
    return [summary for summary in found if summary.modality in ("CT", "")]
