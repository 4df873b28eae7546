"""Cold start of ``ctseg segment`` on one small scan: ONNX Runtime against TensorFlow (issue 22 §4).

Run: ``python benchmarks/bench_cold_start.py [--slices 11] [--size 512] [--repeats 3] [--threads 2]``.
Writes one phantom patient to a temporary folder, then, in each round (the rounds interleave the
commands, so a load that comes and goes on the machine hits them alike):

- ``python -c pass``: the interpreter alone;
- ``python -c "import tensorflow"``: the yardstick of the issue (the target is ≤ 0.9 × this and ≤ 3 s);
- ``ctseg segment PATIENT --out DIR --json`` on the bundled model's exported graph (the default),
  and with ``CTSEG_INFERENCE_BACKEND=tensorflow`` (the fallback): wall time of the real command;
- the same work in an instrumented process, split into interpreter start, imports (ctseg and the
  engine), model load, work (load the scan, segment, write) and exit;
- the viewer's model process (``ModelProcess``, the default engine): from ``start()`` to the model
  loaded in the child (spawn, the child's imports, model load: what the window waits for at most
  when Segment is clicked at once), then one segmentation of the scan through it, and ``close()``.

Prints the minimum and the median of the rounds, wall and CPU seconds (user + system, all threads:
on a machine busy with other work, the CPU seconds of the one-thread stages are close to what
their wall time would be on a quiet one), and the ratios against ``import tensorflow``.
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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_SECONDS = 3.0
TARGET_RATIO = 0.9

#: The instrumented process: what ``ctseg segment`` does, with a clock between the stages.
PHASES = """
import json, sys, time
started, started_cpu = time.time(), time.process_time()
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
imported, imported_cpu = time.time(), time.process_time()
segmenter = Segmenter.load(resolve_model(None), threads=threads, backend=backend)
loaded, loaded_cpu = time.time(), time.process_time()
rows = ctseg_core.batch.segment_patients([patient], out, "ircad", segmenter=segmenter)
assert "error" not in rows[0], rows[0]
print(json.dumps({"started": started, "imported": imported, "loaded": loaded, "done": time.time(),
                  "cpu": [started_cpu, imported_cpu, loaded_cpu, time.process_time()], "backend": segmenter.backend}))
"""

#: The viewer's model process, timed from the client: spawn to model loaded, one predict, close.
MODEL_PROCESS = """
import json, sys, time
from ctseg_core.engine import ModelProcess
from ctseg_core.io.loading import load_patient
threads, patient = int(sys.argv[1]), load_patient(sys.argv[2])
started = time.perf_counter()
process = ModelProcess(threads=threads).start()
segmenter = process.segmenter()
loaded = time.perf_counter()
segmenter.predict(patient.hu, patient.spacing_mm, return_uncertainty=True)
predicted = time.perf_counter()
process.close()
print(json.dumps({"ready": loaded - started, "predict": predicted - loaded, "close": time.perf_counter() - predicted,
                  "backend": segmenter.backend}))
"""


@dataclass
class Run:
    """One finished command: wall and CPU seconds (user + system, all its threads), when it began, its stdout."""

    wall: float
    cpu: float
    began: float
    stdout: str


def timed(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command (it must succeed) and time it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began, started = time.time(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} … failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(seconds, cpu, began, done.stdout)


def ctseg_command() -> list[str]:
    """The ``ctseg`` console script beside this interpreter, else the same entry point through ``python -m``.

    Not the first ``ctseg`` on PATH: that may be a version manager's shim (pyenv's costs a
    bash start and a ``pyenv exec`` before Python even starts).
    """
    script = Path(sys.executable).with_name("ctseg")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ctseg_gui.cli"]


def engine_env(backend: str) -> dict[str, str]:
    return dict(os.environ, CTSEG_INFERENCE_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")


def one_round(patient: Path, work: Path, threads: int) -> dict[str, tuple[float, float | None]]:
    """Every measurement once: (wall seconds, CPU seconds or None) by name."""
    python = sys.executable
    times: dict[str, tuple[float, float | None]] = {}
    for name, command in (("python -c pass", "pass"), ("import tensorflow", "import tensorflow")):
        run = timed([python, "-c", command], engine_env("auto"))
        times[name] = (run.wall, run.cpu)
    for backend in ("onnxruntime", "tensorflow"):
        out = work / f"cli_{backend}"
        shutil.rmtree(out, ignore_errors=True)
        command = [*ctseg_command(), "segment", str(patient), "--out", str(out), "--json", "--threads", str(threads)]
        run = timed(command, engine_env(backend))
        times[f"ctseg segment [{backend}]"] = (run.wall, run.cpu)
        out = work / f"phases_{backend}"
        shutil.rmtree(out, ignore_errors=True)
        run = timed([python, "-c", PHASES, backend, str(threads), str(patient), str(out)], engine_env(backend))
        clock = json.loads(run.stdout.strip().splitlines()[-1])
        assert clock["backend"] == backend, clock
        cpu = clock["cpu"]
        times[f"  {backend}: interpreter start"] = (clock["started"] - run.began, None)
        times[f"  {backend}: imports"] = (clock["imported"] - clock["started"], cpu[1] - cpu[0])
        times[f"  {backend}: model load"] = (clock["loaded"] - clock["imported"], cpu[2] - cpu[1])
        times[f"  {backend}: work (read, segment, write)"] = (clock["done"] - clock["loaded"], cpu[3] - cpu[2])
        times[f"  {backend}: exit"] = (run.wall - (clock["done"] - run.began), None)
        times[f"  {backend}: total"] = (run.wall, run.cpu)
    run = timed([python, "-c", MODEL_PROCESS, str(threads), str(patient)], engine_env("auto"))
    clock = json.loads(run.stdout.strip().splitlines()[-1])
    times[f"model process [{clock['backend']}]: start to model loaded"] = (clock["ready"], None)
    times[f"model process [{clock['backend']}]: one segmentation"] = (clock["predict"], None)
    times[f"model process [{clock['backend']}]: close"] = (clock["close"], None)
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


def report(rounds: list[dict[str, tuple[float, float | None]]]) -> None:
    print(f"{'seconds':<52}{'wall min':>10}{'median':>8}{'CPU min':>10}{'median':>8}")
    for name in rounds[0]:
        wall = [r[name][0] for r in rounds]
        cpu = [c for r in rounds if (c := r[name][1]) is not None]
        cpu_text = f"{min(cpu):>10.2f}{statistics.median(cpu):>8.2f}" if cpu else f"{'':>10}{'':>8}"
        print(f"{name:<52}{min(wall):>10.2f}{statistics.median(wall):>8.2f}{cpu_text}")
    for backend in ("onnxruntime", "tensorflow"):
        name = f"ctseg segment [{backend}]"
        ratios = [r[name][0] / r["import tensorflow"][0] for r in rounds]
        seconds = statistics.median(r[name][0] for r in rounds)
        meets = statistics.median(ratios) <= TARGET_RATIO and seconds <= TARGET_SECONDS
        print(
            f"{name} / import tensorflow, wall: median {statistics.median(ratios):.2f} "
            f"(rounds {', '.join(f'{v:.2f}' for v in ratios)}); {'meets' if meets else 'misses'} "
            f"≤ {TARGET_RATIO} and ≤ {TARGET_SECONDS:g} s"
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
