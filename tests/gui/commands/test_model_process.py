"""The window and its model process: a child killed mid-segmentation is reported in plain words and
restarted, and the next Segment works; closing the window stops the child; TensorFlow never loads in
the GUI process, even where the model runs on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from pytestqt.qtbot import QtBot

from ctseg_core.engine import ModelProcess
from ctseg_core.engine.shared_array import NAME_PREFIX
from ctseg_core.engine.stand_in import SECONDS_ENV
from ctseg_gui.jobs import segmentation as jobs
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.main_window import MainWindow

STAND_IN = "ctseg_core.engine.stand_in:load_stand_in"


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.fixture
def stand_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelProcess]:
    """A model process on the stand-in model, 0.2 s a slice (a 12-slice scan: 2.4 s in one batch)."""
    monkeypatch.setenv(SECONDS_ENV, "0.2")
    process = ModelProcess(loader=STAND_IN).start()
    yield process
    process.close()


def _window(qtbot: QtBot, tmp_path: Path, segmenters: SegmenterCache | None, preload: bool) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, segmenters=segmenters, preload_model=preload)
    window.show_error_dialogs = False
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_a_child_killed_mid_segmentation_is_reported_restarted_and_segment_works_again(
    qtbot: QtBot, tmp_path: Path, small_phantom: Path, stand_in_process: ModelProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = stand_in_process
    window = _window(qtbot, tmp_path, SegmenterCache(loader=process.segmenter), preload=False)
    with qtbot.waitSignal(window.patientLoaded, timeout=10_000):
        window.open_path(small_phantom)
    process.segmenter()  # loaded: the kill below lands in the network, not the load
    first = process.pid
    assert first is not None
    monkeypatch.setenv(SECONDS_ENV, "0.0")  # the restarted child is quick

    with qtbot.waitSignal(window.errorReported, timeout=20_000) as reported:
        window.segmentation_panel.segment.click()
        QTimer.singleShot(500, lambda: os.kill(first, signal.SIGKILL))
    message = reported.args[0]
    assert "the model process stopped" in message and "restarted" in message and "run it again" in message
    assert "Traceback" not in message and "\n" not in message
    assert window.isVisible() and window.segmentation_panel.status.text() == "Failed."
    assert _reaped(first) and process.pid not in (None, first)
    assert not list(Path("/dev/shm").glob(f"{NAME_PREFIX}{os.getpid()}_*"))  # no segment left behind

    with qtbot.waitSignal(window.segmentationFinished, timeout=20_000):
        window.segmentation_panel.segment.click()
    assert window.state.prediction is not None and window.state.prediction.any()


def test_closing_the_window_stops_its_model_process(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window starts the model process as it is shown (the model loads meanwhile) and stops it when closed."""
    monkeypatch.setenv(SECONDS_ENV, "0.0")
    process = ModelProcess(loader=STAND_IN)
    monkeypatch.setattr(jobs, "_model_process", process)
    window = _window(qtbot, tmp_path, None, preload=True)
    assert window.segmentation.model_process is process
    qtbot.waitUntil(process.is_alive, timeout=5_000)
    pid = process.pid
    assert pid is not None
    window.close()
    assert not process.is_alive() and _reaped(pid)


@pytest.mark.slow
def test_the_gui_process_never_imports_tensorflow_even_where_the_model_runs_on_it(
    tmp_path: Path, small_phantom: Path
) -> None:
    """A fresh viewer segments a phantom with the bundled model, forced onto TensorFlow in its model process."""
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        "CTSEG_INFERENCE_BACKEND": "tensorflow",
    }
    result = subprocess.run(
        [sys.executable, "-c", SEGMENT_IN_A_FRESH_VIEWER, str(small_phantom)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert result.stdout.splitlines()[:2] == ["segmented: True, backend tensorflow", "tensorflow in the GUI: False"]


SEGMENT_IN_A_FRESH_VIEWER = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from ctseg_gui.main_window import MainWindow
window = MainWindow()
window.show_error_dialogs = False
window.errorReported.connect(lambda message: (print("error:", message), app.exit(1)))
window.show()

def segmented():
    backend = window.segmentation.segmenters.get(None).backend
    print(f"segmented: {window.state.prediction.any()}, backend {backend}", flush=True)
    print("tensorflow in the GUI:", "tensorflow" in sys.modules, flush=True)
    app.quit()

window.patientLoaded.connect(window.segmentation_panel.segment.click)
window.segmentationFinished.connect(segmented)
window.open_path(sys.argv[1])
QTimer.singleShot(240_000, lambda: app.exit(2))
status = app.exec()
window.close()
sys.exit(status)
"""
