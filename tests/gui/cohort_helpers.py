"""Cohorts for the browser's tests: phantom patients indexed into a database, and a window showing it."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytestqt.qtbot import QtBot

from ctseg_core.cohort import CohortDatabase
from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.main_window import MainWindow

PATIENTS = 5


def index_phantoms(folder: Path, patients: int = PATIENTS, slices: int = 8, size: int = 128) -> Path:
    """``patients`` small phantoms under ``folder/root`` indexed into ``folder/cohort.sqlite``."""
    for seed in range(patients):
        write_phantom(folder / "root" / f"patient_{seed}", seed=seed + 1, slices=slices + seed, size=size)
    database = folder / "cohort.sqlite"
    with CohortDatabase(database) as cohort:
        cohort.index([folder / "root"])
    return database


def copy_database(database: Path, folder: Path) -> Path:
    """A copy a test may write to (the session's database stays as indexed)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(database, folder / database.name))


def show_cohort(qtbot: QtBot, window: MainWindow, database: Path) -> None:
    assert window.cohort.show_browser(database), window.cohort.error
    qtbot.waitUntil(lambda: window.cohort.dock.isVisible())
