"""Segmentation speed: end to end on a 512² CT, with the breakdown and peak memory.

Run: ``python benchmarks/bench_segment.py [--model FILE] [--threads 2] [--repeats 3]``.
Uses IRCAD patient 1 from ../shared/data when present (129 slices), else a 130-slice phantom.
Prints TensorFlow import and model load separately, then the median of the repeats for
preprocess / network / postprocess, ms per slice, and the ratio against the baseline: the same
network through Keras' generic ``model.predict`` (batch 16) instead of ctseg's batched call.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "3Dircadb1" / "3Dircadb1.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="model file (default: bundled)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from ctseg_core.io.loading import load_patient
    from ctseg_core.metrics import dice
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.model.preprocessing import preprocess_volume, with_context
    from ctseg_core.model.tf_runtime import import_seconds

    if DATA.is_dir():
        patient = load_patient(DATA, masks=["liver"])
        hu, truth, label = patient.hu, patient.masks["liver"], "IRCAD patient 1"
    else:
        from ctseg_core.synth.phantom import make_phantom

        phantom = make_phantom(seed=99, slices=130)
        hu, truth, label = phantom.hu, phantom.masks["liver"], "phantom seed 99"
    print(f"{label}: {hu.shape[0]} slices of {hu.shape[1]}×{hu.shape[2]}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, TF threads intra {args.threads} / inter 1")

    started = time.perf_counter()
    segmenter = Segmenter.load(args.model, threads=args.threads, backend="tensorflow")
    print(
        f"TensorFlow import {import_seconds():.2f} s, model load {segmenter.load_seconds:.2f} s "
        f"(total {time.perf_counter() - started:.2f} s)"
    )
    segmenter.predict(hu[:16])  # warm-up: graph tracing
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = segmenter.predict(hu)
        runs.append((time.perf_counter() - started, result.timings))
    total = statistics.median(r[0] for r in runs)
    stages = {k: statistics.median(r[1][k] for r in runs) for k in runs[0][1]}
    slices = hu.shape[0]
    print(f"\nend to end {total:.2f} s = {1000 * total / slices:.1f} ms/slice (median of {args.repeats})")
    for stage, seconds in stages.items():
        print(f"  {stage:<12}{seconds:7.2f} s {1000 * seconds / slices:7.1f} ms/slice")
    print(f"Dice against the ground truth: {dice(result.mask, truth):.4f}")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    stack, _ = preprocess_volume(hu, segmenter.card.input)
    inputs = with_context(stack, np.arange(slices), segmenter.card.input.context)
    segmenter.model.predict(inputs[:16], batch_size=16, verbose=0)
    baseline = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        segmenter.model.predict(inputs, batch_size=16, verbose=0)
        baseline.append(time.perf_counter() - started)
    base = statistics.median(baseline)
    print(
        f"\nnetwork only: ctseg batched call {stages['network']:.2f} s vs Keras model.predict {base:.2f} s "
        f"→ ratio {base / stages['network']:.2f}x (> 1: ctseg faster)"
    )


if __name__ == "__main__":
    main()
