"""``ctseg info``: what a patient path holds (CT series, geometry, masks), as text or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ctseg_core.cli.terminal import progress_bar
from ctseg_core.shown_text import for_terminal


def run(args: argparse.Namespace) -> int:
    from ctseg_core.io.loading import load_patient
    from ctseg_core.io.summary import patient_summary

    with progress_bar(not args.json) as progress:
        patient = load_patient(args.path, series_uid=args.series, progress=progress)
    summary = patient_summary(patient)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    dz, dy, dx = summary["spacing_mm"]
    print(for_terminal(summary["path"]))
    print(f"  patient      {for_terminal(summary['patient'])}  ({for_terminal(summary['series_description'])})")
    print(f"  shape        {' × '.join(map(str, summary['shape']))} (z, y, x)")
    print(f"  spacing      {dz:g} × {dy:g} × {dx:g} mm   slice order by {summary['slice_order']}")
    stored = "reoriented to the canonical LPS grid" if summary["reoriented"] else "already canonical"
    print(f"  stored as    {summary['stored_orientation']} (x, y, z), {stored}")
    print(f"  HU range     {summary['hu_min']} … {summary['hu_max']}")
    for name, mask in summary["masks"].items():
        print(f"  mask {for_terminal(name):<14} {mask['voxels']:>10} voxels {mask['volume_ml']:>10.1f} mL")
    for warning in summary["warnings"]:
        print(f"  warning: {for_terminal(warning)}")
    print(f"  loaded in {summary['load_seconds']:.2f} s")
