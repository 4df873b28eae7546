"""``ctseg index``: index folders into the cohort database, then say what it holds and what went wrong."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from ctseg_core.cli.terminal import progress_bar
from ctseg_core.shown_text import for_terminal

if TYPE_CHECKING:
    from ctseg_core.cohort import CohortSummary, IndexReport

#: Warnings listed one by one; the rest are counted.
LISTED_WARNINGS = 20


def run(args: argparse.Namespace) -> int:
    from ctseg_core.cohort import CohortDatabase
    from ctseg_core.cohort.indexer import index_root_path

    for root in args.roots:
        index_root_path(root)  # a missing root is refused before anything is read
    with CohortDatabase(args.db) as cohort:
        with progress_bar(not args.json) as progress:
            report = cohort.index(args.roots, progress=progress)
        summary = cohort.summary()
        if args.json:
            found = {"database": str(cohort.path), "index": asdict(report), "cohort": summary.to_dict()}
            print(json.dumps(found, indent=2))
        else:
            _print_report(report)
            _print_summary(str(cohort.path), summary)
            _print_warnings(report.warnings)
    return 0


def _print_report(report: IndexReport) -> None:
    roots = ", ".join(for_terminal(root) for root in report.roots)
    if not (report.added or report.changed or report.removed or report.units_written):
        print(f"indexed {roots}: unchanged, {report.files} files ({report.seconds:.2f} s)")
        return
    print(
        f"indexed {roots}: {report.files} files ({report.added} new, {report.changed} changed, "
        f"{report.removed} removed), {report.read} headers read, {report.units_written} patients written, "
        f"{report.units_removed} gone ({report.seconds:.1f} s)"
    )


def _print_summary(database: str, summary: CohortSummary) -> None:
    print(f"cohort database {for_terminal(database)}:")
    print(f"  patients      {summary.patients} ({summary.dicom_patients} DICOM patients, {summary.studies} studies)")
    offered = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.offered.items()))
    print(f"  series        {summary.series}; offered to the model: {sum(summary.offered.values())} ({offered or '-'})")
    for reason, count in sorted(summary.not_offered.items(), key=lambda item: -item[1]):
        print(f"    not offered {count:>5}  {for_terminal(reason)}")
    truths = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.ground_truths.items()))
    print(f"  ground truths {sum(summary.ground_truths.values())} ({truths or '-'})")
    reviews = ", ".join(f"{state} {count}" for state, count in sorted(summary.reviews.items()))
    print(f"  results       {summary.results}; reviews: {reviews or '-'}")


def _print_warnings(warnings: list[str]) -> None:
    if not warnings:
        return
    print(f"warnings ({len(warnings)}):")
    for warning in warnings[:LISTED_WARNINGS]:
        print(f"  {for_terminal(warning)}")
    if len(warnings) > LISTED_WARNINGS:
        print(f"  … and {len(warnings) - LISTED_WARNINGS} more")
