"""Segment all (issue 23 §5): patients per minute through the cohort batch, sequential against
pipelined against 2 model processes.

Run: ``python benchmarks/bench_cohort_batch.py [--phantoms 20] [--size 256] [--threads 2] [--rounds 1]
[--no-ircad]``.
Writes ``--phantoms`` phantom patients in mixed layouts (``phantom_cohort.py``: IRCAD folders and
zips, NIfTI, DICOM in other orientations, LiTS pairs; 24–63 slices) and unzips the three IRCAD
patients of ../shared/data/3Dircadb1 (when present) into a temporary folder (deleted at the end;
nothing is copied into the repository), indexes each set into a cohort database, then times
:func:`ctseg_core.batch.cohort.segment_series` (what ``ctseg segment --cohort`` and the viewer's
Segment all run) over every series, with the bundled model, NIfTI masks written, every series scored
and its result stored in the database:

- ``sequential``: ``prefetch=0``, the model loaded in this process with ``--threads`` threads;
- ``pipelined``: the default (a loader and a writer thread around the same model; a series enters
  the network once the row before it is stored, as the cohort batch asks);
- ``workers 2``: two model processes (``--threads`` shared between them), their start included.

Prints patients per minute (best round), wall and CPU seconds (this process and its children) and
the load average before and after each run; every mode must store the same Dice for every series.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench_batch import IRCAD, report_best, report_round, timed, unzip_ircad
from phantom_cohort import write_patient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phantoms", type=int, default=20)
    parser.add_argument("--size", type=int, default=256, help="the phantoms' rows and columns")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="the model's threads (shared by the workers)")
    parser.add_argument("--no-ircad", action="store_true", help="the phantoms only")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu_name()}, {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="ctseg-bench-cohort-") as folder:
        root = Path(folder)
        sets = {f"{args.phantoms} phantoms, mixed layouts, {args.size}²": write_phantoms(root / "phantoms", args)}
        if IRCAD.is_dir() and not args.no_ircad:
            sets["3 IRCAD patients"] = unzip_ircad(root / "ircad")
        for label, patients in sets.items():
            bench_set(label, index(patients, root / f"{patients.name}.sqlite"), root / "out", args)


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def write_phantoms(folder: Path, args: argparse.Namespace) -> Path:
    for k in range(args.phantoms):
        write_patient(folder, k, args.size)
    return folder


def index(patients: Path, database: Path) -> Path:
    from ctseg_core.cohort import CohortDatabase

    started = time.perf_counter()
    with CohortDatabase(database) as cohort:
        cohort.index([patients])
        summary = cohort.summary()
    print(f"\nindexed {summary.series} series of {summary.patients} patients in {time.perf_counter() - started:.1f} s")
    return database


def bench_set(label: str, database: Path, out: Path, args: argparse.Namespace) -> None:
    from ctseg_core.batch.cohort import chosen_series, model_identity, segment_series
    from ctseg_core.cohort import CohortDatabase
    from ctseg_core.model.inference import Segmenter

    segmenter = Segmenter.load(None, threads=args.threads)
    model = model_identity(None)
    print(f"{label}: model {segmenter.path.name} on {segmenter.backend}, {args.threads} threads")
    modes: dict[str, dict[str, Any]] = {
        "sequential": {"segmenter": segmenter, "prefetch": 0},
        "pipelined": {"segmenter": segmenter},
        "workers 2": {"workers": 2, "threads": max(1, args.threads // 2)},
    }
    best: dict[str, float] = {}
    dice: dict[str, list[Any]] = {}
    for round_ in range(args.rounds):
        for mode, engine in modes.items():
            shutil.rmtree(out, ignore_errors=True)
            copy = shutil.copy(database, database.with_name(f"run_{database.name}"))
            with CohortDatabase(copy) as cohort:
                series = chosen_series(cohort, model)
                run = partial(segment_series, cohort, series, model, out, "nifti", **engine)
                rows, wall, cpu, loads = timed(run)
                stored = {row.series_id: row.dice for row in cohort.list_series()}
            dice[mode] = [round(d, 6) if d is not None else None for _, d in sorted(stored.items())]
            report_round(round_, mode, rows, wall, cpu, loads, best)
    report_best(best, dice)


if __name__ == "__main__":
    main()
