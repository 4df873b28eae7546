"""The cohort table as CSV: one row per series, what ``ctseg cohort --csv`` prints and the viewer's
browser exports; no cell can become a spreadsheet formula (:func:`ctseg_core.shown_text.csv_row`)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from ctseg_core.cohort.query import GroundTruth, SeriesRow, row_as_json
from ctseg_core.shown_text import csv_row


def csv_record(row: SeriesRow, truths: Iterable[GroundTruth]) -> dict[str, Any]:
    """One series as flat cells: spacing as ``z×y×x``, ground truths as ``kind:name`` joined by "; "."""
    record = row_as_json(row, [])
    record["spacing_mm"] = "×".join(f"{v:g}" for v in row.spacing_mm) if row.spacing_mm else ""
    record["ground_truths"] = "; ".join(f"{t.kind}:{t.name}" for t in truths)
    return record


def write_csv(rows: list[SeriesRow], truths: dict[int, list[GroundTruth]], handle: TextIO) -> int:
    """Write the rows (in their order) with a header line to ``handle``; how many were written."""
    records = [csv_record(row, truths.get(row.series_id, [])) for row in rows]
    columns = list(records[0]) if records else ["series_id"]
    writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_row(record) for record in records)
    return len(records)
