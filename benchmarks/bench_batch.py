"""Batch throughput (issue 22 §5): patients per minute, sequential against pipelined against 2 model processes.

Run: ``python benchmarks/bench_batch.py [--phantoms 10] [--slices 64] [--rounds 1] [--threads 2]``.
Writes ``--phantoms`` phantom patients of ``--slices`` 512² slices, and unzips the three IRCAD
patients of ../shared/data/3Dircadb1 (when present) into a temporary folder (deleted at the end;
nothing is copied into the repository). Then, for each set and in each round (the modes interleave,
so a load that comes and goes on the machine hits them alike), it times ``segment_patients`` with
the bundled model (ONNX Runtime), writing IRCAD masks and scoring each patient:

- ``sequential``: ``prefetch=0``, each patient loaded, segmented, written and scored in turn (the
  batch before issue 22), the model loaded in this process with ``--threads`` threads;
- ``pipelined``: the default, a loader thread and a writer thread around the same model;
- ``workers 2``: two model processes (``--threads`` shared between them), their start included.

Prints patients per minute (best round), wall and CPU seconds (this process and its children) and
the machine's load average before and after each run; the Dice of every patient must agree across
the modes.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

IRCAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "3Dircadb1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phantoms", type=int, default=10)
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="the model's threads (shared by the workers)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    with tempfile.TemporaryDirectory(prefix="ctseg-bench-batch-") as folder:
        root = Path(folder)
        sets = {f"{args.phantoms} phantoms of {args.slices} slices": write_phantoms(root / "phantoms", args)}
        if IRCAD.is_dir():
            sets["3 IRCAD patients"] = unzip_ircad(root / "ircad")
        for label, patients in sets.items():
            bench_set(label, patients, root / "out", args)


def write_phantoms(folder: Path, args: argparse.Namespace) -> Path:
    from ctseg_core.synth.phantom import write_phantom

    for seed in range(args.phantoms):
        write_phantom(folder / f"phantom{seed:02d}", seed=100 + seed, slices=args.slices, size=512)
    return folder


def unzip_ircad(folder: Path) -> Path:
    """Each IRCAD patient's CT and masks, unzipped as the loader reads them from disk (never committed)."""
    for patient in sorted(p for p in IRCAD.iterdir() if p.is_dir()):
        for archive in patient.glob("*.zip"):
            with zipfile.ZipFile(archive) as handle:
                handle.extractall(folder / patient.name)
    return folder


def bench_set(label: str, patients: Path, out: Path, args: argparse.Namespace) -> None:
    from ctseg_core.batch import segment_patients
    from ctseg_core.model.inference import Segmenter

    segmenter = Segmenter.load(None, threads=args.threads)
    print(f"\n{label}: model {segmenter.path.name} on {segmenter.backend}, {args.threads} threads")
    modes: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
        "sequential": lambda o: segment_patients([patients], o, segmenter=segmenter, prefetch=0),
        "pipelined": lambda o: segment_patients([patients], o, segmenter=segmenter),
        "workers 2": lambda o: segment_patients([patients], o, workers=2, threads=max(1, args.threads // 2)),
    }
    best: dict[str, float] = {}
    dice: dict[str, list[Any]] = {}
    for round_ in range(args.rounds):
        for mode, run in modes.items():
            shutil.rmtree(out, ignore_errors=True)
            rows, wall, cpu, loads = timed(partial(run, out))
            report_round(round_, mode, rows, wall, cpu, loads, best)  # first: it fails on an error row
            dice[mode] = [round(row["dice"], 6) for row in rows]
    report_best(best, dice)


def timed(run: Callable[[], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], float, float, tuple[float, float]]:
    """The rows, wall seconds, CPU seconds and the load average before and after."""
    load_before, cpu_before = os.getloadavg()[0], cpu_seconds()
    started = time.perf_counter()
    rows = run()
    wall = time.perf_counter() - started
    return rows, wall, cpu_seconds() - cpu_before, (load_before, os.getloadavg()[0])


def report_round(
    round_: int,
    mode: str,
    rows: list[dict[str, Any]],
    wall: float,
    cpu: float,
    loads: tuple[float, float],
    best: dict[str, float],
) -> None:
    """Print one mode's run (no patient may fail) and keep its best rate in ``best``."""
    errors = [row["error"] for row in rows if "error" in row]
    assert not errors, errors
    rate = 60 * len(rows) / wall
    best[mode] = max(best.get(mode, 0.0), rate)
    print(
        f"  round {round_ + 1} {mode:<11} {len(rows)} patients in {wall:6.1f} s = {rate:5.2f} patients/min, "
        f"CPU {cpu:6.1f} s, load average {loads[0]:.1f} → {loads[1]:.1f}"
    )


def report_best(best: dict[str, float], dice: dict[str, list[Any]]) -> None:
    """Check that every mode gave the same Dice, and print each mode's best rate against the sequential one."""
    assert len({tuple(d) for d in dice.values()}) == 1, f"the modes disagree: {dice}"
    base = best["sequential"]
    print("  best: " + ", ".join(f"{mode} {rate:.2f}/min ({rate / base:.2f}×)" for mode, rate in best.items()))


def cpu_seconds() -> float:
    """User + system seconds of this process's threads and of its reaped children (the model processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
