"""Editing in the coronal and sagittal views with the mouse, as a user does: the stroke lands in the
label (a disc in mm in that plane), shows live in all three views, and Ctrl+Z in the axial view
undoes it, one step, with the axial view and live Dice following."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from scipy import ndimage

from ctseg_core.annotate import editing
from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import Window
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.metrics import dice, format_metric
from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant
from ctseg_gui.main_window import MainWindow
from ctseg_gui.plane_view.view import PlaneView
from gui.annotating import LEFT, NO_MODIFIER, key
from gui.conftest import OpenIn

SLICES, SIZE = 24, 64
SPACING = (2.5, 0.7, 0.7)  # (dz, dy, dx) mm: thick slices, fine pixels
CROSSHAIR = (12, 30, 32)  # (z, y, x): coronal slice y = 30, sagittal slice x = 32, axial slice z = 12


def _body() -> tuple[np.ndarray, VolumeGeometry]:
    """Air, a 40 HU body, and a 300 HU slab in its upper right (z ≥ 14, x < 24) for the HU limit."""
    hu = np.full((SLICES, SIZE, SIZE), -1000, dtype=np.int16)
    hu[2:22, 8:56, 8:56] = 40
    hu[14:22, 8:56, 8:24] = 300
    geometry = VolumeGeometry((-100.0, -80.0, 30.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), SPACING)
    return hu, geometry


@pytest.fixture
def body(window: MainWindow, open_in: OpenIn, tmp_path: Path) -> MainWindow:
    hu, geometry = _body()
    open_in(window, write_dicom_variant(tmp_path / "body", hu, geometry, NAMED_LAYOUTS["as stored"]))
    window.set_layout("1x3")
    window.state.set_position(CROSSHAIR)
    window.state.set_window(Window(width=400, level=40))
    return window


def _view(window: MainWindow, plane: Plane) -> PlaneView:
    return window.plane_layout.view(plane)


def _zoom(view: PlaneView, row: int, column: int, pixels: int = 24) -> None:
    """Show about ``pixels`` image pixels around (row, column) of the view's image, so one voxel
    spans several screen pixels and QTest's integer positions land on the voxel meant."""
    row_mm, column_mm = view.plane.pixel_mm(view.state.patient.spacing_mm)
    half = pixels / 2
    view.view.setRange(
        QRectF((column - half) * column_mm, (row - half) * row_mm, pixels * column_mm, pixels * row_mm), padding=0
    )


def _screen(view: PlaneView, section_point: tuple[int, int]) -> tuple[int, int]:
    """(row, column) of the view's screen image of a point of the core's section of its plane."""
    shape = view.state.patient.shape
    a, b = section_point
    voxel = {Plane.AXIAL: (view.index, a, b), Plane.CORONAL: (a, view.index, b), Plane.SAGITTAL: (a, b, view.index)}[
        view.plane
    ]
    return view.plane.pixel(shape, voxel)


def _viewport_point(view: PlaneView, section_point: tuple[int, int]) -> QPoint:
    row, column = _screen(view, section_point)
    row_mm, column_mm = view.plane.pixel_mm(view.state.patient.spacing_mm)
    return view.mapFromScene(view.view.mapViewToScene(QPointF((column + 0.5) * column_mm, (row + 0.5) * row_mm)))


def _drag(view: PlaneView, points: list[tuple[int, int]]) -> None:
    """Press, move and release through section points (z, x coronal; z, y sagittal) on the view."""
    viewport = view.viewport()
    positions = [_viewport_point(view, point) for point in points]
    hit = [view.section_point(view.scene_pos(QPointF(position))) for position in positions]
    assert hit == points, "the test's zoom must put whole voxels under QTest's points"
    QTest.mousePress(viewport, LEFT, NO_MODIFIER, positions[0])
    for position in positions[1:]:
        QTest.qWait(12)  # pyqtgraph drops scene mouse moves closer than 10 ms
        QTest.mouseMove(viewport, position)
    QTest.mouseRelease(viewport, LEFT, NO_MODIFIER, positions[-1])


