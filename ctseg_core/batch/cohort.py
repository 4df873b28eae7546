"""A batch over the cohort database's series: ``ctseg segment --cohort`` and the viewer's Segment all.

One home for what both need, so they agree on every point:

- :func:`model_identity`: the model as results name it (its name and the SHA-256 of its ``.keras``,
  whichever engine runs it: an exported ONNX graph is only current when it records that hash), so
  "only the unsegmented" skips the same series in the viewer and on the command line;
- :func:`chosen_series`: the series a batch segments (a query, a list, only the new ones);
- :func:`cohort_items` and :class:`RowOwners`: each series as a batch item, and each row back to
  its series by its source and series UID (not by order, whatever engine or worker finished it);
- :func:`segment_series`: the batch itself, each row scored against a SEG or RTSTRUCT the index
  found elsewhere (:func:`~ctseg_core.cohort.scoring.with_indexed_truth`) and stored the moment it
  is ready, on the calling thread (SQLite connections stay on their thread).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ctseg_core.batch.planning import BatchItem, plan_outputs
from ctseg_core.batch.rows import Row
from ctseg_core.batch.run import segment_patients
from ctseg_core.cohort import CohortDatabase, ModelIdentity, SeriesQuery, SeriesRow
from ctseg_core.cohort.query import ALL_SEGMENTABLE
from ctseg_core.cohort.scoring import with_indexed_truth

#: What results call the bundled model, however it was named (None, "bundled" or its file's path).
BUNDLED_NAME = "bundled"


def model_identity(model: str | Path | None) -> ModelIdentity:
    """The identity of the model ``model`` names (None, "bundled", a registered name or a file).

    Its name: "bundled" for the bundled model, else the file's stem (a registered model's name);
    its hash: the ``.keras`` file's, the one the engines load (ONNX Runtime runs the graph exported
    from exactly that file). A file that is not there is named by its path's hash (its batch fails).
    """
    from ctseg_core.model.inference import default_model_path
    from ctseg_core.model.registry import resolve_model

    path = resolve_model(model)
    name = BUNDLED_NAME if _same_file(path, default_model_path()) else Path(path.name).stem
    if path.is_file() or path.is_dir():
        return ModelIdentity.of_file(path, name)
    return ModelIdentity(name, hashlib.sha256(str(path).encode()).hexdigest())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.resolve()
    except OSError:
        return False


def chosen_series(
    cohort: CohortDatabase,
    model: ModelIdentity,
    query: SeriesQuery = ALL_SEGMENTABLE,
    series_ids: Sequence[int] | None = None,
    only_new: bool = False,
) -> list[SeriesRow]:
    """The series ``query`` matches (``series_ids``: only those, in that order); ``only_new``:
    leaving out those ``model`` already has a result for."""
    query = replace(query, without_result_of=model.sha256 if only_new else None)
    if series_ids is None:
        return cohort.list_series(query)
    wanted = set(cohort.series_ids(query))
    rows = cohort.rows_by_id([i for i in series_ids if i in wanted])
    return [rows[i] for i in series_ids if i in rows]


def cohort_items(series: Sequence[SeriesRow], out: Path | None) -> list[BatchItem]:
    """Each series as a batch item: its patient path, its UID, an output folder no other series shares."""
    planned = plan_outputs([Path(row.path) for row in series], out)
    return [replace(item, series_uid=row.load_series_uid) for item, row in zip(planned, series, strict=True)]


class RowOwners:
    """Which series a batch row belongs to, by its ``source`` and ``series_uid`` (not by order: a
    batch on several workers or a cluster may finish them in any order). Series sharing both (two
    NIfTI volumes of one path cannot; a guard all the same) are handed out in the items' order."""

    def __init__(self, series: Sequence[SeriesRow], items: Sequence[BatchItem]) -> None:
        self._ids: dict[tuple[str, str | None], deque[int]] = {}
        for item, row in zip(items, series, strict=True):
            self._ids.setdefault((str(item.source), item.series_uid), deque()).append(row.series_id)

    def series_id(self, row: Mapping[str, Any]) -> int | None:
        """The series of ``row`` (each series once), None for a row of no series of the batch."""
        waiting = self._ids.get((str(row.get("source")), row.get("series_uid") or None))
        return waiting.popleft() if waiting else None


def segment_series(
    cohort: CohortDatabase,
    series: Sequence[SeriesRow],
    identity: ModelIdentity,
    out: Path | None,
    fmt: str,
    *,
    on_row: Callable[[Row], None] | None = None,
    durable_rows: bool = True,
    **batch: Any,
) -> list[Row]:
    """Segment ``series`` with :func:`segment_patients` (``batch``: its engine and hook arguments),
    storing each row as the result of the model ``identity`` names the moment it is ready, then
    handing it to ``on_row``.

    A row whose patient brought no ground truth is scored against the SEG or RTSTRUCT liver the
    index found for its series; the row is completed in place, so the summary CSV, the row printed
    and the result stored all hold those scores. ``durable_rows`` (the default): a batch killed at
    any moment has stored every series it finished (see :mod:`ctseg_core.batch.pipeline`).
    """
    items = cohort_items(series, out)
    owners = RowOwners(series, items)
    by_id = {row.series_id: row for row in series}
    truths = cohort.ground_truths(list(by_id))

    def store(row: Row) -> None:
        series_id = owners.series_id(row)
        if series_id is not None:
            row.update(with_indexed_truth(row, by_id[series_id], truths.get(series_id, [])))
            cohort.record_result(series_id, row, identity)
        if on_row is not None:
            on_row(row)

    return segment_patients([], out, fmt, on_row=store, items=items, durable_rows=durable_rows, **batch)
