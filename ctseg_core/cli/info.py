"""``ctseg info``: what a patient path holds (CT series, geometry, masks, label files of named
segments beside the CT), as text or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ctseg_core.cli.terminal import progress_bar
from ctseg_core.shown_text import for_terminal


def run(args: argparse.Namespace) -> int:
    from ctseg_core.io.loading import load_patient
    from ctseg_core.io.summary import patient_summary

    with progress_bar(not args.json) as progress:
        patient = load_patient(args.path, series_uid=args.series, progress=progress)
    summary = patient_summary(patient)
    summary["label_files"] = _label_files(patient)
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
    for entry in summary["label_files"]:
        _print_label_file(entry, Path(summary["path"]))
    for warning in summary["warnings"]:
        print(f"  warning: {for_terminal(warning)}")
    print(f"  loaded in {summary['load_seconds']:.2f} s")


#: How the text output names each kind of label file.
_KIND_TITLES = {
    "seg": "DICOM SEG",
    "rtstruct": "RTSTRUCT",
    "seg.nrrd": "Slicer .seg.nrrd",
    "nifti": "NIfTI + label description",
    "itk": "NRRD/MetaImage + label description",
}


def _label_files(patient: Any) -> list[dict[str, object]]:
    """The label files of named segments in the patient's folder, each with its segment names."""
    from ctseg_core.io.label_files import describe_label_file, find_label_files

    source = Path(patient.source_path)
    folder = source if source.is_dir() else source.parent
    skip = [*patient.source.slice_names, str(source)]
    return [describe_label_file(path) for path in find_label_files(folder, skip)]


def _print_label_file(entry: dict[str, Any], patient_path: Path) -> None:
    path = Path(entry["path"])
    folder = patient_path if patient_path.is_dir() else patient_path.parent
    shown = path.relative_to(folder) if path.is_relative_to(folder) else path
    kind = _KIND_TITLES.get(str(entry["format"]), str(entry["format"]))
    if "error" in entry:
        print(f"  label file   {for_terminal(str(shown))} ({kind}): not readable: {for_terminal(entry['error'])}")
        return
    names = ", ".join(for_terminal(str(n)) for n in entry["segments"]) or "no segment"
    origin = "ground truth" if entry["ground_truth"] else "written by ctseg"
    print(f"  label file   {for_terminal(str(shown))} ({kind}, {origin}): {names}")
