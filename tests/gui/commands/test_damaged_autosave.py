"""A damaged autosave never keeps a patient from opening (issue 26, defects 9 and 33): a truncated
npz (a crash without fsync) is reported and set aside on reopen; a sidecar that is not JSON, or
whose label arrays are missing, is named in the patient's warnings and set aside, not ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.annotate.recovery import find_recovery, recovery_path
from ctseg_gui.main_window import MainWindow
from gui.commands.test_label_files import _edit
from gui.conftest import OpenIn, Questions


def _autosave(qtbot: QtBot, window: MainWindow) -> Path:
    _edit(window, strokes=2)
    with qtbot.waitSignal(window.autosaver.autosaved, timeout=10_000) as saved:
        assert window.autosaver.autosave()
    window.editor.history.mark_saved()  # reopen without the unsaved-label prompt
    return Path(saved.args[0])


def test_a_truncated_autosave_is_reported_set_aside_and_the_patient_opens(
    qtbot: QtBot,
    opened: MainWindow,
    small_phantom: Path,
    open_in: OpenIn,
    questions: Questions,
    dialogs: list[tuple[str, str]],
) -> None:
    sidecar = _autosave(qtbot, opened)
    info = find_recovery(opened.state.patient)
    assert info is not None
    data = info.mask_path.read_bytes()
    info.mask_path.write_bytes(data[: len(data) // 2])
    questions.answers["Restore autosaved label?"] = QMessageBox.StandardButton.Yes
    open_in(opened, small_phantom)  # patientLoaded: the patient finished opening
    assert opened.state.patient is not None and opened.editor.label is None
    assert dialogs and "truncated" in dialogs[-1][1] and "set aside as" in dialogs[-1][1], dialogs
    folder = recovery_path(small_phantom)
    assert not sidecar.exists() and not info.mask_path.exists()
    assert sorted(p.name.split(".damaged-")[0] for p in folder.iterdir()) == [info.mask_path.name, sidecar.name]
    open_in(opened, small_phantom)  # and never again
    assert questions.titles() == ["Restore autosaved label?"]


@pytest.mark.parametrize("damage", ["sidecar not JSON", "arrays missing"])
def test_an_unusable_autosave_is_named_in_the_warnings_and_set_aside(
    qtbot: QtBot, opened: MainWindow, small_phantom: Path, open_in: OpenIn, questions: Questions, damage: str
) -> None:
    sidecar = _autosave(qtbot, opened)
    info = find_recovery(opened.state.patient)
    assert info is not None
    if damage == "sidecar not JSON":
        sidecar.write_text('{"format": 1, "mask_fi')
    else:
        info.mask_path.unlink()
    open_in(opened, small_phantom)
    warnings = [w for w in opened.state.patient.warnings if w.startswith("autosaved label not offered")]
    expected = "is not JSON" if damage == "sidecar not JSON" else "are missing"
    assert len(warnings) == 1 and expected in warnings[0] and "set aside as" in warnings[0], warnings
    assert expected in opened.patient_panel.warnings.text()
    assert not sidecar.exists() and any(".damaged-" in p.name for p in recovery_path(small_phantom).iterdir())
    assert questions.titles() == []
