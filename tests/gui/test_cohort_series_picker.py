"""File ▸ Open on a folder holding several CT series lists them and opens the one the user picks;
a folder with one series opens at once, as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ctseg_core.io.series import SeriesSummary
from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.dialogs.series_picker import SeriesPicker, series_text
from ctseg_gui.main_window import MainWindow


@pytest.fixture(scope="module")
def two_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One patient's folder with two CT series: 6 slices (the phantom's) and 9 ("venous")."""
    folder = tmp_path_factory.mktemp("picker")
    write_phantom(folder / "p1", seed=1, slices=6, size=64)
    write_phantom(folder / "p2", seed=2, slices=9, size=64)
    shutil.copytree(folder / "p1" / "PATIENT_DICOM", folder / "two" / "a")
    shutil.copytree(folder / "p2" / "PATIENT_DICOM", folder / "two" / "b")
    first = pydicom.dcmread(next((folder / "two" / "a").iterdir()))
    for path in (folder / "two" / "b").iterdir():
        ds = pydicom.dcmread(path)
        ds.PatientID, ds.PatientName, ds.StudyInstanceUID = first.PatientID, first.PatientName, first.StudyInstanceUID
        ds.SeriesDescription = "venous <b>phase</b>"
        ds.save_as(path)
    return folder / "two"


def choose_folder(window: MainWindow, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ctseg_gui.main_window.QFileDialog.getExistingDirectory", lambda *a, **k: str(folder))
    window.choose_folder()


def test_the_user_picks_the_smaller_series(
    qtbot: QtBot, window: MainWindow, two_series: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered: list[list[SeriesSummary]] = []

    def pick(series: list[SeriesSummary], where: str, parent: object) -> str:
        offered.append(series)
        return series[1].series_uid

    monkeypatch.setattr("ctseg_gui.dialogs.series_picker.pick_series", pick)
    with qtbot.waitSignal(window.patientLoaded, timeout=20_000):
        choose_folder(window, two_series, monkeypatch)
    [series] = offered
    assert [s.slices for s in series] == [9, 6]
    assert window.state.patient.shape[0] == 6 and window.state.patient.series_uid == series[1].series_uid


def test_cancelling_the_picker_opens_nothing(
    qtbot: QtBot, window: MainWindow, two_series: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ctseg_gui.dialogs.series_picker.pick_series", lambda *a: None)
    choose_folder(window, two_series, monkeypatch)
    qtbot.waitUntil(lambda: not window.runner.running("list-series"))
    qtbot.wait(200)
    assert window.state.patient is None and not window.runner.running("load")


def test_a_folder_with_one_series_opens_without_asking(
    qtbot: QtBot, window: MainWindow, small_phantom: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ctseg_gui.dialogs.series_picker.pick_series", lambda *a: pytest.fail("asked"))
    with qtbot.waitSignal(window.patientLoaded, timeout=20_000):
        choose_folder(window, small_phantom, monkeypatch)


def test_the_dialog_lists_every_series_as_plain_text(qtbot: QtBot) -> None:
    series = [SeriesSummary("1.2.3", "CT", "venous <b>phase</b>", 9), SeriesSummary("1.2.4", "CT", "", 6)]
    dialog = SeriesPicker(series, "two")
    qtbot.addWidget(dialog)
    assert [dialog.list.item(k).text() for k in range(2)] == [series_text(s) for s in series]
    assert "venous <b>phase</b>" in dialog.list.item(0).text()
    dialog.list.setCurrentRow(1)
    assert dialog.chosen_uid() == "1.2.4"
    qtbot.keyClick(dialog.list, Qt.Key.Key_Up)
    assert dialog.chosen_uid() == "1.2.3"
