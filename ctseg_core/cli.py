"""The ``ctseg`` command. Headless subcommands never import Qt; ``view`` and ``demo`` do, lazily."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from .errors import Cancelled, CtsegError
from .progress import ProgressCallback


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A tqdm bar on stderr (only when stderr is a terminal), as a core progress callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=1, file=sys.stderr, leave=False, unit="file")

    def update(done: int, total: int, stage: str) -> None:
        if bar.total != total or bar.desc != stage:
            bar.reset(total=total)
            bar.set_description(stage)
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _cmd_info(args: argparse.Namespace) -> int:
    from .patient import load_patient
    from .summary import patient_summary

    with progress_bar(not args.json) as progress:
        patient = load_patient(args.path, series_uid=args.series, progress=progress)
    summary = patient_summary(patient)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    dz, dy, dx = summary["spacing_mm"]  # type: ignore[misc]
    print(f"{summary['path']}")
    print(f"  patient      {summary['patient']}  ({summary['series_description']})")
    print(f"  shape        {' × '.join(map(str, summary['shape']))} (z, y, x)")  # type: ignore[arg-type]
    print(f"  spacing      {dz:g} × {dy:g} × {dx:g} mm   slice order by {summary['slice_order']}")
    print(f"  HU range     {summary['hu_min']} … {summary['hu_max']}")
    for name, mask in summary["masks"].items():  # type: ignore[union-attr]
        print(f"  mask {name:<14} {mask['voxels']:>10} voxels {mask['volume_ml']:>10.1f} mL")
    for warning in summary["warnings"]:  # type: ignore[union-attr]
        print(f"  warning: {warning}")
    print(f"  loaded in {summary['load_seconds']:.2f} s")
    return 0


def _cmd_phantom(args: argparse.Namespace) -> int:
    from .phantom import write_phantom

    with progress_bar(True) as progress:
        out = write_phantom(args.out, seed=args.seed, slices=args.slices, size=args.size, progress=progress)
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctseg", description="Liver segmentation on abdominal CT.")
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="summarise a patient folder (CT series, geometry, masks)")
    info.add_argument("path", help="patient folder, IRCAD folder (zipped or not), DICOM folder or NIfTI")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--series", metavar="UID", help="SeriesInstanceUID to load when there are several")
    info.set_defaults(run=_cmd_info)

    phantom = commands.add_parser("phantom", help="write a synthetic phantom patient (IRCAD layout)")
    phantom.add_argument("out", type=Path, help="output folder (created)")
    phantom.add_argument("--seed", type=int, default=0)
    phantom.add_argument("--slices", type=int, default=64)
    phantom.add_argument("--size", type=int, default=512, help="rows and columns (e.g. 256, 512, 768)")
    phantom.set_defaults(run=_cmd_phantom)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ctseg`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CtsegError as error:
        print(f"ctseg: error: {error}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("ctseg: cancelled", file=sys.stderr)
        return 130
    except FileExistsError as error:
        print(f"ctseg: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
