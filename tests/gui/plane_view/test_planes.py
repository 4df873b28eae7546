"""Linked axial / coronal / sagittal views: crosshair, physical aspect, letters, markers, layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import Window
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant
from ctseg_gui.app import run_viewer
from ctseg_gui.cli import full_parser
from ctseg_gui.main_window import MainWindow
from ctseg_gui.plane_view.layout import Layout
from ctseg_gui.plane_view.view import PlaneView
from gui.conftest import OpenIn
from gui.test_orientation_view import _bright_centroid

SLICES, SIZE = 24, 64
SPACING = (2.5, 0.7, 0.7)  # (dz, dy, dx) mm: thick slices, fine pixels


def _marker_volume() -> tuple[np.ndarray, VolumeGeometry]:
    """A body with a big bright block at the anterior right *superior* corner, a small one posterior
    left inferior: on every plane the big block must show towards the top left."""
    hu = np.full((SLICES, SIZE, SIZE), -1000, dtype=np.int16)
    hu[2:22, 8:56, 8:56] = 40
    hu[14:21, 10:24, 10:26] = 1500  # superior, anterior, right: big
    hu[3:6, 46:52, 44:50] = 1500  # inferior, posterior, left: small
    geometry = VolumeGeometry((-100.0, -80.0, 30.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), SPACING)
    return hu, geometry


@pytest.fixture
def markers(window: MainWindow, open_in: OpenIn, tmp_path: Path) -> MainWindow:
    hu, geometry = _marker_volume()
    open_in(window, write_dicom_variant(tmp_path / "m", hu, geometry, NAMED_LAYOUTS["as stored"]))
    window.set_layout("1x3")
    window.state.set_position((17, 16, 18))  # inside the big block on every plane
    window.state.set_window(Window(width=400, level=40))
    return window


def _view(window: MainWindow, plane: Plane) -> PlaneView:
    return window.plane_layout.view(plane)


def _viewport_point(view: PlaneView, row: int, column: int) -> QPoint:
    """Viewport position of the centre of pixel (row, column) of the view's plane image."""
    row_mm, column_mm = view.plane.pixel_mm(view.state.patient.spacing_mm)
    scene = view.view.mapViewToScene(QPointF((column + 0.5) * column_mm, (row + 0.5) * row_mm))
    return view.mapFromScene(scene)


