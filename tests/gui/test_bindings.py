"""Mouse and key profiles drive the views: right-drag zoom, Shift+wheel brush size, the slice keys,
R reset, window/level mode, segment keys; the choice persists; F1 and the docs show each profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.annotate.tools import Tool
from ctseg_core.display.bindings import PROFILE_NAMES, Command, drag_command, markdown_table, wheel_command
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.main_window import MainWindow
from ctseg_gui.state.bindings import PROFILE_KEY
from gui.annotating import key
from gui.conftest import FakeSegmenter

RIGHT, LEFT, NONE = Qt.MouseButton.RightButton, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
KEYS_DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "keys.md"


def _centre(window: MainWindow) -> QPointF:
    viewport = window.axial_view.viewport()
    return QPointF(viewport.width() / 2, viewport.height() / 2)


def _drag(qtbot: QtBot, window: MainWindow, button: Qt.MouseButton, dx: float, dy: float) -> None:
    """Press ``button`` at the centre, move by (dx, dy) in four steps, release."""
    viewport = window.axial_view.viewport()
    start = _centre(window)

    def send(kind: QMouseEvent.Type, pos: QPointF, pressed: Qt.MouseButton, held: Qt.MouseButton) -> None:
        event = QMouseEvent(
            kind, pos, QPointF(viewport.mapToGlobal(pos)), pressed, held, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(viewport, event)

    send(QMouseEvent.Type.MouseButtonPress, start, button, button)
    for step in range(1, 5):
        qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms apart
        send(QMouseEvent.Type.MouseMove, start + QPointF(dx, dy) * (step / 4), NONE, button)
    qtbot.wait(15)
    send(QMouseEvent.Type.MouseButtonRelease, start + QPointF(dx, dy), button, NONE)


def _wheel(window: MainWindow, notches: int, modifiers: Qt.KeyboardModifier) -> None:
    viewport = window.axial_view.viewport()
    pos = _centre(window)
    event = QWheelEvent(
        pos, QPointF(viewport.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * notches), NONE, modifiers,
        Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(viewport, event)


def _width_shown(window: MainWindow) -> float:
    (x0, x1), _ = window.axial_view.view.viewRange()
    return x1 - x0


def test_the_tables_say_what_each_gesture_does() -> None:
    shift = frozenset({"Shift"})
    assert drag_command("ctseg", "right", frozenset()) is Command.WINDOW
    assert drag_command("Slicer", "right", frozenset()) is Command.ZOOM
    assert drag_command("ITK-SNAP", "right", frozenset()) is Command.ZOOM
    assert drag_command("Slicer", "left", frozenset(), window_mode=True) is Command.WINDOW
    assert drag_command("Slicer", "left", frozenset()) is Command.CROSSHAIR
    assert drag_command("ITK-SNAP", "left", frozenset({"Alt"})) is Command.PAN
    assert wheel_command("Slicer", shift) is wheel_command("ITK-SNAP", shift) is Command.BRUSH_SIZE
    assert wheel_command("ctseg", frozenset({"Ctrl"})) is Command.ZOOM
    assert drag_command("ITK-SNAP", "right", frozenset(), painting=True) is Command.ERASE  # its Paintbrush mode
    assert drag_command("ctseg", "right", frozenset(), painting=True) is Command.WINDOW
    assert drag_command("Slicer", "right", frozenset(), painting=True) is Command.ZOOM


def test_itk_snaps_right_button_erases_with_the_brush_and_zooms_otherwise(qtbot: QtBot, opened: MainWindow) -> None:
    editor = opened.editor
    editor.bindings.set_profile("ITK-SNAP")
    opened.annotator.start_empty()
    editor.set_tool(Tool.BRUSH)
    _drag(qtbot, opened, LEFT, 40, 0)  # paints
    painted = int(editor.segments.masks[1].sum())
    width_before = _width_shown(opened)
    _drag(qtbot, opened, RIGHT, 40, 0)  # the same path, erased: one undoable eraser stroke
    label = editor.label
    assert painted > 0 and label is not None and not label.any() and _width_shown(opened) == width_before
    assert editor.history.undo_description == "Eraser stroke"
    editor.set_tool(Tool.NAVIGATE)
    _drag(qtbot, opened, RIGHT, 0, -60)
    assert _width_shown(opened) < 0.5 * width_before  # not painting: the right button zooms


@pytest.mark.parametrize("profile", ["Slicer", "ITK-SNAP"])
def test_right_drag_zooms_and_shift_wheel_sizes_the_brush(qtbot: QtBot, opened: MainWindow, profile: str) -> None:
    opened.editor.bindings.set_profile(profile)
    window_before, width_before = opened.state.window, _width_shown(opened)
    _drag(qtbot, opened, RIGHT, 0, -60)  # up: zoom in
    assert _width_shown(opened) < 0.5 * width_before and opened.state.window == window_before
    radius = opened.editor.brush_radius_mm
    _wheel(opened, 1, Qt.KeyboardModifier.ShiftModifier)
    assert opened.editor.brush_radius_mm > radius
    slice_before = opened.state.slice_index
    _wheel(opened, 1, Qt.KeyboardModifier.NoModifier)
    assert opened.state.slice_index != slice_before  # the plain wheel still changes slice


def test_slicer_arrows_step_slices_r_resets_and_its_keys_take_over_menu_keys(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor = opened.state, opened.editor
    editor.bindings.set_profile("Slicer")
    start = state.slice_index
    key(opened, "Right")
    assert state.slice_index == start + 1
    key(opened, "Left")
    key(opened, "Left")
    assert state.slice_index == start - 1
    fitted = _width_shown(opened)
    _drag(qtbot, opened, RIGHT, 0, -60)
    assert _width_shown(opened) < 0.5 * fitted
    key(opened, "R")
    qtbot.waitUntil(lambda: _width_shown(opened) == pytest.approx(fitted, rel=0.05), timeout=2000)
    key(opened, "1")  # Slicer's effect 1 (Paint), not window preset 1
    assert editor.tool is Tool.BRUSH
    window = state.window
    editor.bindings.set_profile("ctseg")
    key(opened, "1")  # the preset's key is back
    assert state.window != window or state.window.width == pytest.approx(400)


def test_slicer_segment_keys_and_window_level_mode(qtbot: QtBot, opened: MainWindow) -> None:
    editor, state = opened.editor, opened.state
    editor.bindings.set_profile("Slicer")
    opened.annotator.start_from_ground_truth()
    editor.add_segment("tumour")
    key(opened, "Q")
    assert editor.segments.active == 1
    key(opened, "W")  # next segment, not the worst slice
    assert editor.segments.active == 2
    opened.profile_keys.window_mode_action.setChecked(True)
    before = state.window
    _drag(qtbot, opened, LEFT, 60, -40)
    assert state.window != before
    editor.set_tool(Tool.NAVIGATE)


def test_itk_snap_page_keys_step_slices_and_arrows_move_the_crosshair(qtbot: QtBot, opened: MainWindow) -> None:
    state = opened.state
    opened.editor.bindings.set_profile("ITK-SNAP")
    start = state.slice_index
    key(opened, "PgUp")
    assert state.slice_index == start + 1
    z, y, x = state.position
    key(opened, "Right")
    assert state.position == (z, y, x + 1)
    key(opened, "Up")
    assert state.position == (z, y - 1, x + 1)
    key(opened, "4")
    assert opened.editor.tool is Tool.BRUSH


def test_the_ctseg_profile_keeps_its_right_drag_window_and_arrow_keys(qtbot: QtBot, opened: MainWindow) -> None:
    state = opened.state
    start = state.slice_index
    key(opened, "Right")
    assert state.slice_index == start  # not a ctseg key
    key(opened, "Up")
    assert state.slice_index == start + 1
    before = state.window
    _drag(qtbot, opened, RIGHT, 60, -40)
    assert state.window != before


def test_the_profile_is_a_preference_kept_for_the_next_session(
    qtbot: QtBot, tmp_path: Path, fake_segmenter: FakeSegmenter
) -> None:
    settings = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    first = MainWindow(
        settings=settings, segmenters=SegmenterCache(loader=lambda p: fake_segmenter), preload_model=False
    )
    qtbot.addWidget(first)
    first.profile_keys.profile_actions["ITK-SNAP"].trigger()
    assert settings.value(PROFILE_KEY) == "ITK-SNAP"
    second = MainWindow(
        settings=settings, segmenters=SegmenterCache(loader=lambda p: fake_segmenter), preload_model=False
    )
    qtbot.addWidget(second)
    assert second.editor.bindings.profile == "ITK-SNAP" and second.profile_keys.profile_actions["ITK-SNAP"].isChecked()


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_f1_shows_the_active_profile_and_the_docs_show_every_profile(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: shown.append(text))
    window.editor.bindings.set_profile(profile)
    window.menus.show_help()
    assert f"{profile} profile" in shown[0]
    if profile == "Slicer":
        assert "right drag" in shown[0] and "Slicer UI" in shown[0]
    assert markdown_table(profile) in KEYS_DOC.read_text(encoding="utf-8")
