"""The slice view's graphics items: a ViewBox with radiology mouse bindings, the brush circle, corner labels."""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseDragEvent
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsSceneWheelEvent, QLabel, QWidget

from .overlay import LABEL_RGB

WHEEL_STEP = 120  # angle delta of one wheel notch (1/8 degree units)


class SliceViewBox(pg.ViewBox):
    """A ViewBox with radiology mouse bindings; it emits intents and leaves the state alone."""

    sigSliceStep = Signal(int)
    sigWindowDrag = Signal(bool, float, float)  # drag started, dx and dy in pixels since the press

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.01)
        self._wheel_rest = 0  # wheel angle not yet turned into whole slices (touchpads send less)

    def wheelEvent(self, ev: QGraphicsSceneWheelEvent, axis: int | None = None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        self._wheel_rest += ev.delta()
        steps = int(self._wheel_rest / WHEEL_STEP)
        if steps:
            self._wheel_rest -= steps * WHEEL_STEP
            self.sigSliceStep.emit(steps)
        ev.accept()

    def mouseDragEvent(self, ev: MouseDragEvent, axis: int | None = None) -> None:
        if ev.button() != Qt.MouseButton.RightButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        moved = ev.screenPos() - ev.buttonDownScreenPos(Qt.MouseButton.RightButton)
        self.sigWindowDrag.emit(ev.isStart(), moved.x(), moved.y())


CROSSHAIR_RGBA = (90, 170, 255, 170)


def crosshair_line(angle: float) -> pg.InfiniteLine:
    """A thin, see-through crosshair line (1 screen pixel at any zoom) that ignores the mouse."""
    pen = QPen(QColor(*CROSSHAIR_RGBA))
    pen.setCosmetic(True)
    pen.setWidthF(1.0)
    line = pg.InfiniteLine(angle=angle, movable=False, pen=pen)
    line.setZValue(9)
    line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    line.setAcceptHoverEvents(False)
    return line


def corner_label(parent: QWidget) -> QLabel:
    """A transparent text label over the image, which lets the mouse through."""
    label = QLabel(parent)
    label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    label.setStyleSheet("color: #e6e6e6; background: transparent; font-size: 12px;")
    return label


class BrushPreview(QGraphicsEllipseItem):
    """The brush outline under the pointer: a circle of the brush radius in mm around the voxel centre.

    The view is in mm, so the circle is round on screen; in voxels it spans 2r/dx × 2r/dy, an
    ellipse when pixels are not square, as the footprint the core paints (``disk_footprint``).
    """

    def __init__(self) -> None:
        super().__init__()
        pen = QPen(QColor(*LABEL_RGB))
        pen.setCosmetic(True)  # a constant 1.5 screen pixels at any zoom
        pen.setWidthF(1.5)
        self.setPen(pen)
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.hide()

    def place(self, centre_mm: QPointF, radius_mm: float, erasing: bool) -> None:
        self.setRect(QRectF(centre_mm.x() - radius_mm, centre_mm.y() - radius_mm, 2 * radius_mm, 2 * radius_mm))
        pen = self.pen()
        pen.setStyle(Qt.PenStyle.DashLine if erasing else Qt.PenStyle.SolidLine)
        pen.setColor(QColor(255, 255, 255) if erasing else QColor(*LABEL_RGB))
        self.setPen(pen)
        self.show()

    def size_px(self, spacing_yx: tuple[float, float]) -> tuple[float, float]:
        """(width, height) of the circle in voxels of the slice."""
        dy, dx = spacing_yx
        return self.rect().width() / dx, self.rect().height() / dy