def test_a_click_in_the_coronal_view_moves_the_axial_and_sagittal_slices(markers: MainWindow) -> None:
    coronal, sagittal = _view(markers, Plane.CORONAL), _view(markers, Plane.SAGITTAL)
    z, x = 7, 45  # x inside the small posterior-left block
    row = SLICES - 1 - z  # superior at the top
    QTest.mouseClick(
        coronal.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _viewport_point(coronal, row, x)
    )
    state = markers.state
    assert state.position == (z, 16, x)
    assert state.slice_index == z and sagittal.index == x
    assert markers.navigator.slider.value() == z  # the slice slider follows
    # the sagittal view now shows sagittal slice x: superior rows at the top, anterior columns left
    shown = sagittal.ct_item.rgba()
    assert shown.shape == (SLICES, SIZE, 4)
    bright = markers.state.patient.hu[::-1, :, x] > 1000
    assert np.array_equal(shown[..., 0] == 255, bright)
    # dragging in the sagittal view moves the axial slice and the coronal slice
    start, end = _viewport_point(sagittal, SLICES - 1 - 10, 20), _viewport_point(sagittal, SLICES - 1 - 12, 30)
    QTest.mousePress(sagittal.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.qWait(12)
    QTest.mouseMove(sagittal.viewport(), end)
    QTest.mouseRelease(sagittal.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert state.position == (12, 30, x)
    assert coronal.index == 30


def test_each_view_keeps_the_physical_aspect(markers: MainWindow) -> None:
    dz, dy, dx = SPACING
    expected = {
        Plane.AXIAL: (SIZE * dx, SIZE * dy),
        Plane.CORONAL: (SIZE * dx, SLICES * dz),
        Plane.SAGITTAL: (SIZE * dy, SLICES * dz),
    }
    for plane, (width_mm, height_mm) in expected.items():
        view = _view(markers, plane)
        view.fit()
        rect = view.image_rect()
        assert rect.width() == pytest.approx(width_mm) and rect.height() == pytest.approx(height_mm), plane
        on_screen = view.view.mapViewToDevice(QRectF(rect)).boundingRect()
        assert on_screen.width() / on_screen.height() == pytest.approx(width_mm / height_mm, rel=0.03), plane


def test_letters_follow_the_geometry_in_each_view(markers: MainWindow) -> None:
    expected = {
        Plane.AXIAL: {"left": "R", "right": "L", "top": "A", "bottom": "P"},
        Plane.CORONAL: {"left": "R", "right": "L", "top": "S", "bottom": "I"},
        Plane.SAGITTAL: {"left": "A", "right": "P", "top": "S", "bottom": "I"},
    }
    for plane, letters in expected.items():
        view = _view(markers, plane)
        assert {side: label.text() for side, label in view.side_labels.items()} == letters, plane


def test_the_top_letter_never_hides_under_a_long_title(markers: MainWindow) -> None:
    """A narrow 1×3 view: a long patient title would run under the centred top letter."""
    view = _view(markers, Plane.AXIAL)
    for text, width in (
        ("A patient name long enough to reach the middle — and a series description", 300),
        ("Short", 900),
    ):
        view.title_label.setText(f"{text}\n512 × 512")
        view.resize(width, 400)
        view._place_labels()
        title, top = view.title_label.geometry(), view.side_labels["top"].geometry()
        assert not title.intersects(top), (width, title, top)
    assert top.y() < title.height()  # room beside a short title: the letter stays at the top edge


@pytest.mark.parametrize("plane", list(Plane))
def test_the_big_marker_shows_top_left_in_each_view(markers: MainWindow, plane: Plane) -> None:
    view = _view(markers, plane)
    view.fit()
    x, y = _bright_centroid(view.viewport().grab().toImage())
    assert x < 0.5 and y < 0.5, (plane, x, y)


def test_layouts_switch_and_a_double_click_maximises(markers: MainWindow, qtbot: QtBot) -> None:
    layout = markers.plane_layout
    assert len(layout.visible_views()) == 3
    markers.menus.layout_actions[Layout.TWO_BY_TWO].trigger()
    assert layout.layout_mode is Layout.TWO_BY_TWO and len(layout.visible_views()) == 3
    assert layout.view3d.isVisibleTo(layout)
    coronal = _view(markers, Plane.CORONAL)
    QTest.mouseDClick(
        coronal.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        QPoint(coronal.viewport().width() // 2, coronal.viewport().height() // 2),
    )
    assert layout.layout_mode is Layout.CORONAL and layout.visible_views() == [coronal]
    layout.toggle_maximise()  # F11
    assert layout.layout_mode is Layout.TWO_BY_TWO
    markers.set_layout("sagittal")
    assert layout.visible_views() == [_view(markers, Plane.SAGITTAL)]
    assert markers.menus.layout_actions[Layout.SAGITTAL].isChecked()
    assert not markers.menus.layout_actions[Layout.TWO_BY_TWO].isChecked()


def test_the_view_command_takes_a_layout() -> None:
    args = full_parser().parse_args(["view", "p", "--layout", "1x3", "--screenshot", "s.png"])
    assert args.layout == "1x3"
    assert full_parser().parse_args(["view"]).layout == "axial"


def test_screenshot_in_the_1x3_layout(
    small_phantom: Path, tmp_path: Path, dialogs: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows: list[MainWindow] = []
    original = MainWindow.set_layout

    def record(self: MainWindow, layout: Layout | str) -> None:
        windows.append(self)
        original(self, layout)

    monkeypatch.setattr(MainWindow, "set_layout", record)
    monkeypatch.setattr("ctseg_gui.app.dispose", lambda window: window.close())  # kept to look at
    shot = tmp_path / "mpr.png"
    assert run_viewer(str(small_phantom), screenshot=str(shot), layout="1x3") == 0
    assert not QImage(str(shot)).isNull() and dialogs == []
    [window] = windows
    assert window.plane_layout.layout_mode is Layout.ONE_BY_THREE
    assert len(window.plane_layout.visible_views()) == 3


def test_the_2x2_layout_says_why_3d_is_unavailable_offscreen(opened_2x2: MainWindow) -> None:
    pane = opened_2x2.plane_layout.view3d
    assert pane.isVisibleTo(opened_2x2.plane_layout)
    assert isinstance(pane, QLabel) and "3D view unavailable" in pane.text() and "offscreen" in pane.text()


@pytest.fixture
def opened_2x2(opened: MainWindow) -> MainWindow:
    opened.set_layout("2x2")
    return opened
