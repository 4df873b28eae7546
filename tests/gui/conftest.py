"""GUI test fixtures: tiny phantoms, a viewer window with isolated settings, a fake segmenter.

The fake segmenter stands in for ``ctseg_core.model.inference.Segmenter`` (same ``predict`` contract:
progress per slice, ``Cancelled`` when asked to stop), so the GUI's job handling is tested
without TensorFlow; tests/gui/test_segmentation.py also runs a real Keras model when available.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.errors import Cancelled
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.main_window import MainWindow

OpenIn = Callable[[MainWindow, Path], None]


@contextlib.contextmanager
def event_loop_gaps() -> Iterator[list[float]]:
    """Seconds between ticks of a 10 ms timer on the GUI thread while the block runs (it must wait
    in the event loop, e.g. with ``qtbot.waitSignal``): a long gap is a frozen window."""
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    try:
        yield gaps
    finally:
        timer.stop()


@pytest.fixture(scope="session", autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Default-constructed QSettings (as ``ctseg view`` uses) write under a temporary folder."""
    folder = str(tmp_path_factory.mktemp("settings"))
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, folder)


@pytest.fixture(autouse=True)
def recovery_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Autosaves go to a fresh cache per test: none leaks into another test's patient."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CTSEG_CACHE", str(cache))
    return cache


@dataclass
class Questions:
    """QMessageBox.question stand-in: answers by dialog title, records (title, text) of each question."""

    answers: dict[str, QMessageBox.StandardButton]
    asked: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, parent: object, title: str, text: str, *args: object) -> QMessageBox.StandardButton:
        self.asked.append((title, text))
        return self.answers[title]

    def titles(self) -> list[str]:
        return [title for title, _ in self.asked]


@pytest.fixture(autouse=True)
def questions(monkeypatch: pytest.MonkeyPatch) -> Questions:
    """No modal question ever blocks a test: unsaved edits are discarded and autosaves not restored
    unless a test sets other answers (an unknown title fails the test)."""
    answers = {
        "Unsaved label": QMessageBox.StandardButton.Discard,
        "Restore autosaved label?": QMessageBox.StandardButton.No,
    }
    asked = Questions(answers)
    monkeypatch.setattr(QMessageBox, "question", asked)
    return asked


@pytest.fixture(scope="session")
def small_phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-slice, 512×512 phantom patient (liver, tumour, spleen masks)."""
    return write_phantom(tmp_path_factory.mktemp("gui") / "seed1", seed=1, slices=12)


@pytest.fixture(scope="session")
def other_phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, different patient (8 slices), to switch to."""
    return write_phantom(tmp_path_factory.mktemp("gui") / "seed2", seed=2, slices=8)


@dataclass
class FakeSegmentation:
    probability: np.ndarray
    mask: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    quality: None = None  # the real Segmentation's quality estimate and uncertainty: none from a fake
    uncertainty: None = None


class FakeSegmenter:
    """Thresholds soft tissue, slice by slice, like a model would report and honour cancel."""

    def __init__(self, seconds_per_slice: float = 0.0, fail: Exception | None = None) -> None:
        self.seconds_per_slice = seconds_per_slice
        self.fail = fail
        self.calls = 0

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float],
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        return_uncertainty: bool = False,
    ) -> FakeSegmentation:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        started = time.perf_counter()
        mask = np.zeros(hu.shape, bool)
        for k in range(hu.shape[0]):
            if should_cancel is not None and should_cancel():
                raise Cancelled("cancelled by the user")
            time.sleep(self.seconds_per_slice)
            mask[k] = (hu[k] > 60) & (hu[k] < 200)
            if progress is not None:
                progress(k + 1, hu.shape[0], "segmenting")
        return FakeSegmentation(mask.astype(np.float32), mask, {"predict": time.perf_counter() - started})


@pytest.fixture
def fake_segmenter() -> FakeSegmenter:
    return FakeSegmenter()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained two-level U-Net with its model card: the real file format, built in seconds."""
    pytest.importorskip("keras", reason="Keras/TensorFlow not installed")
    from ctseg_core.model.card import ModelCard, write_card
    from ctseg_core.model.preprocessing import InputSpec
    from ctseg_core.model.unet import UNetConfig, build_unet

    spec = InputSpec(size=32)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_unet(UNetConfig(input_size=spec.size, channels=spec.channels, depth=2, base_filters=4)).save(str(path))
    write_card(ModelCard(input=spec), path)
    return path


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Error dialogs shown, as (title, message); a modal dialog would hang an offscreen test."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append((title, text)))
    monkeypatch.setattr(
        "ctseg_gui.dialogs.messages.show_error", lambda parent, title, text: shown.append((title, text))
    )
    return shown


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, fake_segmenter: FakeSegmenter, dialogs: list) -> MainWindow:
    """A shown, active viewer window with settings in a temporary file and the fake segmenter; it
    preloads no model (tests/gui/test_preload.py turns that on)."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    viewer = MainWindow(
        settings=settings, segmenters=SegmenterCache(loader=lambda path: fake_segmenter), preload_model=False
    )
    qtbot.addWidget(viewer)
    viewer.resize(1200, 800)
    viewer.show()
    viewer.activateWindow()
    qtbot.waitExposed(viewer)
    return viewer


@pytest.fixture
def open_in(qtbot: QtBot) -> OpenIn:
    """Open a patient in a viewer and wait until it is shown."""

    def open_and_wait(viewer: MainWindow, path: Path) -> None:
        with qtbot.waitSignal(viewer.patientLoaded, timeout=10_000):
            viewer.open_path(path)

    return open_and_wait


@pytest.fixture
def opened(window: MainWindow, small_phantom: Path, open_in: OpenIn) -> MainWindow:
    """The window with the small phantom open."""
    open_in(window, small_phantom)
    return window
