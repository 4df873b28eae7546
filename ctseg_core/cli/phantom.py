"""``ctseg phantom``: write a synthetic phantom patient in the IRCAD layout."""

from __future__ import annotations

import argparse

from ctseg_core.cli.terminal import progress_bar
from ctseg_core.errors import OutputExistsError


def run(args: argparse.Namespace) -> int:
    from ctseg_core.io.atomic import check_output_folder
    from ctseg_core.synth.phantom import write_phantom

    check_output_folder(args.out)
    if (args.out / "PATIENT_DICOM").exists():
        raise OutputExistsError(args.out, "already holds a PATIENT_DICOM folder; choose an empty folder")
    with progress_bar(True) as progress:
        out = write_phantom(args.out, seed=args.seed, slices=args.slices, size=args.size, progress=progress)
    print(out)
    return 0
