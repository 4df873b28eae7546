"""Driving the annotator as a user does: mouse strokes through QTest on the axial view's viewport."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ctseg_gui.main_window import MainWindow

LEFT, MIDDLE = Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def zoom_on(window: MainWindow, x: int, y: int, voxels: int = 96) -> None:
    """Show ``voxels`` × ``voxels`` around voxel (x, y), so one voxel spans several screen pixels
    and QTest's integer positions land on the voxel meant."""
    _, dy, dx = window.state.patient.spacing_mm
    half = voxels / 2
    window.axial_view.view.setRange(QRectF((x - half) * dx, (y - half) * dy, voxels * dx, voxels * dy), padding=0)


def widget_point(window: MainWindow, x: int, y: int) -> QPoint:
    """Viewport position of the centre of voxel (x, y) of the slice shown."""
    _, dy, dx = window.state.patient.spacing_mm
    view = window.axial_view
    scene = view.view.mapViewToScene(QPointF((x + 0.5) * dx, (y + 0.5) * dy))
    return view.mapFromScene(scene)


def voxel_under(window: MainWindow, point: QPoint) -> tuple[int, int]:
    """(row, column) the view maps a viewport position to."""
    view = window.axial_view
    return view.pixel_at(view.scene_pos(QPointF(point)))


def drag(
    window: MainWindow,
    voxels_xy: Sequence[tuple[int, int]],
    button: Qt.MouseButton = LEFT,
    modifier: Qt.KeyboardModifier = NO_MODIFIER,
) -> list[tuple[int, int]]:
    """Press on the first voxel, move through the others, release on the last; the (row, col) hit."""
    viewport = window.axial_view.viewport()
    points = [widget_point(window, x, y) for x, y in voxels_xy]
    hit = [voxel_under(window, point) for point in points]
    assert hit == [(y, x) for x, y in voxels_xy], "the test's zoom must put whole voxels under QTest's points"
    QTest.mousePress(viewport, button, modifier, points[0])
    for point in points[1:]:
        QTest.qWait(12)  # pyqtgraph drops scene mouse moves closer than 10 ms (painting does not)
        QTest.mouseMove(viewport, point)
    QTest.mouseRelease(viewport, button, modifier, points[-1])
    return hit


def wheel(window: MainWindow, notches: int) -> None:
    viewport = window.axial_view.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(viewport.mapToGlobal(centre)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        NO_MODIFIER,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def click(window: MainWindow, x: int, y: int) -> None:
    viewport = window.axial_view.viewport()
    QTest.mouseClick(viewport, LEFT, NO_MODIFIER, widget_point(window, x, y))


def hover(window: MainWindow, x: int, y: int) -> None:
    QTest.mouseMove(window.axial_view.viewport(), widget_point(window, x, y))


def key(window: MainWindow, sequence: str) -> None:
    """Type a shortcut (e.g. "B", "Ctrl+Z") with the axial view focused, as a user would."""
    view = window.axial_view
    view.setFocus()
    QTest.keySequence(view, sequence)


def run_volume_tool(qtbot: QtBot, window: MainWindow, start: Callable[[], object], timeout_ms: int = 20_000) -> None:
    """Start a volume tool (a key, an action) and wait until its worker's result is written."""
    with qtbot.waitSignal(window.annotator.volumeEditFinished, timeout=timeout_ms):
        start()
