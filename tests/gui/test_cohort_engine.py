"""Segment all on the inference engine: the pipelined batch with the window's model-process segmenter,
a cancel that stops it within 0.5 s, and one model identity with ``ctseg segment --cohort`` (a
command-line batch, then "only the unsegmented" in the viewer, skips what the command line did)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

import ctseg_core.batch.pipeline as pipeline
import ctseg_core.batch.run as batch_run
from ctseg_core.cli import main
from ctseg_core.engine import ModelProcess, RemoteSegmenter
from ctseg_core.engine.stand_in import SECONDS_ENV
from ctseg_core.model.inference import default_model_path
from ctseg_gui.commands import cohort_batch
from ctseg_gui.jobs import segmentation as jobs
from ctseg_gui.main_window import MainWindow
from gui.cohort_helpers import PATIENTS, index_phantoms, show_cohort
from gui.conftest import FakeSegmenter

STAND_IN = "ctseg_core.engine.stand_in:load_stand_in"


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    return index_phantoms(tmp_path / "cohort")


#: The issue's bound on a cancel (the engine's own tests use it too).
CANCEL_BOUND_S = 0.5


#: How long the second series' write and scores take here (a large scan's surface distances on a
#: busy machine take seconds, and cannot be interrupted: a cancel must not wait for them).
SLOW_SCORES_S = 3.0


@pytest.fixture
def slow_second_scores(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set while the second series is being written and scored (slowly)."""
    scoring, real = threading.Event(), pipeline.write_and_score
    calls = []

    def write_and_score(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            scoring.set()
            time.sleep(SLOW_SCORES_S)
        return real(*args)

    monkeypatch.setattr(pipeline, "write_and_score", write_and_score)
    return scoring


@pytest.fixture
def stand_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelProcess]:
    """The window's model process, on the stand-in model at 0.02 s a slice."""
    monkeypatch.setenv(SECONDS_ENV, "0.02")
    process = ModelProcess(loader=STAND_IN)
    monkeypatch.setattr(jobs, "_model_process", process)
    yield process
    process.close()


def results(window: MainWindow) -> dict[int, Any]:
    return {row.series_id: row for row in window.cohort.database.list_series() if row.result_id is not None}


def test_segment_all_runs_pipelined_on_the_model_process_and_cancels_within_half_a_second(
    qtbot: QtBot,
    tmp_path: Path,
    indexed: Path,
    stand_in_process: ModelProcess,
    slow_second_scores: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[tuple[str, Any]] = []
    real_pipelined = batch_run.run_pipelined

    def pipelined(items: Any, source: Any, *args: Any) -> Any:
        with source.open() as segmenter:
            runs.append(("pipelined", segmenter))
        return real_pipelined(items, source, *args)

    monkeypatch.setattr(batch_run, "run_pipelined", pipelined)
    ended: list[float] = []
    real_segment_cohort = cohort_batch.segment_cohort

    def timed(*args: Any, **kwargs: Any) -> Any:
        try:
            return real_segment_cohort(*args, **kwargs)
        finally:
            ended.append(time.perf_counter())

    monkeypatch.setattr(cohort_batch, "segment_cohort", timed)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preload_model=True)  # the window's own model process
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    show_cohort(qtbot, window, indexed)
    batch = window.cohort.batch

    assert batch.start("all")
    qtbot.waitUntil(slow_second_scores.is_set, timeout=60_000)
    [(_, segmenter)] = runs
    assert isinstance(segmenter, RemoteSegmenter) and segmenter.process is stand_in_process
    cancelled = time.perf_counter()
    batch.cancel()
    qtbot.waitUntil(lambda: bool(ended), timeout=10_000)
    assert ended[0] - cancelled < CANCEL_BOUND_S, f"stopped {ended[0] - cancelled:.3f} s after the cancel"
    assert len(results(window)) == 1  # the first; the second's scores were under way

    monkeypatch.setenv(SECONDS_ENV, "0.0")
    assert batch.start("unsegmented")  # the model process serves the next batch at once
    qtbot.waitUntil(lambda: not batch.running, timeout=60_000)
    assert len(results(window)) == PATIENTS and stand_in_process.is_alive()


def test_a_command_line_batch_then_only_the_unsegmented_in_the_viewer_skips_the_done_series(
    qtbot: QtBot,
    window: MainWindow,
    indexed: Path,
    fake_segmenter: FakeSegmenter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command line names the bundled model by its path and runs it on "ONNX Runtime"; the
    viewer's is the bundled model on its own engine: one model, one identity."""
    on_onnx = FakeSegmenter()
    on_onnx.backend = "onnxruntime"  # type: ignore[attr-defined]
    monkeypatch.setattr("ctseg_core.cli.segment._load_segmenter", lambda args: on_onnx)
    argv = ["segment", "--cohort", "--db", str(indexed), "--out", str(indexed.parent / "cli_out"), "--format", "nifti"]
    assert main([*argv, "--model", str(default_model_path())]) == 0 and on_onnx.calls == PATIENTS
    capsys.readouterr()

    show_cohort(qtbot, window, indexed)
    assert window.segmentation.model_path is None  # the bundled model
    batch = window.cohort.batch
    assert batch.start("unsegmented")
    qtbot.waitUntil(lambda: not batch.running, timeout=30_000)
    assert fake_segmenter.calls == 0 and window.cohort.panel.batch_status.text().startswith("Segmented 0 series")
    assert len(results(window)) == PATIENTS

    assert main([*argv, "--only-new"]) == 0 and on_onnx.calls == PATIENTS  # named or not, one model
    assert "nothing to segment" in capsys.readouterr().err
