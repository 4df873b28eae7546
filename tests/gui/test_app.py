"""Entry points used by ``ctseg view`` / ``ctseg demo``, and a launch that leaves TensorFlow alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from ctseg_gui import demo
from ctseg_gui.app import run_viewer
from ctseg_gui.main_window import MainWindow

from .conftest import FakeSegmenter


def test_screenshot_run_opens_grabs_and_exits_zero(small_phantom: Path, tmp_path: Path, dialogs: list) -> None:
    shot = tmp_path / "viewer.png"
    assert run_viewer(str(small_phantom), screenshot=str(shot)) == 0
    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 800
    assert dialogs == []


def test_screenshot_run_segments_first_when_asked(
    small_phantom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_segmenter: FakeSegmenter
) -> None:
    monkeypatch.setattr("ctseg_gui.tasks._load_segmenter", lambda path: fake_segmenter)
    shot = tmp_path / "segmented.png"
    assert run_viewer(str(small_phantom), segment=True, screenshot=str(shot), model="any.keras") == 0
    assert fake_segmenter.calls == 1 and shot.is_file()


def test_screenshot_run_fails_with_the_message_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dialogs: list
) -> None:
    missing = tmp_path / "missing"
    assert run_viewer(str(missing), screenshot=str(tmp_path / "x.png")) == 1
    assert f"{missing}: path does not exist" in capsys.readouterr().err
    assert dialogs == [] and not (tmp_path / "x.png").exists()


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
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(demo, "DEMO_SLICES", 4)
    with qtbot.waitSignal(window.patientLoaded, timeout=20_000):
        window.open_demo()
    folder = demo.demo_dir()
    assert folder == tmp_path / "cache" / "ctseg" / "demo" / "phantom-v2-seed0"
    assert window.state.patient.source_path == folder and window.state.depth == 4
    written = (folder / "PATIENT_DICOM" / "image_0").stat().st_mtime_ns
    assert demo.ensure_demo_patient() == folder
    assert (folder / "PATIENT_DICOM" / "image_0").stat().st_mtime_ns == written
    assert [p.name for p in folder.parent.iterdir()] == ["phantom-v2-seed0"]  # no scratch left behind


def test_cli_view_segment_screenshot_with_the_bundled_model(tmp_path: Path) -> None:
    """The README's smoke test, end to end in a fresh process: open, segment for real, grab, exit 0."""
    from ctseg_core.synth.phantom import write_phantom

    patient = write_phantom(tmp_path / "patient", seed=11, slices=12)
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CTSEG_CACHE=str(tmp_path / "cache"))
    result = subprocess.run(
        [sys.executable, "-m", "ctseg_gui.cli", "view", str(patient), "--segment", "--screenshot", str(shot)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 10_000
