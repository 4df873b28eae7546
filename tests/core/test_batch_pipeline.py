"""The pipelined batch gives the sequential batch's rows, order, CSV, error rows and cancels, with a
bounded number of patients in memory; model workers that die cost one row each (stand-in models)."""

from __future__ import annotations

import csv
import re
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ctseg_core.batch.patient as patient_stages
import ctseg_core.batch.pipeline as pipeline
from ctseg_core.batch import segment_patients
from ctseg_core.batch.models import SegmenterSource, shared_segmenter
from ctseg_core.batch.pipeline import BatchOptions, run_pipelined, run_sequential
from ctseg_core.batch.planning import expand_patients, plan_outputs
from ctseg_core.errors import Cancelled
from ctseg_core.model.inference import Segmentation
from ctseg_core.synth.phantom import write_phantom

#: Slice counts the stand-in model treats specially (the phantoms are otherwise 6 slices).
BUG_SLICES, DIES_SLICES = 7, 5


class Thresholder:
    """A model stand-in: HU > 0 is liver; a 7-slice scan is a bug in it; ``delay`` seconds a scan."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def predict(
        self, hu: np.ndarray, spacing_mm: Any = None, progress: Any = None, should_cancel: Any = None
    ) -> Segmentation:
        self.calls += 1
        time.sleep(self.delay)
        if hu.shape[0] == BUG_SLICES:
            raise ZeroDivisionError("a bug in the model")
        return Segmentation(mask=hu > 0, timings={"network": self.delay})


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six patients: three that work, one unreadable, one the model fails on, one whose output is blocked."""
    root = tmp_path_factory.mktemp("patients")
    for name, seed, slices in (("a_ok", 1, 6), ("c_bug", 2, BUG_SLICES), ("d_ok", 3, 6), ("e_blocked", 4, 6)):
        write_phantom(root / name, seed=seed, slices=slices, size=64)
    write_phantom(root / "f_ok", seed=5, slices=6, size=64)
    (root / "b_broken" / "PATIENT_DICOM").mkdir(parents=True)
    (root / "b_broken" / "PATIENT_DICOM" / "image_0").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00garbage")
    return root


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CTSEG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def blocked_out(tmp_path: Path, name: str) -> Path:
    """An output folder where ``e_blocked``'s folder is a file: its write fails, the others do not."""
    out = tmp_path / name
    out.mkdir()
    (out / "e_blocked").write_text("in the way")
    return out


def comparable(row: dict[str, Any], out: Path) -> dict[str, Any]:
    """A row (or a CSV line) without what differs run to run: timings, log file names, the output folder."""
    return {
        key: re.sub(r"\S+\.log\)", "LOG)", value.replace(str(out), "OUT")) if isinstance(value, str) else value
        for key, value in row.items()
        if not key.startswith("seconds")
    }


def summary(out: Path) -> list[dict[str, Any]]:
    with open(out / "ctseg_summary.csv", newline="") as handle:
        return [comparable(row, out) for row in csv.DictReader(handle)]


