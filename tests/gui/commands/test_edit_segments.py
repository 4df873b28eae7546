"""The annotator's segment table in the window: add, rename, recolour, show, lock, remove; painting a
non-liver segment with the mouse; undo across segments; the autosave round trip; saving every
segment (NIfTI + label table, DICOM SEG, read back with nibabel and highdicom); the accepted
prediction goes into the liver; a screenshot with three segments."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.annotate.labels import LabelFormat, SaveTarget
from ctseg_core.annotate.recovery import find_recovery
from ctseg_core.io.masks import load_mask
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.main_window import MainWindow
from ctseg_gui.panels.segments import LOCKED, NAME, SHOWN
from gui.annotating import drag, key, zoom_on
from gui.conftest import FakeSegmenter, OpenIn, Questions


def _with_ground_truth_segments(qtbot: QtBot, window: MainWindow, *names: str) -> None:
    window.annotator.start_from_ground_truth()
    for name in names:
        with qtbot.waitSignal(window.editor.segmentsChanged, timeout=10_000):
            window.segment_commands.add_from_ground_truth(name)


def test_the_table_adds_renames_recolours_shows_locks_and_removes(
    qtbot: QtBot, opened: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor, panel, commands = opened.editor, opened.segments_panel, opened.segment_commands
    opened.annotator.start_from_ground_truth()
    assert panel.table.rowCount() == 1 and panel.table.item(0, NAME).text() == "liver"
    commands.add_action.trigger()
    assert panel.table.rowCount() == 2 and editor.segments.active == 2
    assert panel.table.selectionModel().selectedRows()[0].row() == 1
    panel.table.item(1, NAME).setText("lesion")  # as the name cell's editor commits it
    assert editor.segments.names == ["liver", "lesion"]
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args: QColor(10, 20, 30))
    commands.recolour(2)
    assert editor.segments.row(2).color == (10, 20, 30)
    panel.table.item(1, SHOWN).setCheckState(Qt.CheckState.Unchecked)
    panel.table.item(1, LOCKED).setCheckState(Qt.CheckState.Checked)
    assert not editor.segments.row(2).visible and editor.segments.row(2).locked
    panel.table.selectRow(0)
    assert editor.segments.active == 1
    panel.table.selectRow(1)
    commands.remove_action.trigger()
    assert editor.segments.names == ["liver"] and panel.table.rowCount() == 1
    assert not commands.remove_action.isEnabled()  # the last segment stays


def test_a_non_liver_segment_is_painted_with_the_mouse_drawn_in_its_colour_and_locked(
    qtbot: QtBot, opened: MainWindow
) -> None:
    editor, view = opened.editor, opened.axial_view
    opened.annotator.start_from_ground_truth()
    liver = editor.segments.masks[1].copy()
    row = editor.add_segment("vessels")
    assert row is not None
    zoom_on(opened, 100, 100)
    key(opened, "B")
    drag(opened, [(95, 100), (105, 100)])
    z = opened.state.slice_index
    painted = editor.segments.masks[row.value]
    assert painted[z, 100, 95] and painted[z, 100, 105] and np.array_equal(editor.segments.masks[1], liver)
    layer = view.segment_layer.image
    assert view.segment_layer.isVisible() and tuple(layer[100, 100, :3]) == row.color
    editor.set_segment_visible(row.value, False)
    assert view.segment_layer.image[100, 100, 3] == 0 or not view.segment_layer.isVisible()
    editor.set_segment_locked(row.value, True)
    before = painted.copy()
    drag(opened, [(95, 110), (105, 110)])
    assert np.array_equal(editor.segments.masks[row.value], before)


def test_undo_walks_back_across_segments(qtbot: QtBot, opened: MainWindow) -> None:
    editor = opened.editor
    opened.annotator.start_from_ground_truth()
    row = editor.add_segment("vessels")
    assert row is not None
    zoom_on(opened, 100, 100)
    key(opened, "B")
    drag(opened, [(95, 100), (100, 100)])
    editor.set_active_segment(1)
    drag(opened, [(20, 20), (25, 20)])
    z = opened.state.slice_index
    key(opened, "Ctrl+Z")
    assert not editor.segments.masks[1][z, 20, 20] and editor.segments.masks[row.value][z, 100, 95]
    key(opened, "Ctrl+Z")
    assert not editor.segments.masks[row.value][z, 100, 95]


def test_ground_truth_organs_become_segments_with_their_live_dice(qtbot: QtBot, opened: MainWindow) -> None:
    _with_ground_truth_segments(qtbot, opened, "livertumor", "spleen")
    editor, panel = opened.editor, opened.segments_panel
    assert editor.segments.names == ["liver", "livertumor", "spleen"]
    assert [panel.table.item(i, 4).text() for i in range(3)] == ["1.000", "1.000", "1.000"]
    truth = load_mask(opened.state.patient, "spleen")  # type: ignore[arg-type]
    assert np.array_equal(editor.segments.masks[3], truth)


def test_the_autosave_restores_every_segment(
    qtbot: QtBot,
    opened: MainWindow,
    open_in: OpenIn,
    questions: Questions,
    fake_segmenter: FakeSegmenter,
    small_phantom: Path,
    tmp_path: Path,
) -> None:
    _with_ground_truth_segments(qtbot, opened, "livertumor")
    editor = opened.editor
    editor.add_segment("vessels")
    zoom_on(opened, 100, 100)
    key(opened, "B")
    drag(opened, [(95, 100), (100, 100)])
    with qtbot.waitSignal(opened.autosaver.autosaved, timeout=10_000):
        assert opened.autosaver.autosave()
    assert find_recovery(opened.state.patient) is not None  # type: ignore[arg-type]
    pairs = [(s, m.copy()) for s, m in editor.segments.pairs()]
    questions.answers["Restore autosaved label?"] = QMessageBox.StandardButton.Yes
    second = MainWindow(  # a new session after a crash
        settings=QSettings(str(tmp_path / "second.ini"), QSettings.Format.IniFormat),
        segmenters=SegmenterCache(loader=lambda path: fake_segmenter),
        preload_model=False,
    )
    qtbot.addWidget(second)
    open_in(second, small_phantom)
    restored = second.editor.segments.pairs()
    assert [(s.name, s.color) for s, _ in restored] == [(s.name, s.color) for s, _ in pairs]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(restored, pairs, strict=True))
    assert second.editor.is_modified


def test_save_writes_every_segment_named_as_nifti_and_seg(qtbot: QtBot, opened: MainWindow, tmp_path: Path) -> None:
    import highdicom as hd
    import nibabel as nib

    _with_ground_truth_segments(qtbot, opened, "livertumor", "spleen")
    files = opened.label_files
    for target in (
        SaveTarget(LabelFormat.NIFTI, tmp_path / "edited.nii.gz", "edited"),
        SaveTarget(LabelFormat.DICOM_SEG, tmp_path / "edited.dcm", "edited"),
    ):
        with qtbot.waitSignal(files.saved, timeout=30_000):
            assert files.save_to(target)
    assert set(np.unique(np.asarray(nib.load(str(tmp_path / "edited.nii.gz")).dataobj))) == {0, 1, 2, 3}
    table = (tmp_path / "edited.txt").read_text()
    assert all(f'"{name}"' in table for name in ("liver", "livertumor", "spleen"))
    seg = hd.seg.segread(str(tmp_path / "edited.dcm"))
    names = [seg.get_segment_description(n).segment_label for n in seg.segment_numbers]
    assert names == ["liver", "livertumor", "spleen"] and not opened.editor.is_modified


def test_the_accepted_prediction_goes_into_the_liver_segment(qtbot: QtBot, opened: MainWindow) -> None:
    _with_ground_truth_segments(qtbot, opened, "spleen")
    state, editor = opened.state, opened.editor
    with qtbot.waitSignal(state.masksChanged, timeout=20_000):
        opened.segmentation.start()
    opened.annotator.accept_prediction()
    assert editor.segments.active == 1 and np.array_equal(editor.segments.masks[1], state.prediction)
    assert editor.segments.names == ["liver", "spleen"] and editor.segments.masks[2].any()


def test_screenshot_with_three_segments_and_the_table(qtbot: QtBot, opened: MainWindow, tmp_path: Path) -> None:
    """Three segments shown over the CT beside their table (``CTSEG_SCREENSHOT`` names a PNG to keep)."""
    _with_ground_truth_segments(qtbot, opened, "livertumor", "spleen")
    state = opened.state
    liver = opened.editor.segments.masks[1]
    state.set_slice(int(np.argmax(liver.sum(axis=(1, 2)))))
    state.set_overlay(show_gt=False)  # the segments' own colours, not mixed with the ground truth's green
    opened.segments_panel.table.selectRow(0)
    qtbot.wait(50)
    path = Path(os.environ.get("CTSEG_SCREENSHOT", tmp_path / "segments.png"))
    assert opened.grab().save(str(path))
    shown = opened.axial_view.segment_layer.image
    colours = {tuple(row.color) for row in opened.editor.segments.rows}
    drawn = {tuple(int(c) for c in px[:3]) for px in shown.reshape(-1, 4) if px[3]}
    assert colours <= drawn