def _shown_label(view: PlaneView) -> np.ndarray:
    """Where the view's label layer is drawn (non-transparent), in its screen order."""
    if not view.label_item.isVisible():
        return np.zeros(view.plane.image_shape(view.state.patient.shape), bool)
    return view.label_item.image[..., 3] > 0


def _assert_views_show(window: MainWindow, label: np.ndarray) -> None:
    for plane in Plane:
        view = _view(window, plane)
        expected = plane.image(label, view.index)
        assert np.array_equal(_shown_label(view), expected), plane


def test_a_coronal_stroke_shows_in_every_view_and_undo_in_the_axial_view_undoes_it(
    qtbot: QtBot, body: MainWindow
) -> None:
    state, editor = body.state, body.editor
    editor.start_label(None, "liver", "New empty label")
    key(body, "B")
    editor.set_brush_radius(5.0)
    coronal, axial = _view(body, Plane.CORONAL), _view(body, Plane.AXIAL)
    points = [(8, 22), (12, 30), (15, 38)]  # (z, x) on coronal slice y = 30: climbs from z 8 to 15
    _zoom(coronal, SLICES - 1 - 12, 30)
    _drag(coronal, points)

    expected = np.zeros(state.patient.shape, bool)
    editing.paint_stroke(expected, CROSSHAIR[1], points, 5.0, (SPACING[0], SPACING[2]), True, axis=1)
    label = editor.label
    assert label is not None and np.array_equal(label, expected)
    z, y, _x = np.nonzero(label)
    assert set(y) == {30} and (z.min(), z.max()) == (6, 17)  # the disc reaches 2 slices (5 mm) past the ends
    assert state.position == CROSSHAIR  # painting never moves the crosshair
    assert editor.history.undo_description == "Brush stroke" and editor.unsaved_edits == 1
    assert body.annotator.actions.undo.text() == "&Undo Brush stroke"
    assert label[CROSSHAIR[0]].any()
    _assert_views_show(body, label)  # live in the axial (slice 12), coronal and sagittal views
    assert editor.active_plane is Plane.CORONAL

    key(body, "Ctrl+Z")  # with the axial view focused
    assert axial.hasFocus()
    assert not label.any() and not editor.history.can_undo and editor.unsaved_edits == 0
    _assert_views_show(body, label)  # the axial view dropped the stroke's row on slice 12
    assert not _shown_label(axial).any()
    key(body, "Ctrl+Shift+Z")
    assert np.array_equal(label, expected)
    _assert_views_show(body, label)


def test_the_hu_limit_and_the_eraser_work_in_the_sagittal_view(qtbot: QtBot, body: MainWindow) -> None:
    state, editor, panel = body.state, body.editor, body.edit_panel
    hu = state.patient.hu
    panel.hu_enabled.setChecked(True)
    panel.hu_lo.setValue(0)
    panel.hu_hi.setValue(100)
    editor.set_brush_radius(8.0)
    key(body, "B")
    state.set_position((12, 30, 20))  # sagittal slice x = 20 runs through the 300 HU slab above z = 14
    sagittal = _view(body, Plane.SAGITTAL)
    _zoom(sagittal, SLICES - 1 - 13, 30)
    points = [(10, 26), (17, 34)]  # (z, y)
    _drag(sagittal, points)
    expected = np.zeros(state.patient.shape, bool)
    editing.paint_stroke(expected, 20, points, 8.0, (SPACING[0], SPACING[1]), True, hu, (0, 100), axis=2)
    label = editor.label
    assert label is not None and np.array_equal(label, expected)
    assert hu[label].max() <= 100 and label[:14].any() and not label[14:].any()  # held back by the slab
    _assert_views_show(body, label)
    key(body, "X")
    panel.hu_enabled.setChecked(False)
    _drag(sagittal, [(11, 30)])
    erased = expected.copy()
    editing.paint(erased, 20, (11, 30), 8.0, (SPACING[0], SPACING[1]), False, axis=2)
    assert np.array_equal(label, erased) and editor.history.undo_description == "Eraser stroke"
    key(body, "Ctrl+Z")
    assert np.array_equal(label, expected)


