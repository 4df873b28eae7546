"""DICOM text is shown as text, never rendered as HTML (issue 26, defect 7): a PatientName of
``<h1>Dice 0.99 - VERIFIED</h1>`` is not a heading, an ``<img src=…>`` loads nothing."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.dialogs import messages
from ctseg_gui.main_window import MainWindow
from gui.conftest import OpenIn

NAME = "<h1>Dice 0.99 - VERIFIED</h1>"
DESCRIPTION = "<img src='/etc/passwd'><b>approved</b>"


@pytest.fixture(scope="module")
def html_phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A phantom whose PatientName and SeriesDescription hold HTML (pydicom edits of its slices)."""
    folder = write_phantom(tmp_path_factory.mktemp("html") / "p", seed=3, slices=4, size=64)
    for path in (folder / "PATIENT_DICOM").iterdir():
        ds = pydicom.dcmread(str(path))
        ds.PatientName = NAME
        ds.SeriesDescription = DESCRIPTION
        ds.save_as(str(path))
    return folder


def test_every_label_shows_the_patient_name_and_series_as_literal_text(
    window: MainWindow, open_in: OpenIn, html_phantom: Path
) -> None:
    open_in(window, html_phantom)
    labels = [label for label in window.findChildren(QLabel) if label.isVisible() and label.text()]
    shown = {label.text(): label for label in labels}
    assert NAME in shown and DESCRIPTION in shown, sorted(shown)
    for label in window.findChildren(QLabel):  # the edit panel's summary escapes what it inserts
        if label is not window.edit_panel.summary:
            assert label.textFormat() == Qt.TextFormat.PlainText, label.text()


def test_the_error_dialog_is_plain_text(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, Qt.TextFormat]] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: seen.append((box.text(), box.textFormat())) or 0)
    messages.show_error(None, "Could not open", f"{NAME}: not a CT")
    assert seen == [(f"{NAME}: not a CT", Qt.TextFormat.PlainText)]


def test_message_box_text_is_never_read_as_html() -> None:
    """Issue 26 (siblings of defect 7): the static message boxes (unsaved label, restore autosave, save
    dialog, ground truth) quote label and file names; Qt would guess HTML from a ``<tag`` in them."""
    from PySide6.QtGui import Qt as QtGui

    from ctseg_gui.widgets.plain_text import message_text

    for name in ("<h1>Dice 0.99 - VERIFIED</h1>", "<img src=/etc/passwd>", "a <b>bold</b> label"):
        text = message_text(f"The label “{name}” has 2 unsaved edits.\nSave it?")
        assert not QtGui.mightBeRichText(text)
        assert text.replace("\u200b", "") == f"The label “{name}” has 2 unsaved edits.\nSave it?"
