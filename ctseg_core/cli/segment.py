"""``ctseg segment``: segment patients (or parents of patients), or the cohort database's series
(``--cohort``), with a model, a line per patient."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctseg_core.cli.exits import EXIT_FAILED_PATIENTS, EXIT_OK
from ctseg_core.cli.terminal import progress_bar
from ctseg_core.shown_text import for_terminal

if TYPE_CHECKING:
    from ctseg_core.model.inference import Segmenter


def run(args: argparse.Namespace) -> int:
    from ctseg_core.batch import check_outputs, segment_patients

    started = time.perf_counter()
    _check_what_to_segment(args)
    check_outputs(args.out, args.summary)  # before the model loads: seconds, for nothing
    if args.cohort:
        return _run_cohort(args, started)
    engine = _engine(args)
    with progress_bar(not args.json) as progress:
        rows = segment_patients(
            args.paths,
            args.out,
            args.format,
            summary=args.summary,
            on_row=lambda row: _print_row(row, args.json),
            progress=progress,
            report=args.report,
            **engine,
        )
    _print_summary_line(rows, args, started)
    return EXIT_FAILED_PATIENTS if any("error" in row for row in rows) else EXIT_OK


def _engine(args: argparse.Namespace) -> dict[str, Any]:
    """Where the network runs: the model loaded here (the default), ``--workers`` model processes,
    or the workers of a Dask cluster (``--scheduler``), as :func:`segment_patients`' arguments."""
    from ctseg_core.model.inference import check_model_file
    from ctseg_core.model.registry import resolve_model

    if args.scheduler:  # no --model: each worker loads the bundled model of its own install
        model = resolve_model(args.model) if args.model else None
        return {"scheduler": args.scheduler, "model": model, "threads": args.threads}
    if args.workers:
        path = resolve_model(args.model)
        check_model_file(path)
        return {"workers": args.workers, "model": path, "threads": args.threads}
    return {"segmenter": _load_segmenter(args)}


def _print_summary_line(rows: list[dict[str, Any]], args: argparse.Namespace, started: float) -> None:
    if len(rows) > 1 and not args.json:
        where = args.summary or (args.out or Path(".")) / "ctseg_summary.csv"
        print(f"summary of {len(rows)} patients: {for_terminal(where)} ({time.perf_counter() - started:.1f} s)")


def _run_cohort(args: argparse.Namespace, started: float) -> int:
    """``--cohort``: every CT series of the database (``--only-new``: those this model has no result
    for), each result stored in the database the moment it is ready, besides today's outputs and
    CSV (:func:`ctseg_core.batch.cohort.segment_series`, as the viewer's Segment all)."""
    from ctseg_core.batch.cohort import chosen_series, model_identity, segment_series
    from ctseg_core.cohort import CohortDatabase

    with CohortDatabase(args.db, create=False) as cohort:
        engine = _engine(args)
        model = model_identity(args.model)
        series = chosen_series(cohort, model, only_new=args.only_new)
        if not series:
            print(f"nothing to segment in {for_terminal(cohort.path)} (run ctseg index first?)", file=sys.stderr)
            return EXIT_OK
        with progress_bar(not args.json) as progress:
            rows = segment_series(
                cohort,
                series,
                model,
                args.out,
                args.format,
                on_row=lambda row: _print_row(row, args.json),
                summary=args.summary,
                progress=progress,
                report=args.report,
                **engine,
            )
    _print_summary_line(rows, args, started)
    return EXIT_FAILED_PATIENTS if any("error" in row for row in rows) else EXIT_OK


def _check_what_to_segment(args: argparse.Namespace) -> None:
    """Patient paths or ``--cohort``: exactly one of them; cohort options only with ``--cohort``."""
    from ctseg_core.errors import InvalidArgumentError

    if args.cohort and args.paths:
        raise InvalidArgumentError(None, "give patient folders or --cohort, not both")
    if not args.cohort and not args.paths:
        raise InvalidArgumentError(None, "give patient folders (or --cohort to segment the indexed series)")
    if not args.cohort and (args.only_new or args.db):
        raise InvalidArgumentError(None, "--only-new and --db go with --cohort")


def _load_segmenter(args: argparse.Namespace) -> Segmenter:
    """The model asked for (the bundled one by default), its load times said on stderr."""
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.model.registry import resolve_model

    segmenter = Segmenter.load(resolve_model(args.model), threads=args.threads)
    if not args.json:
        print(
            f"model {segmenter.path.name} on {segmenter.backend}: import {segmenter.import_seconds:.1f} s, "
            f"model load {segmenter.load_seconds:.1f} s",
            file=sys.stderr,
        )
    return segmenter


def _print_row(row: dict[str, Any], as_json: bool) -> None:
    """One patient's outcome as soon as it is ready: a JSON line, or its metrics (errors on stderr)."""
    from ctseg_core.metrics import format_metric

    if as_json:
        print(json.dumps(row), flush=True)
        return
    patient = for_terminal(row["patient"])
    if "error" in row:
        print(f"{patient}: error: {for_terminal(row['error'])}", file=sys.stderr)
        return
    if row.get("warnings"):  # what the loader said (MR modality, several series, gaps, HU not HU…)
        print(f"{patient}: warning: {for_terminal(row['warnings'])}", file=sys.stderr)
    print(
        f"{patient}: Dice {format_metric(row['dice'])}  Jaccard {format_metric(row['jaccard'])}  "
        f"ASSD {format_metric(row['assd_mm'], 2)} mm  HD95 {format_metric(row['hd95_mm'], 2)} mm  "
        f"pred {row['volume_ml_pred']:.1f} mL  GT {format_metric(row['volume_ml_gt'], 1)} mL  "
        f"{row['seconds']:.1f} s → {for_terminal(row['output'])}"
    )
    if row.get("estimated_dice") is not None:
        flag = f"  CHECK THIS SCAN: {for_terminal(row['quality_reasons'])}" if row.get("check_scan") else ""
        note = "" if row.get("quality_calibrated") else " (uncalibrated)"
        print(f"{patient}: estimated Dice {row['estimated_dice']:.3f}{note}{flag}")