def test_flood_fill_in_the_sagittal_view_and_fill_holes_in_the_coronal_view(qtbot: QtBot, body: MainWindow) -> None:
    state, editor = body.state, body.editor
    hu = state.patient.hu
    editor.set_hu_limit(lo=0, hi=100)
    key(body, "L")
    sagittal = _view(body, Plane.SAGITTAL)
    _zoom(sagittal, SLICES - 1 - 8, 20)
    _drag(sagittal, [(8, 20)])  # a click: sagittal slice x = 32, seed z = 8, y = 20
    plane = (hu[:, :, 32] >= 0) & (hu[:, :, 32] <= 100)
    components, _ = ndimage.label(plane)
    expected = np.zeros(state.patient.shape, bool)
    expected[:, :, 32] = components == components[8, 20]
    label = editor.label
    assert label is not None and np.array_equal(label, expected)
    assert editor.history.undo_description == "Flood fill"
    _assert_views_show(body, label)

    ring = np.zeros(state.patient.shape, bool)
    ring[4:12, 30, 30:44] = True
    ring[6:10, 30, 33:41] = False  # a hole in the coronal plane, open in every axial slice
    editor.start_label(ring, "liver", "ring")
    coronal = _view(body, Plane.CORONAL)
    coronal.setFocus()  # the view last used is the plane H works in
    assert editor.active_plane is Plane.CORONAL
    body.annotator.actions.fill_holes.trigger()
    filled = ring.copy()
    filled[4:12, 30, 30:44] = True
    assert np.array_equal(editor.label, filled)
    assert body.statusBar().currentMessage() == "Filled holes: 32 voxels added on coronal slice 31"
    _assert_views_show(body, editor.label)


def test_the_brush_circle_has_its_physical_size_in_the_coronal_view(qtbot: QtBot, body: MainWindow) -> None:
    key(body, "B")
    body.editor.set_brush_radius(5.0)
    coronal = _view(body, Plane.CORONAL)
    _zoom(coronal, SLICES - 1 - 12, 30)
    QTest.mouseMove(coronal.viewport(), _viewport_point(coronal, (12, 30)))
    circle = coronal.brush_preview
    assert circle.isVisible()
    rect = circle.rect()
    assert rect.width() == pytest.approx(10.0) and rect.height() == pytest.approx(10.0)  # mm: round
    assert circle.size_px((SPACING[0], SPACING[2])) == pytest.approx((10 / 0.7, 10 / 2.5))  # 14 x 4 voxels
    assert rect.center().x() == pytest.approx(30.5 * SPACING[2])
    assert rect.center().y() == pytest.approx((SLICES - 1 - 12 + 0.5) * SPACING[0])
    on_screen = coronal.view.mapViewToDevice(rect).boundingRect()
    assert on_screen.width() == pytest.approx(on_screen.height(), rel=0.02)


def test_live_dice_follows_an_eraser_stroke_in_the_coronal_view(qtbot: QtBot, opened: MainWindow) -> None:
    state, editor, panel = opened.state, opened.editor, opened.edit_panel
    opened.set_layout("1x3")
    opened.annotator.actions.from_gt.trigger()
    gt = state.gt
    z, y, x = (int(v.mean()) for v in np.nonzero(gt))
    state.set_position((z, y, x))
    assert panel.dice["gt", "volume"].text() == format_metric(1.0)
    key(opened, "X")
    editor.set_brush_radius(10.0)
    coronal = _view(opened, Plane.CORONAL)
    _zoom(coronal, state.depth - 1 - z, x, pixels=48)
    _drag(coronal, [(z, x - 15), (z, x), (z, x + 15)])
    label = editor.label
    assert label is not None and label.sum() < gt.sum()
    assert panel.dice["gt", "volume"].text() == format_metric(dice(label, gt))
    assert panel.dice["gt", "slice"].text() == format_metric(dice(label[z], gt[z]))
    assert format_metric(dice(label, gt)) != format_metric(1.0)
    key(opened, "Ctrl+Z")
    assert np.array_equal(label, gt)
    assert panel.dice["gt", "volume"].text() == format_metric(1.0)
    _assert_views_show(opened, label)
