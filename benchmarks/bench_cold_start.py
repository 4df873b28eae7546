"""Cold start of ``ctseg segment`` on one small scan: ONNX Runtime against TensorFlow (issue 22 §4).

Run: ``python benchmarks/bench_cold_start.py [--slices 11] [--size 512] [--repeats 3] [--threads 2]``.
Writes one phantom patient to a temporary folder, then, in each round (the rounds interleave the
commands, so a load that comes and goes on the machine hits them alike):

- ``python -c pass``: the interpreter alone;
- ``python -c "import tensorflow"``: the yardstick of the issue (the target is ≤ 0.9 × this and ≤ 3 s);
- ``ctseg segment PATIENT --out DIR --json`` on the bundled model's exported graph (the default),
  and with ``CTSEG_INFERENCE_BACKEND=tensorflow`` (the fallback): wall time of the real command;
- the same work in an instrumented process, split into interpreter start, imports (ctseg and the
  engine), model load, work (load the scan, segment, write) and exit.

Prints the minimum and the median of the rounds, and the ratios against ``import tensorflow``.
Then the network alone (``--network-batches``, 0 to skip): both engines in this process on the
same 16-slice batch of the bundled model, alternating, in ms a slice, and their largest
probability difference. Wall times: on a machine shared with other work they vary; compare
within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 3.0
TARGET_RATIO = 0.9

#: The instrumented process: what ``ctseg segment`` does, with a clock between the stages.
PHASES = """
import json, sys, time
started = time.time()
import ctseg_core.cli, ctseg_core.batch
from ctseg_core.model.inference import Segmenter
from ctseg_core.model.registry import resolve_model
backend, threads, patient, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if backend == "onnxruntime":
    from ctseg_core.model.onnx_graph import import_onnxruntime
    import_onnxruntime()
else:
    from ctseg_core.model.tf_runtime import import_tensorflow
    import_tensorflow(threads)
imported = time.time()
segmenter = Segmenter.load(resolve_model(None), threads=threads, backend=backend)
loaded = time.time()
rows = ctseg_core.batch.segment_patients([patient], out, "ircad", segmenter=segmenter)
assert "error" not in rows[0], rows[0]
print(json.dumps({"started": started, "imported": imported, "loaded": loaded, "done": time.time(),
                  "backend": segmenter.backend}))
"""


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds of a command, the wall clock when it started, and its stdout (it must succeed)."""
    began, started = time.time(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} … failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, began, done.stdout


def ctseg_command() -> list[str]:
    """The ``ctseg`` console script when installed, else the same entry point through ``python -m``."""
    script = shutil.which("ctseg")
    return [script] if script else [sys.executable, "-m", "ctseg_gui.cli"]


def engine_env(backend: str) -> dict[str, str]:
    return dict(os.environ, CTSEG_INFERENCE_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")


def one_round(patient: Path, work: Path, threads: int) -> dict[str, float]:
    """Every measurement once; seconds by name."""
    python = sys.executable
    times: dict[str, float] = {}
    times["python -c pass"] = timed([python, "-c", "pass"])[0]
    times["import tensorflow"] = timed([python, "-c", "import tensorflow"], engine_env("auto"))[0]
    for backend in ("onnxruntime", "tensorflow"):
        out = work / f"cli_{backend}"
        shutil.rmtree(out, ignore_errors=True)
        command = [*ctseg_command(), "segment", str(patient), "--out", str(out), "--json", "--threads", str(threads)]
        times[f"ctseg segment [{backend}]"] = timed(command, engine_env(backend))[0]
        out = work / f"phases_{backend}"
        shutil.rmtree(out, ignore_errors=True)
        total, began, stdout = timed(
            [python, "-c", PHASES, backend, str(threads), str(patient), str(out)], engine_env(backend)
        )
        clock = json.loads(stdout.strip().splitlines()[-1])
        assert clock["backend"] == backend, clock
        times[f"  {backend}: interpreter start"] = clock["started"] - began
        times[f"  {backend}: imports"] = clock["imported"] - clock["started"]
        times[f"  {backend}: model load"] = clock["loaded"] - clock["imported"]
        times[f"  {backend}: work (read, segment, write)"] = clock["done"] - clock["loaded"]
        times[f"  {backend}: exit"] = total - (clock["done"] - began)
        times[f"  {backend}: total"] = total
    return times


def network_speed(threads: int, batches: int) -> None:
    """ms a slice of both engines on one 16-slice batch (alternating), and how far apart their outputs are."""
    import numpy as np

    from ctseg_core.model.inference import BATCH_SLICES, Segmenter

    engines = {name: Segmenter.load(threads=threads, backend=name) for name in ("onnxruntime", "tensorflow")}
    spec = engines["tensorflow"].card.input
    batch = np.random.default_rng(0).uniform(0, 1, (BATCH_SLICES, spec.size, spec.size, spec.channels))
    batch = batch.astype(np.float32)
    outputs = {name: engine._run_batch(batch) for name, engine in engines.items()}  # first calls: untimed
    per_slice: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(batches):
        for name, engine in engines.items():
            started = time.perf_counter()
            engine._run_batch(batch)
            per_slice[name].append((time.perf_counter() - started) / BATCH_SLICES * 1000)
    for name, values in per_slice.items():
        print(
            f"network [{name}], batch {BATCH_SLICES}: min {min(values):.1f} median {statistics.median(values):.1f}"
            f" ms a slice ({batches} batches)"
        )
    difference = float(np.max(np.abs(outputs["onnxruntime"] - outputs["tensorflow"])))
    print(f"largest probability difference between the engines: {difference:.2g}")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(rounds: list[dict[str, float]]) -> None:
    print(f"{'seconds':<44}{'min':>8}{'median':>8}")
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        print(f"{name:<44}{min(values):>8.2f}{statistics.median(values):>8.2f}")
    for backend in ("onnxruntime", "tensorflow"):
        ratios = [r[f"ctseg segment [{backend}]"] / r["import tensorflow"] for r in rounds]
        seconds = [r[f"ctseg segment [{backend}]"] for r in rounds]
        verdict = (
            "meets"
            if statistics.median(ratios) <= TARGET_RATIO and statistics.median(seconds) <= TARGET_SECONDS
            else "misses"
        )
        print(
            f"ctseg segment [{backend}] / import tensorflow: median {statistics.median(ratios):.2f} "
            f"(rounds {', '.join(f'{v:.2f}' for v in ratios)}); {verdict} ≤ {TARGET_RATIO} and ≤ {TARGET_SECONDS:g} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=11)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--network-batches", type=int, default=10)
    args = parser.parse_args()

    from ctseg_core.synth.phantom import write_phantom

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.python_version()}, engines {args.threads} threads")
    print(f"load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="ctseg-cold-") as folder:
        work = Path(folder)
        patient = write_phantom(work / "patient", seed=0, slices=args.slices, size=args.size)
        print(f"scan: phantom of {args.slices} slices of {args.size}², {args.repeats} rounds")
        rounds = [one_round(patient, work, args.threads) for _ in range(args.repeats)]
    report(rounds)
    if args.network_batches > 0:
        network_speed(args.threads, args.network_batches)
    print(f"load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
