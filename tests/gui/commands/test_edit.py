"""Correcting a mask with the mouse and keys: brush, eraser, HU masking, fills, interpolation,
islands, undo/redo, the brush circle, the label layer and live Dice."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from pytestqt.qtbot import QtBot
from scipy import ndimage

from ctseg_core.annotate import editing
from ctseg_core.annotate.live_dice import OverlapCounts
from ctseg_core.annotate.tools import DEFAULT_BRUSH_MM, Tool
from ctseg_core.display import palette
from ctseg_core.metrics import MaskScores, dice, format_metric
from ctseg_gui.jobs.patients import OpenedPatient
from ctseg_gui.main_window import MainWindow
from ctseg_gui.plane_view.overlay_tables import label_table
from ctseg_gui.state.overlay_settings import OverlaySettings, OverlayStyle
from gui.annotating import MIDDLE, click, drag, hover, key, run_volume_tool, wheel, zoom_on


def _spacing_yx(window: MainWindow) -> tuple[float, float]:
    _, dy, dx = window.state.patient.spacing_mm
    return (dy, dx)


def _liver_centre(window: MainWindow, within: np.ndarray | None = None) -> tuple[int, int]:
    """(x, y) of the voxel deepest inside the ground truth (and ``within``) on the slice shown.

    The deepest voxel, not the median one: a lobulated liver's median can fall on a vessel,
    a tumour or outside it.
    """
    region = window.state.gt[window.state.slice_index]
    if within is not None:
        region = region & within
    depth = ndimage.distance_transform_edt(region)
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return int(x), int(y)


def test_a_brush_stroke_paints_exactly_the_core_stroke_through_the_mouse_points(
    qtbot: QtBot, opened: MainWindow
) -> None:
    editor, z = opened.editor, opened.state.slice_index
    key(opened, "B")
    assert editor.tool is Tool.BRUSH and opened.annotator.actions.tools[Tool.BRUSH].isChecked()
    zoom_on(opened, 200, 200)
    range_before = opened.axial_view.view.viewRange()
    points = drag(opened, [(190, 195), (196, 199), (207, 204), (212, 214)])

    expected = np.zeros(opened.state.patient.shape, bool)
    editing.paint_stroke(expected, z, points, DEFAULT_BRUSH_MM, _spacing_yx(opened), True)
    assert editor.label is not None and np.array_equal(editor.label, expected)
    assert opened.axial_view.view.viewRange() == range_before  # painting never pans
    assert editor.history.undo_description == "Brush stroke"
    assert opened.annotator.actions.undo.text() == "&Undo Brush stroke"
    assert opened.windowTitle().endswith(" *")
    rows, columns = np.nonzero(expected[z])
    assert opened.axial_view.label_item.image[rows[0], columns[0], :3].tolist() == list(palette.EDITED_LABEL)


def test_middle_drag_still_pans_and_the_wheel_still_scrolls_with_the_brush(qtbot: QtBot, opened: MainWindow) -> None:
    key(opened, "B")
    zoom_on(opened, 200, 200)
    x_range = opened.axial_view.view.viewRange()[0]
    drag(opened, [(190, 200), (200, 200), (215, 200)], button=MIDDLE)
    assert opened.axial_view.view.viewRange()[0] != x_range
    assert opened.editor.label is None  # the middle button never paints
    start = opened.state.slice_index
    wheel(opened, 1)
    assert opened.state.slice_index == start + 1


def test_the_eraser_removes_a_stroke_from_a_copy_of_the_ground_truth(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor = opened.state, opened.editor
    opened.annotator.actions.from_gt.trigger()
    assert np.array_equal(editor.label, state.gt) and editor.label is not state.gt
    assert not editor.is_modified and not opened.windowTitle().endswith("*")
    key(opened, "Shift+B")
    assert editor.tool is Tool.ERASER
    key(opened, "N")
    key(opened, "X")
    assert editor.tool is Tool.ERASER
    x, y = _liver_centre(opened)
    zoom_on(opened, x, y)
    points = drag(opened, [(x - 10, y), (x, y + 3), (x + 10, y)])
    expected = state.gt.copy()
    editing.paint_stroke(expected, state.slice_index, points, DEFAULT_BRUSH_MM, _spacing_yx(opened), False)
    assert np.array_equal(editor.label, expected) and expected.sum() < state.gt.sum()
    assert editor.history.undo_description == "Eraser stroke" and editor.is_modified


def test_the_hu_limited_brush_paints_only_voxels_in_range(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor, panel = opened.state, opened.editor, opened.edit_panel
    panel.hu_enabled.setChecked(True)
    panel.hu_lo.setValue(40)
    panel.hu_hi.setValue(90)
    assert editor.hu_limit.enabled and editor.hu_limit.range == (40.0, 90.0)
    panel.radius.setValue(12.0)
    key(opened, "B")
    x, y = _liver_centre(opened)
    zoom_on(opened, x, y)
    points = drag(opened, [(x - 6, y), (x + 6, y)])
    z, hu = state.slice_index, state.patient.hu
    expected = np.zeros(state.patient.shape, bool)
    editing.paint_stroke(expected, z, points, 12.0, _spacing_yx(opened), True, hu, (40, 90))
    assert np.array_equal(editor.label, expected)
    painted = hu[z][editor.label[z]]
    assert painted.size and painted.min() >= 40 and painted.max() <= 90
    unconstrained = np.zeros_like(expected)
    editing.paint_stroke(unconstrained, z, points, 12.0, _spacing_yx(opened), True)
    assert unconstrained.sum() > expected.sum()  # the range did hold some voxels back


def test_flood_fill_fills_the_connected_region_in_range_on_a_click(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor = opened.state, opened.editor
    hu = state.patient.hu[state.slice_index]
    centre = float(np.median(hu[state.gt[state.slice_index]]))
    lo, hi = round(centre - 50), round(centre + 50)  # the parenchyma's range, whatever the phantom's phase
    editor.set_hu_limit(lo=lo, hi=hi)
    key(opened, "L")
    assert editor.tool is Tool.FLOOD
    x, y = _liver_centre(opened, within=(hu >= lo) & (hu <= hi))
    zoom_on(opened, x, y)
    click(opened, x, y)
    expected = np.zeros(state.patient.shape, bool)
    added = editing.flood_fill_2d(expected, state.slice_index, (y, x), state.patient.hu, (lo, hi))
    assert added > 1000 and np.array_equal(editor.label, expected)
    assert editor.history.undo_description == "Flood fill"


def test_fill_holes_and_keep_largest_and_remove_islands(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor = opened.state, opened.editor
    z = state.slice_index
    ring = np.zeros(state.patient.shape, bool)
    ring[z, 100:160, 100:160] = True
    ring[z, 120:140, 120:140] = False
    ring[z, 300:302, 300:302] = True  # a stray dot: 4 voxels
    editor.start_label(ring, "liver", "test label")
    key(opened, "H")
    assert editor.label[z, 100:160, 100:160].all() and editor.history.undo_description == "Fill holes"
    opened.edit_panel.island_ml.setValue(0.05)
    run_volume_tool(qtbot, opened, opened.annotator.actions.remove_islands.trigger)
    assert not editor.label[z, 300:302, 300:302].any() and editor.label[z, 100:160, 100:160].all()
    key(opened, "Ctrl+Z")
    assert editor.label[z, 300:302, 300:302].all()
    run_volume_tool(qtbot, opened, opened.annotator.actions.keep_largest.trigger)
    assert not editor.label[z, 300:302, 300:302].any()
    assert editor.history.undo_description == "Keep largest component"


def test_interpolate_fills_the_slices_between_two_annotated_slices(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor = opened.state, opened.editor
    key(opened, "B")
    opened.edit_panel.radius.setValue(15.0)
    zoom_on(opened, 250, 250)
    state.set_slice(2)
    drag(opened, [(240, 250), (250, 250)])
    state.set_slice(7)
    drag(opened, [(255, 255), (265, 260)])
    painted = editor.label.copy()
    expected = painted.copy()
    filled = editing.interpolate_all(expected, _spacing_yx(opened))
    assert filled == [3, 4, 5, 6]
    run_volume_tool(qtbot, opened, lambda: key(opened, "I"))
    assert np.array_equal(editor.label, expected)
    assert all(editor.label[z].any() for z in range(2, 8))
    key(opened, "Ctrl+Z")
    assert np.array_equal(editor.label, painted)


def test_undo_and_redo_restore_exact_states_after_120_strokes(qtbot: QtBot, opened: MainWindow) -> None:
    editor, state = opened.editor, opened.state
    rng = np.random.default_rng(5)
    states = []  # the label after each stored step (an eraser stroke over nothing stores none)
    start = rng.integers(40, 470, size=2)
    for i in range(120):
        erase = i % 5 == 4  # erase across the end of the stroke before, on its slice
        editor.set_tool(Tool.ERASER if erase else Tool.BRUSH)
        if not erase:
            state.set_slice(int(rng.integers(0, state.depth)))
            start = rng.integers(40, 470, size=2)
        editor.begin_stroke((int(start[0]), int(start[1])))
        for step in rng.integers(-6, 7, size=(4, 2)):
            start = start + step
            editor.extend_stroke((int(start[0]), int(start[1])))
        editor.end_stroke()
        if editor.history.changes_since_save > len(states):
            states.append(editor.label.copy())
    assert len(states) == 120 and editor.history.changes_since_save == 120
    for i in range(len(states) - 1, 0, -1):
        key(opened, "Ctrl+Z")
        assert np.array_equal(editor.label, states[i - 1]), i
    key(opened, "Ctrl+Z")
    assert not editor.label.any() and not editor.history.can_undo
    assert not opened.windowTitle().endswith("*")  # back to where the label started
    for i in range(len(states)):
        key(opened, "Ctrl+Shift+Z" if i % 2 else "Ctrl+Y")
        assert np.array_equal(editor.label, states[i]), i
    assert not editor.history.can_redo


def test_the_brush_circle_follows_the_pointer_sized_from_millimetres(qtbot: QtBot, opened: MainWindow) -> None:
    editor, preview = opened.editor, opened.axial_view.brush_preview
    _, dy, dx = opened.state.patient.spacing_mm
    zoom_on(opened, 200, 200)
    hover(opened, 200, 200)
    assert not preview.isVisible()  # navigating: no circle
    key(opened, "B")
    hover(opened, 205, 198)
    assert preview.isVisible()
    rect = preview.rect()
    assert rect.width() == pytest.approx(2 * DEFAULT_BRUSH_MM) and rect.height() == pytest.approx(2 * DEFAULT_BRUSH_MM)
    assert rect.center() == QPointF(205.5 * dx, 198.5 * dy)
    assert preview.size_px((dy, dx)) == pytest.approx((2 * DEFAULT_BRUSH_MM / dx, 2 * DEFAULT_BRUSH_MM / dy))
    key(opened, "]")
    assert editor.brush_radius_mm == 6.0 and opened.edit_panel.radius.value() == 6.0
    assert preview.rect().width() == pytest.approx(12.0)
    key(opened, "[")
    key(opened, "[")
    assert editor.brush_radius_mm == 4.0
    key(opened, "N")
    assert not preview.isVisible()


def test_with_oblong_pixels_the_circle_spans_an_ellipse_of_voxels_as_the_brush_does(
    qtbot: QtBot, opened: MainWindow
) -> None:
    """Rows 0.5 mm apart, columns 1 mm: a 5 mm brush covers 21 rows and 11 columns, as its circle shows."""
    state, editor, preview = opened.state, opened.editor, opened.axial_view.brush_preview
    patient = state.patient
    oblong = dataclasses.replace(
        patient, geometry=dataclasses.replace(patient.geometry, spacing_mm=(patient.spacing_mm[0], 0.5, 1.0))
    )
    state.set_patient(OpenedPatient(oblong, None, None, MaskScores(), start_slice=4))
    key(opened, "B")
    zoom_on(opened, 250, 250, voxels=64)
    hover(opened, 250, 250)
    assert preview.size_px((0.5, 1.0)) == pytest.approx((10.0, 20.0))  # (columns, rows)
    rect = preview.rect()
    assert rect.width() == pytest.approx(10.0) and rect.height() == pytest.approx(10.0)  # round in mm
    drag(opened, [(250, 250)])
    rows, columns = np.nonzero(editor.label[4])
    assert (np.ptp(rows) + 1, np.ptp(columns) + 1) == (21, 11)
    expected = np.zeros(oblong.shape, bool)
    editing.paint_stroke(expected, 4, [(250, 250)], DEFAULT_BRUSH_MM, (0.5, 1.0), True)
    assert np.array_equal(editor.label, expected)


def test_e_toggles_the_label_layer_and_its_checkbox_follows(qtbot: QtBot, opened: MainWindow) -> None:
    opened.annotator.actions.from_gt.trigger()
    view = opened.axial_view
    assert view.label_item.isVisible()
    key(opened, "E")
    assert not opened.state.overlay.show_label and not view.label_item.isVisible()
    assert not opened.overlay_panel.show_label.isChecked() and not opened.menus.show_label_action.isChecked()
    opened.overlay_panel.show_label.setChecked(True)
    assert view.label_item.isVisible()


def test_live_dice_follows_each_stroke_on_the_slice_and_the_volume(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor, panel = opened.state, opened.editor, opened.edit_panel
    opened.annotator.actions.from_gt.trigger()
    assert panel.dice["gt", "slice"].text() == "1.000" and panel.dice["gt", "volume"].text() == "1.000"
    assert panel.dice["prediction", "volume"].text() == "—"
    key(opened, "X")
    x, y = _liver_centre(opened)
    zoom_on(opened, x, y)
    drag(opened, [(x - 20, y), (x + 20, y)])
    z = state.slice_index
    assert panel.dice["gt", "slice"].text() == format_metric(dice(editor.label[z], state.gt[z]))
    assert panel.dice["gt", "volume"].text() == format_metric(dice(editor.label, state.gt))
    assert panel.dice["gt", "slice"].text() != "1.000"
    state.set_slice(z + 1)  # another slice: untouched
    assert panel.dice["gt", "slice"].text() == "1.000"


def test_accept_prediction_is_an_unsaved_label_scored_against_both(qtbot: QtBot, opened: MainWindow) -> None:
    with qtbot.waitSignal(opened.segmentationFinished, timeout=10_000):
        opened.start_segmentation()
    opened.annotator.actions.accept_prediction.trigger()
    editor, state = opened.editor, opened.state
    assert np.array_equal(editor.label, state.prediction) and editor.is_modified
    assert opened.windowTitle().endswith(" *")
    assert editor.dice("prediction").volume == 1.0
    assert editor.dice("gt").volume == pytest.approx(dice(state.prediction, state.gt))
    key(opened, "Ctrl+Z")
    assert not editor.label.any()


def test_starting_over_is_undoable(qtbot: QtBot, opened: MainWindow) -> None:
    editor = opened.editor
    opened.annotator.actions.from_gt.trigger()
    opened.annotator.actions.new_empty.trigger()
    assert not editor.label.any() and editor.is_modified
    key(opened, "Ctrl+Z")
    assert np.array_equal(editor.label, opened.state.gt) and not editor.is_modified


def test_overlap_counts_match_metrics_after_partial_updates() -> None:
    rng = np.random.default_rng(1)
    label, reference = rng.random((6, 20, 20)) > 0.5, rng.random((6, 20, 20)) > 0.6
    counts = OverlapCounts(label, reference)
    assert counts.volume_dice() == pytest.approx(dice(label, reference))
    label[2] = ~label[2]
    label[4] = False
    counts.update(label, [2, 4])
    assert counts.volume_dice() == pytest.approx(dice(label, reference))
    assert counts.slice_dice(4) == pytest.approx(dice(label[4], reference[4]))
    assert counts.slice_dice(2) == pytest.approx(dice(label[2], reference[2]))
    empty = OverlapCounts(np.zeros((2, 3, 3), bool), np.zeros((2, 3, 3), bool))
    assert np.isnan(empty.volume_dice())


def test_label_colours_follow_the_overlay_style() -> None:
    fill = label_table(OverlaySettings(opacity=0.5, style=OverlayStyle.FILL))
    assert tuple(fill[1]) == (*palette.EDITED_LABEL, 128) and tuple(fill[3]) == (*palette.EDITED_LABEL, 128)
    outlined = label_table(OverlaySettings(style=OverlayStyle.OUTLINE))
    assert outlined[1, 3] == 0 and tuple(outlined[3]) == (*palette.EDITED_LABEL, 255)
    compare = label_table(OverlaySettings(style=OverlayStyle.COMPARE))
    assert compare[1, 3] == 0 and compare[3, 3] == 255  # outline only: compare fills name GT/prediction
    assert not label_table(OverlaySettings(show_label=False)).any()


def test_a_flood_fill_seed_outside_the_range_says_why(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor = opened.state, opened.editor
    editor.set_hu_limit(lo=30, hi=100)
    key(opened, "L")
    zoom_on(opened, 5, 5)
    click(opened, 5, 5)  # air, far outside 30 … 100 HU
    seed_hu = int(state.patient.hu[state.slice_index, 5, 5])
    assert not editor.label.any() and not editor.history.can_undo
    assert opened.statusBar().currentMessage() == (
        f"Flood fill changed nothing: the seed is {seed_hu} HU, outside 30 … 100 HU"
    )


@pytest.mark.slow
def test_the_label_and_file_modules_load_no_qt() -> None:
    code = (
        "import sys, ctseg_core.annotate.labels, ctseg_core.annotate.live_dice\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
