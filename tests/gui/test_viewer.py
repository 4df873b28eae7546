"""The viewer as a user drives it: open, scroll, window, overlays, cursor, errors, drops, recents."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ctseg_core.display.windowing import PRESETS, window_from_drag
from ctseg_core.errors import MaskMismatchError
from ctseg_core.io.patient import Patient
from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.commands.recent import RECENT_KEY
from ctseg_gui.jobs.patients import GroundTruth, OpenedPatient
from ctseg_gui.main_window import MainWindow
from ctseg_gui.panels.patient import NO_MASK
from ctseg_gui.panels.window import CUSTOM_WINDOW
from ctseg_gui.state.overlay_settings import OverlayStyle
from gui.conftest import OpenIn


def _centre(window: MainWindow) -> QPointF:
    viewport = window.axial_view.viewport()
    return QPointF(viewport.width() / 2, viewport.height() / 2)


def _wheel(window: MainWindow, notches: int, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    viewport = window.axial_view.viewport()
    pos = _centre(window)
    event = QWheelEvent(
        pos,
        QPointF(viewport.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def _mouse(
    window: MainWindow, kind: QMouseEvent.Type, pos: QPointF, button: Qt.MouseButton, buttons: Qt.MouseButton
) -> None:
    viewport = window.axial_view.viewport()
    event = QMouseEvent(kind, pos, QPointF(viewport.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def _viewport_pos_of_voxel(window: MainWindow, x: int, y: int) -> QPointF:
    _, dy, dx = window.state.patient.spacing_mm
    scene = window.axial_view.view.mapViewToScene(QPointF((x + 0.5) * dx, (y + 0.5) * dy))
    return QPointF(window.axial_view.mapFromScene(scene))


def test_opening_shows_the_patient_titled_sized_and_on_the_liver(opened: MainWindow) -> None:
    state = opened.state
    patient = state.patient
    assert opened.windowTitle() == f"ctseg — {patient.title()}"
    assert state.gt_name == "liver" and state.gt[state.slice_index].any()
    assert opened.navigator.slider.maximum() == patient.shape[0] - 1
    k = state.slice_index
    assert opened.navigator.label.text() == f"slice {k + 1}/{patient.shape[0]} · z = {patient.slice_z_mm(k):.2f} mm"
    rect = opened.axial_view.ct_item.mapRectToView(opened.axial_view.ct_item.boundingRect())
    _, dy, dx = patient.spacing_mm
    assert rect.width() == pytest.approx(patient.shape[2] * dx)
    assert rect.height() == pytest.approx(patient.shape[1] * dy)
    assert opened.patient_panel.organ.currentText() == "liver"
    assert opened.patient_panel.organ.count() == len(patient.available_masks)


def test_keys_move_through_slices(qtbot: QtBot, opened: MainWindow) -> None:
    state, view = opened.state, opened.axial_view
    view.setFocus()
    start = state.slice_index
    for key, expected in (
        (Qt.Key.Key_Up, start + 1),
        (Qt.Key.Key_Down, start),
        (Qt.Key.Key_Home, 0),
        (Qt.Key.Key_PageUp, 10),
        (Qt.Key.Key_End, state.depth - 1),
        (Qt.Key.Key_PageDown, state.depth - 11),
    ):
        qtbot.keyClick(view, key)
        assert state.slice_index == expected, key
    assert opened.navigator.slider.value() == state.slice_index


def test_wheel_changes_slice_and_ctrl_wheel_zooms(opened: MainWindow) -> None:
    state, box = opened.state, opened.axial_view.view
    start = state.slice_index
    _wheel(opened, 1)
    assert state.slice_index == start + 1
    _wheel(opened, -2)
    assert state.slice_index == start - 1
    width_before = box.viewRange()[0][1] - box.viewRange()[0][0]
    _wheel(opened, 3, Qt.KeyboardModifier.ControlModifier)
    assert state.slice_index == start - 1
    assert box.viewRange()[0][1] - box.viewRange()[0][0] < 0.9 * width_before
    opened.axial_view.fit()
    box.updateAutoRange()
    assert box.viewRange()[0][1] - box.viewRange()[0][0] == pytest.approx(width_before, rel=0.01)


def test_slider_moves_the_slice(opened: MainWindow) -> None:
    opened.navigator.slider.setValue(2)
    assert opened.state.slice_index == 2


def test_presets_by_key_and_combo_keep_spin_boxes_in_sync(qtbot: QtBot, opened: MainWindow) -> None:
    state, panel = opened.state, opened.window_panel
    opened.axial_view.setFocus()
    qtbot.keyClick(opened.axial_view, Qt.Key.Key_3)
    assert state.window == PRESETS["Bone"]
    assert (panel.width_box.value(), panel.level_box.value(), panel.preset.currentText()) == (1800, 400, "Bone")
    panel.preset.setCurrentText("Lung")
    panel.preset.activated.emit(panel.preset.currentIndex())
    assert state.window == PRESETS["Lung"]
    panel.width_box.setValue(350)
    assert state.window.width == 350 and panel.preset.currentText() == CUSTOM_WINDOW


def test_typing_in_a_window_box_does_not_trigger_shortcuts(qtbot: QtBot, opened: MainWindow) -> None:
    panel, state = opened.window_panel, opened.state
    panel.width_box.setFocus()
    slice_before = state.slice_index
    qtbot.keyClick(panel.width_box, Qt.Key.Key_Up)
    assert state.window.width == 401  # the box stepped, the slice did not
    qtbot.keyClick(panel.width_box, Qt.Key.Key_2)
    assert state.slice_index == slice_before
    assert state.window != PRESETS["Liver"]


def test_right_drag_changes_the_window_like_slicer(qtbot: QtBot, opened: MainWindow) -> None:
    state = opened.state
    before = state.window
    start = _centre(opened)
    end = start + QPointF(60, -40)
    right, none = Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
    _mouse(opened, QMouseEvent.Type.MouseButtonPress, start, right, right)
    for step in range(1, 5):
        qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms apart
        _mouse(opened, QMouseEvent.Type.MouseMove, start + (end - start) * (step / 4), none, right)
    qtbot.wait(15)
    _mouse(opened, QMouseEvent.Type.MouseButtonRelease, end, right, none)
    expected = window_from_drag(before, 60, -40)
    assert state.window.width == pytest.approx(expected.width)
    assert state.window.level == pytest.approx(expected.level)
    assert opened.window_panel.preset.currentText() == CUSTOM_WINDOW
    assert opened.axial_view.window_label.text() == f"W {expected.width:.0f}   L {expected.level:.0f}"


def test_g_and_p_keys_and_checkboxes_toggle_overlays(qtbot: QtBot, opened: MainWindow) -> None:
    state, view = opened.state, opened.axial_view
    ys, xs = np.nonzero(state.gt[state.slice_index])
    y, x = int(ys[0]), int(xs[0])
    assert view.overlay_item.image[y, x, 3] > 0
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_G)
    assert not state.overlay.show_gt and not opened.overlay_panel.show_gt.isChecked()
    assert view.overlay_item.image[y, x, 3] == 0
    opened.overlay_panel.show_gt.setChecked(True)
    assert state.overlay.show_gt and opened.menus.show_gt_action.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_P)
    assert not state.overlay.show_prediction and not opened.overlay_panel.show_prediction.isChecked()
    opened.overlay_panel.show_prediction.setChecked(True)
    assert state.overlay.show_prediction


def test_overlay_styles_and_opacity(qtbot: QtBot, opened: MainWindow) -> None:
    state, view = opened.state, opened.axial_view
    panel = opened.overlay_panel
    panel.style_box.setCurrentText(OverlayStyle.OUTLINE.value)
    panel.style_box.activated.emit(panel.style_box.currentIndex())
    assert state.overlay.style is OverlayStyle.OUTLINE
    alpha = view.overlay_item.image[..., 3]
    assert set(np.unique(alpha)) == {0, 255}
    assert 0 < np.count_nonzero(alpha) < state.gt[state.slice_index].sum() / 4
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_O)
    assert state.overlay.style is OverlayStyle.FILL_OUTLINE
    panel.opacity.setValue(80)
    assert state.overlay.opacity == pytest.approx(0.8)
    ys, xs = np.nonzero(state.gt[state.slice_index])
    assert view.overlay_item.image[ys[len(ys) // 2], xs[len(xs) // 2], 3] == 204


def test_the_view_shows_the_ct_grey_and_the_blended_overlay_colour(opened: MainWindow) -> None:
    """What reaches Qt: the CT's windowed grey outside the masks, the fill blended over it inside."""
    from ctseg_core.display import palette
    from ctseg_core.display.windowing import apply_window
    from ctseg_core.metrics import surface

    state, view = opened.state, opened.axial_view
    k = state.slice_index
    shown = view.ct_item.rgba()
    grey = apply_window(state.patient.hu[k], state.window).astype(float)
    outside = ~state.gt[k]
    assert np.array_equal(shown[outside][:, 0], grey[outside].astype(np.uint8))  # plain CT: R = G = B = grey
    assert np.array_equal(shown[outside][:, 1], shown[outside][:, 2]) and (shown[..., 3] == 255).all()
    inside = state.gt[k] & ~surface(state.gt[k])  # the fill, not the opaque outline
    alpha = round(255 * state.overlay.opacity) / 255
    expected = grey[inside][:, None] * (1 - alpha) + np.array(palette.GROUND_TRUTH, float) * alpha
    assert np.abs(shown[inside][:, :3] - expected).max() <= 1


