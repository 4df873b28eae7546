"""The cohort browser's jobs as plain functions of ``(progress, should_cancel)``; no Qt here.

:func:`segment_cohort` is ``ctseg segment --cohort`` on a worker: the core batch
(:func:`ctseg_core.batch.segment_patients` with ``items=``) over the chosen series, each result
stored in the database the moment it is ready, through the worker's own connection (SQLite
connections stay on their thread), so the table, polling the database, fills in live and a
cancelled or killed batch keeps every finished result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctseg_core.cohort import CohortDatabase, ModelIdentity, SeriesQuery, SeriesRow
from ctseg_core.cohort.query import ALL_SEGMENTABLE
from ctseg_core.cohort.scoring import with_indexed_truth
from ctseg_core.io.loading import patient_series
from ctseg_core.io.series import SeriesSummary
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled
from ctseg_gui.jobs.segmentation import SegmenterCache, model_file

if TYPE_CHECKING:
    from ctseg_core.batch import BatchItem

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


def model_identity(model_path: str | None) -> ModelIdentity:
    """The model as results name it: its registered file's hash (a file that is not there: its path's)."""
    path = model_file(model_path)
    name = Path(model_path).stem if model_path else "bundled"
    if path.is_file() or path.is_dir():
        return ModelIdentity.of_file(path, name)
    return ModelIdentity(name, hashlib.sha256(str(path).encode()).hexdigest())


def batch_items(series: Sequence[SeriesRow], out: Path) -> list[BatchItem]:
    """Each series as a batch item: its patient path, its UID, an output folder no other series shares."""
    from ctseg_core.batch import plan_outputs

    planned = plan_outputs([Path(row.path) for row in series], out)
    return [replace(item, series_uid=row.load_series_uid) for item, row in zip(planned, series, strict=True)]


class RowOwners:
    """Which series a batch row belongs to, by its ``source`` and ``series_uid`` (not by order:
    a batch on several workers may finish them in any order)."""

    def __init__(self, series: Sequence[SeriesRow], items: Sequence[BatchItem]) -> None:
        self._ids = {(str(i.source), i.series_uid): row.series_id for i, row in zip(items, series, strict=True)}

    def ids(self) -> list[int]:
        return list(self._ids.values())

    def series_id(self, row: Mapping[str, Any]) -> int | None:
        return self._ids.get((str(row.get("source")), row.get("series_uid") or None))


def chosen_series(cohort: CohortDatabase, batch: CohortBatch, model: ModelIdentity) -> list[SeriesRow]:
    query = replace(batch.query, without_result_of=model.sha256 if batch.only_new else None)
    if batch.series_ids is None:
        return cohort.list_series(query)
    wanted = set(cohort.series_ids(query))
    rows = cohort.rows_by_id([i for i in batch.series_ids if i in wanted])
    return [rows[i] for i in batch.series_ids if i in rows]


def segment_cohort(
    batch: CohortBatch,
    segmenters: SegmenterCache,
    model_path: str | None,
    progress: ProgressCallback,
    should_cancel: CancelCheck,
) -> CohortBatchOutcome:
    """Segment the batch's series with the window's model, storing each result as it lands."""
    from ctseg_core.batch import segment_patients

    progress(0, 0, "loading model")
    segmenter = segmenters.get(model_path)
    model = model_identity(model_path)
    with CohortDatabase(batch.database, create=False) as cohort:
        series = chosen_series(cohort, batch, model)
        items = batch_items(series, batch.out)
        owners, counts = RowOwners(series, items), {"done": 0, "failed": 0}
        by_id, truths = {row.series_id: row for row in series}, cohort.ground_truths(list(owners.ids()))
        progress(0, len(items), f"0 of {len(items)} segmented")

        def store(row: dict[str, Any]) -> None:
            series_id = owners.series_id(row)
            if series_id is not None:
                row = with_indexed_truth(row, by_id[series_id], truths.get(series_id, []))
                cohort.record_result(series_id, row, model)
            counts["done"] += 1
            counts["failed"] += "error" in row
            progress(counts["done"], len(items), f"{counts['done']} of {len(items)} segmented")

        segment_patients(
            [],
            batch.out,
            OUTPUT_FORMAT,
            segmenter=segmenter,
            summary=batch.out / "ctseg_summary.csv" if items else None,
            on_row=store,
            progress=_cancel_checks(should_cancel),
            items=items,
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
