"""``ctseg segment``: segment patients (or parents of patients) with a model, a line per patient."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctseg_core.cli.exits import EXIT_FAILED_PATIENTS, EXIT_OK
from ctseg_core.cli.terminal import progress_bar

if TYPE_CHECKING:
    from ctseg_core.model.inference import Segmenter


def run(args: argparse.Namespace) -> int:
    from ctseg_core.batch import check_outputs, segment_patients

    started = time.perf_counter()
    check_outputs(args.out, args.summary)  # before the model loads: seconds, for nothing
    segmenter = _load_segmenter(args)
    with progress_bar(not args.json) as progress:
        rows = segment_patients(
            args.paths,
            args.out,
            args.format,
            segmenter=segmenter,
            summary=args.summary,
            on_row=lambda row: _print_row(row, args.json),
            progress=progress,
            report=args.report,
        )
    if len(rows) > 1 and not args.json:
        where = args.summary or (args.out or Path(".")) / "ctseg_summary.csv"
        print(f"summary of {len(rows)} patients: {where} ({time.perf_counter() - started:.1f} s)")
    return EXIT_FAILED_PATIENTS if any("error" in row for row in rows) else EXIT_OK


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
    if "error" in row:
        print(f"{row['patient']}: error: {row['error']}", file=sys.stderr)
        return
    print(
        f"{row['patient']}: Dice {format_metric(row['dice'])}  Jaccard {format_metric(row['jaccard'])}  "
        f"ASSD {format_metric(row['assd_mm'], 2)} mm  HD95 {format_metric(row['hd95_mm'], 2)} mm  "
        f"pred {row['volume_ml_pred']:.1f} mL  GT {format_metric(row['volume_ml_gt'], 1)} mL  "
        f"{row['seconds']:.1f} s → {row['output']}"
    )
    if row.get("estimated_dice") is not None:
        flag = f"  CHECK THIS SCAN: {row['quality_reasons']}" if row.get("check_scan") else ""
        note = "" if row.get("quality_calibrated") else " (uncalibrated)"
        print(f"{row['patient']}: estimated Dice {row['estimated_dice']:.3f}{note}{flag}")