@pytest.mark.parametrize(("workers", "prefetch"), [(1, 1), (1, 3), (3, 1)])
def test_the_pipeline_gives_the_sequential_rows_order_and_csv(
    root: Path, tmp_path: Path, workers: int, prefetch: int, cache: Path
) -> None:
    sequential_out, piped_out = blocked_out(tmp_path, "out_seq"), blocked_out(tmp_path, "out_pipe")
    seen_seq: list[str] = []
    sequential = segment_patients(
        [root], sequential_out, segmenter=Thresholder(), prefetch=0, on_row=lambda r: seen_seq.append(r["patient"])
    )
    items = plan_outputs(expand_patients([root]), piped_out)
    seen: list[tuple[str, str]] = []
    options = BatchOptions(on_row=lambda r: seen.append((r["patient"], threading.current_thread().name)))
    piped = run_pipelined(items, shared_segmenter(Thresholder()), options, workers=workers, prefetch=prefetch)
    names = ["a_ok", "b_broken", "c_bug", "d_ok", "e_blocked", "f_ok"]
    assert seen_seq == names and [name for name, _ in seen] == names
    assert {thread for _, thread in seen} == {threading.current_thread().name}  # on_row on the caller's thread
    assert [comparable(r, piped_out) for r in piped] == [comparable(r, sequential_out) for r in sequential]
    assert [r.get("error_type") is None for r in piped] == [True, False, False, True, False, True]
    assert piped[2]["error_type"] == "ZeroDivisionError"
    assert "internal error: ZeroDivisionError: a bug in the model (traceback written to" in piped[2]["error"]
    assert piped[4]["error"] and piped[1]["error"] and all(piped[k]["dice"] is not None for k in (0, 3, 5))
    assert len(list((cache / "logs").iterdir())) == 2  # the bug's log, once per batch
    segment_patients([root], piped_out, segmenter=Thresholder(), prefetch=prefetch)
    assert summary(piped_out) == summary(sequential_out)


