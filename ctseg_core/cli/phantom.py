"""``ctseg phantom``: write a synthetic phantom patient in the IRCAD layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from ctseg_core.cli.terminal import progress_bar
from ctseg_core.errors import OutputExistsError


def refuse_a_patient_folder(out: Path) -> None:
    """OutputExistsError when ``out`` already holds a patient (or patients below it) by the discovery
    rule: a phantom written there would open instead of that patient and shadow its ground truth."""
    from ctseg_core.io.discovery import find_patients

    if (out / "PATIENT_DICOM").exists():
        raise OutputExistsError(out, "already holds a PATIENT_DICOM folder; choose an empty folder")
    found = find_patients(out).patients if out.is_dir() else ()
    if found:
        names = ", ".join(str(p.relative_to(out)) if p != out else "the folder itself" for p in found[:3])
        raise OutputExistsError(
            out,
            f"already holds a patient ({names}{' …' if len(found) > 3 else ''}): a phantom written here "
            "would replace it when opened; choose an empty or new folder",
        )


def run(args: argparse.Namespace) -> int:
    from ctseg_core.io.atomic import check_output_folder
    from ctseg_core.synth.phantom import write_phantom

    check_output_folder(args.out)
    refuse_a_patient_folder(args.out)
    with progress_bar(True) as progress:
        out = write_phantom(args.out, seed=args.seed, slices=args.slices, size=args.size, progress=progress)
    print(out)
    return 0