def test_cursor_readout_shows_voxel_hu_position_and_membership(opened: MainWindow) -> None:
    state = opened.state
    k = state.slice_index
    ys, xs = np.nonzero(state.gt[k])
    y, x = int(ys[len(ys) // 2]), int(xs[len(xs) // 2])
    pos = _viewport_pos_of_voxel(opened, x, y)
    _mouse(opened, QMouseEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    assert state.cursor == (x, y)
    values = opened.cursor_readout.values
    patient = state.patient
    mm = patient.geometry.voxel_to_mm(k, y, x)
    assert values["voxel"].text() == f"{x + 1}, {y + 1}, {k + 1}"
    assert values["hu"].text() == f"{patient.hu[k, y, x]} HU"
    assert values["position"].text() == f"{mm[0]:.1f}, {mm[1]:.1f}, {mm[2]:.1f} mm"
    assert values["gt"].text() == "yes" and values["prediction"].text() == "—"
    state.step_slice(1)  # the pointer stays, the voxel under it changes
    assert values["hu"].text() == f"{patient.hu[k + 1, y, x]} HU"


def test_picking_another_organ_loads_it_lazily(qtbot: QtBot, opened: MainWindow) -> None:
    state, combo = opened.state, opened.patient_panel.organ
    assert "spleen" not in state.patient.masks
    combo.setCurrentText("spleen")
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: state.gt_name == "spleen", timeout=5000)
    assert state.gt is state.patient.masks["spleen"]
    assert opened.segmentation_panel.values["gt_volume"].text().endswith(" mL")


def test_a_patient_without_liver_mask_opens_without_ground_truth(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, open_in: OpenIn
) -> None:
    folder = write_phantom(tmp_path / "no_liver", seed=5, slices=4, size=64)
    shutil.rmtree(folder / "MASKS_DICOM" / "liver")
    open_in(window, folder)
    assert window.state.gt is None and window.state.gt_name is None
    combo = window.patient_panel.organ
    assert combo.currentText() == NO_MASK and combo.isEnabled()
    assert [combo.itemText(i) for i in range(combo.count())] == [NO_MASK, "livertumor", "spleen"]
    assert window.segmentation_panel.values["gt_volume"].text() == "—"
    assert window.overlay_panel.isEnabled() and window.axial_view.overlay_item.image[..., 3].max() == 0


def test_a_mask_that_fails_to_load_keeps_the_current_ground_truth(
    qtbot: QtBot, opened: MainWindow, dialogs: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mismatched(patient: Patient, name: str, *args: object) -> GroundTruth:
        raise MaskMismatchError(f"MASKS_DICOM/{name}", "5 mask slices for 12 CT slices: counts must match")

    monkeypatch.setattr("ctseg_gui.commands.patients.load_ground_truth", mismatched)
    combo = opened.patient_panel.organ
    combo.setCurrentText("spleen")
    with qtbot.waitSignal(opened.errorReported, timeout=5000):
        combo.activated.emit(combo.currentIndex())
    message = "MASKS_DICOM/spleen: 5 mask slices for 12 CT slices: counts must match"
    assert dialogs == [("Could not read the mask", message)]
    assert opened.state.gt_name == "liver" and combo.currentText() == "liver"


@pytest.mark.parametrize("make_bad", [lambda tmp: tmp / "missing", lambda tmp: _text_folder(tmp)])
def test_a_bad_folder_shows_the_core_message_and_keeps_the_patient(
    qtbot: QtBot, opened: MainWindow, dialogs: list, tmp_path: Path, make_bad: Callable[[Path], Path]
) -> None:
    patient, title = opened.state.patient, opened.windowTitle()
    bad = make_bad(tmp_path)
    with qtbot.waitSignal(opened.errorReported, timeout=5000) as reported:
        opened.open_path(bad)
    [(dialog_title, message)] = dialogs
    assert dialog_title == "Could not open patient"
    assert message == reported.args[0] and str(bad) in message and "Traceback" not in message
    assert opened.state.patient is patient and opened.windowTitle() == title


def _text_folder(tmp: Path) -> Path:
    folder = tmp / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not a CT")
    return folder


def test_unexpected_errors_show_type_and_message_only(
    qtbot: QtBot, window: MainWindow, dialogs: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> OpenedPatient:
        raise ValueError("bad value")

    monkeypatch.setattr("ctseg_gui.commands.patients.open_patient", broken)
    with qtbot.waitSignal(window.errorReported, timeout=5000):
        window.open_path("/anything")
    assert dialogs == [("Could not open patient", "ValueError: bad value")]


def test_dropping_a_folder_opens_it(qtbot: QtBot, window: MainWindow, small_phantom: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(small_phantom))])
    enter = QDragEnterEvent(
        QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.patientLoaded, timeout=10_000):
        window.dropEvent(drop)
    assert window.state.patient.source_path == small_phantom


def test_recent_patients_are_remembered_and_reopen(qtbot: QtBot, opened: MainWindow, small_phantom: Path) -> None:
    assert opened.recent.paths() == [str(small_phantom)]
    assert RECENT_KEY in opened.settings.allKeys()
    entries = [a for a in opened.menus.recent_menu.actions() if str(small_phantom) in a.text()]
    assert len(entries) == 1
    with qtbot.waitSignal(opened.patientLoaded, timeout=10_000):
        entries[0].trigger()
    assert opened.recent.paths() == [str(small_phantom)]


def test_worst_slice_without_prediction_is_disabled(opened: MainWindow) -> None:
    assert not opened.segmentation_panel.worst.isEnabled() and not opened.menus.worst_action.isEnabled()
    assert opened.segmentation_panel.values["dice"].text() == "—"
    assert opened.segmentation_panel.values["slice_dice"].text() == "—"