def test_the_pipeline_overlaps_loading_predicting_and_writing(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_load, real_write = pipeline.load_item, pipeline.write_and_score

    def slow_load(item: Any, progress: Any = None) -> Any:
        time.sleep(0.2)
        return real_load(item, progress)

    def slow_write(*args: Any) -> Any:
        time.sleep(0.2)
        return real_write(*args)

    for module in (pipeline, patient_stages):  # the pipeline's stages and the sequential batch's
        monkeypatch.setattr(module, "load_item", slow_load)
        monkeypatch.setattr(module, "write_and_score", slow_write)
    items = [i for i in plan_outputs(expand_patients([root]), tmp_path / "out") if i.name.endswith("_ok")] * 2
    items = plan_outputs([i.source for i in items], tmp_path / "out")
    # the sequential batch, timed in the same conditions (a loaded machine slows both alike), is the baseline
    started = time.perf_counter()
    run_sequential(items, shared_segmenter(Thresholder(delay=0.2)), BatchOptions())
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    rows = run_pipelined(items, shared_segmenter(Thresholder(delay=0.2)), BatchOptions())
    elapsed = time.perf_counter() - started
    assert len(rows) == 6 and not any("error" in r for r in rows)
    # 3 stages of 0.2 s each over 6 patients: ≥ 3.6 s in turn, about 1.6 s overlapped
    assert elapsed < 0.75 * sequential, f"{elapsed:.2f} s against {sequential:.2f} s in turn: no overlap"


def test_memory_stays_bounded_by_the_queue(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """However far the model lags, at most prefetch + workers + 3 patients are alive at once."""
    loaded: list[weakref.ref[Any]] = []
    peak = [0]
    real_load = pipeline.load_item

    def counted_load(item: Any, progress: Any = None) -> Any:
        patient = real_load(item, progress)
        loaded.append(weakref.ref(patient))
        peak[0] = max(peak[0], sum(ref() is not None for ref in loaded))
        return patient

    monkeypatch.setattr(pipeline, "load_item", counted_load)
    sources = [p for p in expand_patients([root]) if p.name.endswith("_ok")] * 5
    items = plan_outputs(sources, tmp_path / "out")
    for workers, prefetch in ((1, 1), (2, 2)):
        peak[0] = 0
        rows = run_pipelined(items, shared_segmenter(Thresholder(delay=0.05)), BatchOptions(), workers, prefetch)
        assert len(rows) == 15 and not any("error" in r for r in rows)
        assert 2 <= peak[0] <= prefetch + workers + 3, peak[0]


@pytest.mark.parametrize("where", ["should_cancel", "model"])
def test_a_cancel_propagates_after_exactly_the_rows_before_it(root: Path, tmp_path: Path, where: str) -> None:
    """As in the sequential batch: the rows before the cancelled patient are delivered, no CSV is written."""

    class CancelsOnThird(Thresholder):
        def predict(self, hu: np.ndarray, *args: Any, **kwargs: Any) -> Segmentation:
            if self.calls == 2 and where == "model":
                raise Cancelled("cancelled by the user")
            return super().predict(hu, *args, **kwargs)

    results: list[list[str]] = []
    for prefetch in (0, 1):
        seen: list[str] = []
        cancel = (lambda seen=seen: len(seen) >= 2) if where == "should_cancel" else None
        with pytest.raises(Cancelled):
            segment_patients(
                [root],
                tmp_path / f"out{prefetch}",
                segmenter=CancelsOnThird(),
                on_row=lambda r, seen=seen: seen.append(r["patient"]),  # type: ignore[misc]
                prefetch=prefetch,
                should_cancel=cancel,
            )
        assert not (tmp_path / f"out{prefetch}" / "ctseg_summary.csv").exists()
        results.append(seen)
    assert results[0] == results[1] and len(results[0]) in (2, 3)
    assert not [t for t in threading.enumerate() if t.name.startswith("ctseg-batch")]


class ModelDied(Exception):
    """Stands in for the engine's ModelProcessDied."""


def test_a_model_worker_that_dies_costs_one_row_and_is_reopened(root: Path, tmp_path: Path) -> None:
    opened: list[int] = []

    class DiesOnFive(Thresholder):
        def predict(self, hu: np.ndarray, *args: Any, **kwargs: Any) -> Segmentation:
            if hu.shape[0] == DIES_SLICES:
                raise ModelDied("the process was killed")
            return super().predict(hu, *args, **kwargs)

    @contextmanager
    def open_process() -> Iterator[DiesOnFive]:
        opened.append(1)
        yield DiesOnFive()

    write_phantom(tmp_path / "p" / "b_dies", seed=9, slices=DIES_SLICES, size=64)
    sources = [root / "a_ok", tmp_path / "p" / "b_dies", root / "d_ok", root / "f_ok"]
    items = plan_outputs(sources, tmp_path / "out")
    source = SegmenterSource(open_process, lost=(ModelDied,))
    rows = run_pipelined(items, source, BatchOptions(), workers=1)
    assert [r["patient"] for r in rows] == ["a_ok", "b_dies", "d_ok", "f_ok"]
    assert rows[1]["error_type"] == "WorkerLostError" and "the model process died" in rows[1]["error"]
    assert "ModelDied: the process was killed" in rows[1]["error"]
    assert all(rows[k]["dice"] is not None for k in (0, 2, 3)) and len(opened) == 2


def test_durable_rows_deliver_each_row_before_the_next_patient_enters_the_network(root: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    delivered_at_predict: list[int] = []

    class Records(Thresholder):
        def predict(self, hu: np.ndarray, *args: Any, **kwargs: Any) -> Segmentation:
            delivered_at_predict.append(len(seen))
            return super().predict(hu, *args, **kwargs)

    sources = [p for p in expand_patients([root]) if p.name.endswith("_ok")] * 2
    items = plan_outputs(sources, tmp_path / "out")
    options = BatchOptions(on_row=lambda r: seen.append(r["patient"]), durable_rows=True)
    rows = run_pipelined(items, shared_segmenter(Records(delay=0.02)), options, prefetch=2)
    assert len(rows) == 6 and delivered_at_predict == list(range(6))


def test_the_segment_command_takes_workers_or_a_scheduler_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    from ctseg_core.cli.parser import build_parser

    parser, _ = build_parser()
    args = parser.parse_args(["segment", "p", "--workers", "2"])
    assert args.workers == 2 and args.scheduler is None
    assert parser.parse_args(["segment", "p", "--scheduler", "tcp://h:8786"]).scheduler == "tcp://h:8786"
    for argv in (["--workers", "0"], ["--workers", "2", "--scheduler", "tcp://h:8786"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["segment", "p", *argv])
    assert "not allowed with argument" in capsys.readouterr().err
