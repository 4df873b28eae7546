"""Issue 26, defect 32: answering Save at the unsaved-label prompt while a save is already running must
not drop what the prompt was for (opening another patient, closing)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

import ctseg_gui.commands.label_files as label_files
from ctseg_core.annotate.labels import LabelFormat, SaveTarget
from ctseg_core.annotate.tools import Tool
from ctseg_gui.main_window import MainWindow
from gui.conftest import Questions


def _edit(window: MainWindow) -> None:
    editor = window.editor
    editor.set_tool(Tool.BRUSH)
    editor.begin_stroke((100, 120))
    editor.extend_stroke((110, 150))
    editor.end_stroke()


def test_32_save_at_the_prompt_while_a_save_runs_still_opens_the_patient(
    qtbot: QtBot,
    opened: MainWindow,
    other_phantom: Path,
    questions: Questions,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    real = label_files.save_label

    def slow_save(*args: Any, **kwargs: Any) -> Any:
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(label_files, "save_label", slow_save)
    target = SaveTarget(LabelFormat.NIFTI, tmp_path / "out" / "liver_fixed.nii.gz", "liver_fixed")
    monkeypatch.setattr(opened.label_files, "ask_save_target", lambda: target)
    patient = opened.state.patient
    _edit(opened)
    assert opened.label_files.save_to(target)  # the first save, still running
    _edit(opened)  # one more edit: the prompt asks again
    questions.answers["Unsaved label"] = QMessageBox.StandardButton.Save
    opened.open_path(other_phantom)
    assert questions.titles() == ["Unsaved label"]
    release.set()
    qtbot.waitUntil(lambda: opened.state.patient is not patient, timeout=30_000)
    assert target.path.is_file()
