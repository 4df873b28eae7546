"""``ctseg view --cohort [--db DB] --screenshot FILE``: the browser on the database, grabbed; a
database that cannot be used is a message and exit 1, and is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from ctseg_gui.app import run_viewer
from ctseg_gui.cli import main
from ctseg_gui.main_window import MainWindow
from gui.cohort_helpers import index_phantoms


@pytest.fixture
def shown_windows(monkeypatch: pytest.MonkeyPatch) -> list[MainWindow]:
    windows: list[MainWindow] = []

    class Recorded(MainWindow):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            windows.append(self)

    monkeypatch.setattr("ctseg_gui.app.MainWindow", Recorded)
    monkeypatch.setattr("ctseg_gui.app.dispose", lambda window: window.close())
    return windows


@pytest.fixture(autouse=True)
def forget_the_dock() -> Iterator[None]:
    """``ctseg view`` writes the session's settings: the viewers of later tests start without the dock."""
    yield
    QSettings("ctseg", "ctseg").remove("cohort")


def test_view_cohort_screenshot_shows_the_browser(
    tmp_path: Path, dialogs: list, shown_windows: list[MainWindow]
) -> None:
    database = index_phantoms(tmp_path, patients=3, slices=4, size=64)
    shot = tmp_path / "cohort.png"
    assert main(["view", "--cohort", "--db", str(database), "--screenshot", str(shot)]) == 0
    assert not QImage(str(shot)).isNull() and dialogs == []
    [window] = shown_windows
    assert not window.cohort.dock.isHidden() and window.cohort.model.rowCount() == 3


@pytest.mark.parametrize("content", [b"not a database at all", b"SQLite format 3\x00" + b"\x07" * 2000])
def test_a_database_that_cannot_be_used_is_a_message_and_exit_1(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str], dialogs: list
) -> None:
    database = tmp_path / "cohort.sqlite"
    database.write_bytes(content)
    assert run_viewer(None, screenshot=str(tmp_path / "x.png"), cohort=True, db=str(database)) == 1
    assert f"{database}:" in capsys.readouterr().err
    assert database.read_bytes() == content and not (tmp_path / "x.png").exists() and dialogs == []


def test_a_missing_database_is_not_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.sqlite"
    assert run_viewer(None, screenshot=str(tmp_path / "x.png"), cohort=True, db=str(missing)) == 1
    assert "ctseg index" in capsys.readouterr().err and not missing.exists()


def test_db_without_cohort_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", "--db", str(tmp_path / "c.sqlite")]) != 0
    assert "--db goes with --cohort" in capsys.readouterr().err
