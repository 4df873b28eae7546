"""``ctseg cohort``: the indexed series with their latest result and review, as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ctseg_core.shown_text import for_terminal

if TYPE_CHECKING:
    from ctseg_core.cohort import GroundTruth, SeriesRow

#: The table's columns: (heading, width); the path takes the rest of the line.
_COLUMNS = (("PATIENT", 22), ("DATE", 8), ("SERIES", 24), ("SLICES", 6), ("SPACING mm", 16), ("GT", 3))
_RESULT_COLUMNS = (("DICE", 5), ("EST.", 5), ("CHECK", 5), ("REVIEW", 10))


def run(args: argparse.Namespace) -> int:
    from ctseg_core.cohort import CohortDatabase, SeriesQuery

    query = SeriesQuery(
        text=args.filter,
        segmentable_only=not args.all,
        flagged_only=args.flagged,
        unreviewed_only=args.unreviewed,
        sort=args.sort,
        descending=args.descending,
    )
    with CohortDatabase(args.db, create=False) as cohort:
        rows = cohort.list_series(query)
        truths = cohort.ground_truths([row.series_id for row in rows]) if args.json or args.csv else {}
    if args.json:
        from ctseg_core.cohort.query import row_as_json

        print(json.dumps([row_as_json(row, truths.get(row.series_id, [])) for row in rows], indent=2))
    elif args.csv:
        _write_csv(rows, truths)
    else:
        _print_table(rows)
    return 0


def _write_csv(rows: list[SeriesRow], truths: dict[int, list[GroundTruth]]) -> None:
    """One CSV row per series (:func:`ctseg_core.cohort.export.write_csv`); no cell can become a formula."""
    from ctseg_core.cohort.export import write_csv

    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")  # paths as their bytes, like the batch summary
    write_csv(rows, truths, sys.stdout)


def _print_table(rows: list[SeriesRow]) -> None:
    from ctseg_core.metrics import format_metric

    heading = [_cell(name, width) for name, width in (*_COLUMNS, *_RESULT_COLUMNS)]
    print(" ".join([*heading, "PATH"]))
    for row in rows:
        spacing = "×".join(f"{v:.3g}" for v in row.spacing_mm) if row.spacing_mm else "?"
        check = "" if row.check_scan is None else ("CHECK" if row.check_scan else "ok")
        cells: list[Any] = [
            row.patient_name.replace("^", " ").strip() or row.patient_id,
            row.study_date,
            row.series_description or row.modality,
            row.slices,
            spacing,
            row.ground_truths,
            format_metric(row.dice),
            format_metric(row.estimated_dice),
            "error" if row.result_error else check,
            row.review,
        ]
        widths = [width for _, width in (*_COLUMNS, *_RESULT_COLUMNS)]
        print(" ".join([*(_cell(v, w) for v, w in zip(cells, widths, strict=True)), for_terminal(row.path)]))
    print(f"{len(rows)} series", file=sys.stderr)


def _cell(value: object, width: int) -> str:
    """A fixed-width cell of text from a file: control characters escaped, long text cut with "…"."""
    text = for_terminal(value)
    return (text[: width - 1] + "…" if len(text) > width else text).ljust(width)
