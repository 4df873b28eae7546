"""Never losing work: saving and loading in three formats, failed writes, autosave and recovery,
and the Save / Discard / Cancel prompt before closing or opening another patient."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.annotate.labels import LabelFormat, SaveTarget, load_label, save_label
from ctseg_core.annotate.recovery import find_recovery, recovery_path
from ctseg_core.annotate.tools import Tool
from ctseg_core.errors import Cancelled
from ctseg_core.progress import never_cancel, no_progress
from ctseg_gui.commands.autosave import AUTOSAVE_EVERY_EDITS
from ctseg_gui.dialogs.save_label import SaveLabelDialog
from ctseg_gui.jobs.patients import open_patient
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.main_window import MainWindow
from gui.conftest import FakeSegmenter, OpenIn, Questions

Button = QMessageBox.StandardButton


def _edit(window: MainWindow, strokes: int = 1, start: int = 0) -> None:
    """Brush strokes through the editor (the mouse path is tested in test_annotator_editing)."""
    editor = window.editor
    editor.set_tool(Tool.BRUSH)
    for i in range(start, start + strokes):
        editor.begin_stroke((100 + 7 * i, 120))
        editor.extend_stroke((110 + 7 * i, 150))
        editor.end_stroke()


def _save(qtbot: QtBot, window: MainWindow, target: SaveTarget) -> None:
    with qtbot.waitSignal(window.label_files.saved, timeout=20_000):
        assert window.label_files.save_to(target)


def _load(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.label_files.labelLoaded, timeout=20_000):
        window.label_files.load_label_from(path)


def _targets(tmp_path: Path) -> dict[LabelFormat, SaveTarget]:
    return {
        LabelFormat.NIFTI: SaveTarget(LabelFormat.NIFTI, tmp_path / "out" / "liver_fixed.nii.gz", "liver_fixed"),
        LabelFormat.DICOM_SEG: SaveTarget(LabelFormat.DICOM_SEG, tmp_path / "out" / "liver_fixed.dcm", "liver_fixed"),
        LabelFormat.IRCAD: SaveTarget(LabelFormat.IRCAD, tmp_path / "out", "liver_fixed"),
        LabelFormat.RTSTRUCT: SaveTarget(LabelFormat.RTSTRUCT, tmp_path / "out" / "liver_fixed.rs.dcm", "liver_fixed"),
        LabelFormat.SEG_NRRD: SaveTarget(
            LabelFormat.SEG_NRRD, tmp_path / "out" / "liver_fixed.seg.nrrd", "liver_fixed"
        ),
    }


@pytest.mark.parametrize("fmt", list(LabelFormat), ids=lambda f: f.name)
def test_a_saved_label_loads_back_identical(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, fmt: LabelFormat, recovery_cache: Path
) -> None:
    annotator, editor, patient = opened.annotator, opened.editor, opened.state.patient
    annotator.actions.from_gt.trigger()
    _edit(opened, strokes=3)
    saved = editor.label.copy()
    opened.autosaver.autosave()
    qtbot.waitUntil(lambda: find_recovery(patient) is not None, timeout=5000)
    target = _targets(tmp_path)[fmt]
    _save(qtbot, opened, target)

    assert target.written_path.exists()
    assert not editor.is_modified and not opened.windowTitle().endswith("*")
    assert find_recovery(patient) is None  # a successful save deletes the autosave
    if fmt is LabelFormat.NIFTI:
        assert np.allclose(nib.load(target.path).affine, patient.geometry.affine_ras())
    if fmt is LabelFormat.IRCAD:
        assert sorted(p.name for p in target.written_path.iterdir()) == sorted(
            f"image_{k}" for k in range(patient.shape[0])
        )

    annotator.actions.new_empty.trigger()
    _load(qtbot, opened, target.written_path)
    assert np.array_equal(editor.label, saved) and editor.name == "liver_fixed"
    assert opened.label_files.last_target == target  # Ctrl+S writes back where it came from
    key_undo = editor.history.undo_description
    assert key_undo == f"Load {target.written_path.name}"


def test_save_dialog_offers_each_format_with_a_sensible_destination(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path
) -> None:
    patient = opened.state.patient
    settings = QSettings(str(tmp_path / "dialog.ini"), QSettings.Format.IniFormat)
    dialog = SaveLabelDialog(patient, "liver", None, settings)
    qtbot.addWidget(dialog)
    dialog.format_box.setCurrentText(LabelFormat.IRCAD.value)
    # the default never points at the ground truth: "liver" is the patient's own liver mask
    assert dialog.target() == SaveTarget(LabelFormat.IRCAD, patient.source_path, "liver_edited")
    dialog.name_edit.setText("liver")
    assert dialog.written.text() == f"Replaces {patient.source_path / 'MASKS_DICOM' / 'liver'}"  # the GT!
    dialog.name_edit.setText("liver_fixed")
    assert dialog.written.text() == f"Writes {patient.source_path / 'MASKS_DICOM' / 'liver_fixed'}"
    dialog.name_edit.setText("liver")
    dialog.format_box.setCurrentText(LabelFormat.NIFTI.value)
    nifti = dialog.target()
    assert nifti.path == patient.source_path.parent / f"{patient.source_path.name}_liver.nii.gz"
    dialog.name_edit.setText("liver_v2")
    dialog.format_box.setCurrentText(LabelFormat.DICOM_SEG.value)
    assert dialog.target().path.name == f"{patient.source_path.name}_liver_v2.dcm"


def test_save_dialog_refuses_bad_names_and_asks_before_replacing(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, questions: Questions, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: warnings.append(text))
    settings = QSettings(str(tmp_path / "dialog.ini"), QSettings.Format.IniFormat)
    dialog = SaveLabelDialog(opened.state.patient, "liver", None, settings)
    qtbot.addWidget(dialog)
    dialog.format_box.setCurrentText(LabelFormat.IRCAD.value)
    dialog.name_edit.setText("../liver")
    dialog.accept()
    assert dialog.result() == 0 and len(warnings) == 1
    existing = tmp_path / "old.nii.gz"
    existing.write_bytes(b"")
    dialog.format_box.setCurrentText(LabelFormat.NIFTI.value)
    dialog.name_edit.setText("liver")
    dialog.path_edit.setText(str(existing))
    questions.answers["Replace?"] = Button.No
    dialog.accept()
    assert dialog.result() == 0 and questions.titles() == ["Replace?"]
    questions.answers["Replace?"] = Button.Yes
    dialog.accept()
    assert dialog.result() == 1 and dialog.target() == SaveTarget(LabelFormat.NIFTI, existing, "liver")
    assert settings.value("labels/lastSaveDir") == str(tmp_path)


def test_replacing_the_ground_truth_takes_a_prompt_that_names_it(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[tuple[str, str]] = []
    answer = [QMessageBox.StandardButton.No]

    def warn(parent: object, title: str, text: str, *args: object) -> QMessageBox.StandardButton:
        prompts.append((title, text))
        return answer[0]

    monkeypatch.setattr(QMessageBox, "warning", warn)
    patient = opened.state.patient
    dialog = SaveLabelDialog(patient, "liver", None, QSettings(str(tmp_path / "d.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(dialog)
    dialog.format_box.setCurrentText(LabelFormat.IRCAD.value)
    dialog.name_edit.setText("liver")
    dialog.accept()
    assert dialog.result() == 0
    assert prompts[-1][0] == "Replace the ground truth?" and "GROUND TRUTH" in prompts[-1][1]
    assert "MASKS_DICOM/liver" in prompts[-1][1]
    answer[0] = QMessageBox.StandardButton.Yes
    dialog.accept()
    assert dialog.result() == 1 and dialog.target().replace_ground_truth


def test_a_save_over_the_ground_truth_without_consent_is_refused_and_keeps_it(
    qtbot: QtBot, opened: MainWindow, dialogs: list[tuple[str, str]]
) -> None:
    patient = opened.state.patient
    truth = patient.source_path / "MASKS_DICOM" / "liver"
    before = {p.name: p.read_bytes() for p in truth.iterdir()}
    _edit(opened)
    assert opened.label_files.save_to(SaveTarget(LabelFormat.IRCAD, patient.source_path, "liver"))
    qtbot.waitUntil(lambda: bool(dialogs), timeout=10_000)
    assert "ground truth" in dialogs[-1][1]
    assert {p.name: p.read_bytes() for p in truth.iterdir()} == before


def test_ctrl_s_asks_where_the_first_time_then_saves_there_again(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _targets(tmp_path)[LabelFormat.NIFTI]
    asked = []
    monkeypatch.setattr(opened.label_files, "ask_save_target", lambda: asked.append(1) or target)
    _edit(opened)
    with qtbot.waitSignal(opened.label_files.saved, timeout=10_000):
        opened.annotator.actions.save.trigger()
    _edit(opened, start=1)
    assert opened.windowTitle().endswith(" *")
    with qtbot.waitSignal(opened.label_files.saved, timeout=10_000):
        opened.annotator.actions.save.trigger()
    assert asked == [1] and not opened.editor.is_modified


@pytest.mark.parametrize("failure", ["under a file", "permission"])
def test_a_failed_save_says_why_and_keeps_the_edits(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, dialogs: list, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    annotator, editor = opened.annotator, opened.editor
    _edit(opened, strokes=2)
    before = editor.label.copy()
    if failure == "under a file":  # mkdir under a regular file fails, even as root
        (tmp_path / "plain").write_text("not a folder")
        target = SaveTarget(LabelFormat.NIFTI, tmp_path / "plain" / "x.nii.gz", "liver")
        expected = str(tmp_path / "plain")
    else:

        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", str(tmp_path / "ro" / "MASKS_DICOM"))

        monkeypatch.setattr("ctseg_core.io.ircad_labels.write_ircad_mask", refuse)
        target = SaveTarget(LabelFormat.IRCAD, tmp_path / "ro", "liver")
        expected = f"{tmp_path / 'ro' / 'MASKS_DICOM'}: Permission denied"
    with qtbot.waitSignal(opened.errorReported, timeout=10_000):
        opened.label_files.save_to(target)
    [(title, message)] = dialogs
    assert title == "Could not save the label" and expected in message and "Traceback" not in message
    assert np.array_equal(editor.label, before) and editor.is_modified and editor.unsaved_edits == 2
    assert opened.windowTitle().endswith(" *") and opened.label_files.last_target is None
    assert annotator.actions.save.isEnabled()


def test_every_20_edits_are_autosaved_and_offered_back_after_a_crash(
    qtbot: QtBot,
    opened: MainWindow,
    small_phantom: Path,
    open_in: OpenIn,
    questions: Questions,
    fake_segmenter: FakeSegmenter,
    tmp_path: Path,
) -> None:
    with qtbot.waitSignal(opened.autosaver.autosaved, timeout=10_000):
        _edit(opened, strokes=AUTOSAVE_EVERY_EDITS)
    autosaved = opened.editor.label.copy()
    info = find_recovery(opened.state.patient)
    assert info is not None and info.edits == AUTOSAVE_EVERY_EDITS and info.name == "liver"

    # The first window "crashes" (stays as it is); a new session opens the same patient.
    questions.answers["Restore autosaved label?"] = Button.Yes
    second = MainWindow(
        settings=QSettings(str(tmp_path / "second.ini"), QSettings.Format.IniFormat),
        segmenters=SegmenterCache(loader=lambda path: fake_segmenter),
        preload_model=False,
    )
    qtbot.addWidget(second)
    open_in(second, small_phantom)
    assert questions.titles() == ["Restore autosaved label?"]
    assert np.array_equal(second.editor.label, autosaved)
    assert second.editor.is_modified and second.windowTitle().endswith(" *")
    assert second.editor.history.undo_description == "Restore autosave"


def test_declining_the_autosave_deletes_it(
    qtbot: QtBot, opened: MainWindow, small_phantom: Path, open_in: OpenIn, questions: Questions
) -> None:
    patient = opened.state.patient
    _edit(opened, strokes=2)
    with qtbot.waitSignal(opened.autosaver.autosaved, timeout=10_000):
        assert opened.autosaver.autosave()
    assert not opened.autosaver.autosave()  # nothing new since
    opened.editor.history.mark_saved()  # reopening without a prompt: as if saved
    open_in(opened, small_phantom)
    assert questions.titles() == ["Restore autosaved label?"]
    assert opened.editor.label is None and find_recovery(opened.state.patient) is None
    assert not recovery_path(patient.source_path).exists()


def test_the_autosave_timer_writes_unsaved_edits(qtbot: QtBot, opened: MainWindow) -> None:
    opened.autosaver.autosave_timer.setInterval(20)
    _edit(opened)
    with qtbot.waitSignal(opened.autosaver.autosaved, timeout=5000):
        pass
    assert find_recovery(opened.state.patient).edits == 1


def test_opening_another_patient_with_unsaved_edits_asks_first(
    qtbot: QtBot, opened: MainWindow, other_phantom: Path, open_in: OpenIn, questions: Questions
) -> None:
    patient = opened.state.patient
    _edit(opened, strokes=2)
    edited = opened.editor.label.copy()
    questions.answers["Unsaved label"] = Button.Cancel
    opened.open_path(other_phantom)
    assert questions.titles() == ["Unsaved label"] and "2 unsaved edits" in questions.asked[0][1]
    assert not opened.runner.running("load")
    assert opened.state.patient is patient and np.array_equal(opened.editor.label, edited)
    assert opened.windowTitle().endswith(" *")

    questions.answers["Unsaved label"] = Button.Discard
    open_in(opened, other_phantom)
    assert opened.state.patient is not patient and opened.editor.label is None
    assert not opened.windowTitle().endswith("*")


def test_closing_with_unsaved_edits_asks_cancel_keeps_discard_closes(
    qtbot: QtBot, opened: MainWindow, questions: Questions
) -> None:
    _edit(opened)
    with qtbot.waitSignal(opened.autosaver.autosaved, timeout=5000):
        opened.autosaver.autosave()
    questions.answers["Unsaved label"] = Button.Cancel
    assert not opened.close()
    assert opened.isVisible() and opened.editor.is_modified
    questions.answers["Unsaved label"] = Button.Discard
    assert opened.close()
    assert not opened.isVisible() and questions.titles() == ["Unsaved label", "Unsaved label"]
    assert find_recovery(opened.state.patient) is None  # an explicit discard deletes the autosave


def test_choosing_save_when_closing_saves_then_closes(
    qtbot: QtBot, opened: MainWindow, questions: Questions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _targets(tmp_path)[LabelFormat.NIFTI]
    monkeypatch.setattr(opened.label_files, "ask_save_target", lambda: target)
    _edit(opened)
    questions.answers["Unsaved label"] = Button.Save
    with qtbot.waitSignal(opened.label_files.saved, timeout=10_000):
        assert not opened.close()  # not yet: the save runs first
    qtbot.waitUntil(lambda: not opened.isVisible(), timeout=5000)
    assert target.path.is_file() and questions.titles() == ["Unsaved label"]


def test_dicom_seg_reads_the_ct_headers_once_per_patient(
    qtbot: QtBot, opened: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ctseg_core.annotate.labels as label_io

    reads = []
    real = label_io.read_source_datasets
    monkeypatch.setattr(label_io, "read_source_datasets", lambda patient: reads.append(1) or real(patient))
    target = _targets(tmp_path)[LabelFormat.DICOM_SEG]
    _edit(opened)
    _save(qtbot, opened, target)
    _edit(opened, start=1)
    _save(qtbot, opened, SaveTarget(LabelFormat.DICOM_SEG, tmp_path / "again.dcm", "liver"))
    assert reads == [1] and (tmp_path / "again.dcm").is_file()


def test_an_ircad_save_reports_each_slice_written_and_loads_back_without_touching_the_patient(
    small_phantom: Path, tmp_path: Path
) -> None:
    opened = open_patient(small_phantom, no_progress, never_cancel)
    patient, depth = opened.patient, opened.patient.shape[0]
    label = np.zeros(patient.shape, bool)
    label[3:9, 200:260, 180:300] = True
    target = SaveTarget(LabelFormat.IRCAD, tmp_path / "out", "liver_fixed")
    reports: list[tuple[int, int, str]] = []
    save_label(label, patient, target, None, lambda *report: reports.append(report), never_cancel)
    assert reports == [(k, depth, "writing mask") for k in range(depth + 1)]  # 0, then after each slice

    masks_before = dict(patient.masks)
    loaded = load_label(target.written_path, patient, no_progress, never_cancel)
    assert np.array_equal(loaded.mask, label) and loaded.name == "liver_fixed"
    assert patient.masks == masks_before  # nothing cached on the patient

    polls = iter(range(1_000))
    with pytest.raises(Cancelled):  # cancelled after a few slices: the folder never appears
        save_label(
            label,
            patient,
            SaveTarget(LabelFormat.IRCAD, tmp_path / "other", "liver_fixed"),
            None,
            no_progress,
            lambda: next(polls) >= 3,
        )
    assert not (tmp_path / "other" / "MASKS_DICOM" / "liver_fixed").exists()
