"""3D view tests: they need a real OpenGL platform, so they run only when asked.

Run: ``xvfb-run -a env QT_QPA_PLATFORM=xcb CTSEG_GL_TESTS=1 python3 -m pytest -q tests/gui3d``
(Xvfb with Mesa's software OpenGL is enough). Without ``CTSEG_GL_TESTS=1`` every test here is
skipped: Qt's offscreen platform, which tests/conftest.py sets for the 2-D GUI tests, has no OpenGL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, Qt
from pytestqt.qtbot import QtBot

from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.main_window import MainWindow

GL_TESTS = os.environ.get("CTSEG_GL_TESTS") == "1"
# pyqtgraph keeps its compiled shader programs in one process-wide cache, so a second window's GL
# view would use program names of the first, destroyed context; one share group keeps them valid
# (the app has one 3D view per process and needs none of this).
if GL_TESTS and QCoreApplication.instance() is None:
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if GL_TESTS:
        return
    skip = pytest.mark.skip(
        reason="3D (OpenGL) tests run only with CTSEG_GL_TESTS=1 on a GL platform, "
        "e.g. xvfb-run -a env QT_QPA_PLATFORM=xcb CTSEG_GL_TESTS=1 pytest tests/gui3d"
    )
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CTSEG_CACHE", str(tmp_path / "cache"))
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(tmp_path / "settings"))


@pytest.fixture(scope="session")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("gl") / "p", seed=1, slices=24)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """A shown viewer, deleted after the test while Qt is whole, as ``ctseg view`` does on quitting
    (left to PySide's clean-up at exit, the 3D pane's GL window can go before its container and crash)."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    viewer = MainWindow(settings=settings, preload_model=False)
    viewer.show_error_dialogs = False
    viewer.ask_questions = False
    viewer.resize(1400, 900)
    viewer.show()
    qtbot.waitExposed(viewer)
    yield viewer
    viewer.editor.history.mark_saved()
    viewer.close()
    viewer.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
