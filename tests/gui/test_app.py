"""Entry points used by ``ctseg view`` / ``ctseg demo``, and a launch that leaves TensorFlow alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from ctseg_core.display import palette
from ctseg_core.metrics import compare, format_metric
from ctseg_core.synth import demo
from ctseg_gui.app import run_viewer
from ctseg_gui.main_window import MainWindow
from gui.conftest import FakeSegmenter


@pytest.fixture
def shown_windows(monkeypatch: pytest.MonkeyPatch) -> list[MainWindow]:
    """Every window ``run_viewer`` builds, kept to look at after it has returned."""
    windows: list[MainWindow] = []

    class Recorded(MainWindow):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            windows.append(self)

    monkeypatch.setattr("ctseg_gui.app.MainWindow", Recorded)
    monkeypatch.setattr("ctseg_gui.app.dispose", lambda window: window.close())  # kept, not deleted
    return windows


def _axial_view_pixels(shot: Path, window: MainWindow, rgb: tuple[int, int, int]) -> int:
    """How many pixels of colour ``rgb`` the screenshot shows inside the axial view."""
    view = window.axial_view
    image = QImage(str(shot)).copy(QRect(view.mapTo(window, QPoint(0, 0)), view.size()))
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * image.height())
    pixels = data.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()].reshape(
        image.height(), image.width(), 3
    )
    return int(np.count_nonzero((pixels == rgb).all(axis=2)))


def test_screenshot_run_opens_grabs_and_exits_zero(
    small_phantom: Path, tmp_path: Path, dialogs: list, shown_windows: list[MainWindow]
) -> None:
    shot = tmp_path / "viewer.png"
    assert run_viewer(str(small_phantom), screenshot=str(shot)) == 0
    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 800
    assert dialogs == []
    [window] = shown_windows
    assert window.state.patient is not None and window.state.prediction is None
    assert _axial_view_pixels(shot, window, palette.GROUND_TRUTH) > 0  # the ground-truth outline is in the grab
    assert _axial_view_pixels(shot, window, palette.PREDICTION) == 0


@pytest.mark.slow
def test_screenshot_run_segments_first_when_asked(
    small_phantom: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_segmenter: FakeSegmenter,
    dialogs: list,
    shown_windows: list[MainWindow],
) -> None:
    """The grab is taken after the prediction is shown: its magenta outline is in the picture, and the
    readouts beside it hold the core's numbers for that prediction."""
    monkeypatch.setattr("ctseg_gui.jobs.segmentation._load_segmenter", lambda path: fake_segmenter)
    shot = tmp_path / "segmented.png"
    assert run_viewer(str(small_phantom), segment=True, screenshot=str(shot), model="any.keras") == 0
    assert shot.is_file() and not QImage(str(shot)).isNull() and dialogs == []
    [window] = shown_windows
    state, values = window.state, window.segmentation_panel.values
    assert state.prediction is not None
    report = compare(state.prediction, state.gt, state.patient.spacing_mm)
    assert values["dice"].text() == format_metric(report.dice) != format_metric(None)
    assert values["prediction_volume"].text() == f"{format_metric(report.volume_ml_pred, 1)} mL"
    assert _axial_view_pixels(shot, window, palette.PREDICTION) > 0


def test_screenshot_run_fails_with_the_message_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dialogs: list
) -> None:
    missing = tmp_path / "missing"
    assert run_viewer(str(missing), screenshot=str(tmp_path / "x.png")) == 1
    assert f"{missing}: path does not exist" in capsys.readouterr().err
    assert dialogs == [] and not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_launching_the_viewer_does_not_import_tensorflow(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import ctseg_gui.app\n"
        "from ctseg_gui.main_window import MainWindow\n"
        "window = MainWindow()\n"
        "window.show()\n"
        "app.processEvents()\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))))\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert result.stdout.strip() == ""


def test_demo_patient_is_written_once_and_opens(
    qtbot: QtBot, window: MainWindow, recovery_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "DEMO_SLICES", 4)
    with qtbot.waitSignal(window.patientLoaded, timeout=20_000):
        window.open_demo()
    folder = demo.demo_dir()
    assert folder == recovery_cache / "demo" / "phantom-v2-seed0"  # under $CTSEG_CACHE, like every cache
    assert window.state.patient.source_path == folder and window.state.depth == 4
    written = (folder / "PATIENT_DICOM" / "image_0").stat().st_mtime_ns
    assert demo.ensure_demo_patient() == folder
    assert (folder / "PATIENT_DICOM" / "image_0").stat().st_mtime_ns == written
    assert [p.name for p in folder.parent.iterdir()] == ["phantom-v2-seed0"]  # no scratch left behind


@pytest.mark.slow
def test_cli_view_segment_screenshot_with_the_bundled_model(tmp_path: Path) -> None:
    """The README's smoke test, end to end in a fresh process: open, segment for real, grab, exit 0."""
    from ctseg_core.synth.phantom import write_phantom

    patient = write_phantom(tmp_path / "patient", seed=11, slices=12)
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CTSEG_CACHE=str(tmp_path / "cache"))
    result = subprocess.run(
        [sys.executable, "-m", "ctseg_gui.cli", "view", str(patient), "--segment", "--screenshot", str(shot)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 10_000


def test_the_heap_alive_at_start_is_frozen_out_of_the_collectors_sight() -> None:
    """A full collection over every object stops the GUI thread (47–143 ms measured); frozen, it skips them."""
    import gc

    from ctseg_gui.app import freeze_heap

    try:
        freeze_heap()
        assert gc.get_freeze_count() > 1000 and len(gc.get_objects()) < gc.get_freeze_count()
    finally:
        gc.unfreeze()
