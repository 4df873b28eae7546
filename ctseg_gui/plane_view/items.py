"""A plane view's graphics items: a ViewBox with radiology mouse bindings, the composite slice image and
its layers, the crosshair, the brush circle (the text over the image: :mod:`~ctseg_gui.plane_view.overlay_text`)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseDragEvent
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsLineItem, QGraphicsSceneWheelEvent

from ctseg_core.display import palette
from ctseg_core.display.bindings import Command, drag_command, wheel_command
from ctseg_gui.plane_view.overlay_tables import colourise
from ctseg_gui.state.bindings import Bindings

WHEEL_STEP = 120  # angle delta of one wheel notch (1/8 degree units)


BUTTON_NAMES = {
    Qt.MouseButton.LeftButton: "left",
    Qt.MouseButton.MiddleButton: "middle",
    Qt.MouseButton.RightButton: "right",
}
MODIFIER_NAMES = {
    Qt.KeyboardModifier.ShiftModifier: "Shift",
    Qt.KeyboardModifier.ControlModifier: "Ctrl",
    Qt.KeyboardModifier.AltModifier: "Alt",
}
ZOOM_PER_PIXEL = 1.02  # a right drag of one pixel zooms by 2 % (ITK-SNAP's rate)


def modifier_names(modifiers: Qt.KeyboardModifier) -> frozenset[str]:
    """The profile tables' names of the modifiers held ("Shift", "Ctrl", "Alt")."""
    return frozenset(name for flag, name in MODIFIER_NAMES.items() if modifiers & flag)


class PlaneViewBox(pg.ViewBox):
    """A ViewBox whose drags and wheel follow the mouse profile (:attr:`bindings`); it emits intents
    (slice, window, brush steps) and pans and zooms itself, and leaves the state alone."""

    sigSliceStep = Signal(int)
    sigWindowDrag = Signal(bool, float, float)  # drag started, dx and dy in pixels since the press
    sigBrushStep = Signal(int)  # larger (> 0) or smaller brush

    def __init__(self, bindings: Bindings | None = None) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.01)
        self.bindings = bindings if bindings is not None else Bindings()
        self._wheel_rest = 0  # wheel angle not yet turned into whole slices (touchpads send less)

    def wheelEvent(self, ev: QGraphicsSceneWheelEvent, axis: int | None = None) -> None:
        command = wheel_command(self.bindings.profile, modifier_names(ev.modifiers()))
        if command is Command.ZOOM:
            super().wheelEvent(ev, axis)
            return
        if command not in (Command.SLICE, Command.BRUSH_SIZE):
            ev.ignore()
            return
        self._wheel_rest += ev.delta()
        steps = int(self._wheel_rest / WHEEL_STEP)
        if steps:
            self._wheel_rest -= steps * WHEEL_STEP
            (self.sigSliceStep if command is Command.SLICE else self.sigBrushStep).emit(steps)
        ev.accept()

    def mouseDragEvent(self, ev: MouseDragEvent, axis: int | None = None) -> None:
        button = BUTTON_NAMES.get(ev.button(), "")
        bindings = self.bindings
        command = drag_command(bindings.profile, button, modifier_names(ev.modifiers()), bindings.window_mode)
        if command is Command.WINDOW:
            moved = ev.screenPos() - ev.buttonDownScreenPos(ev.button())
            self.sigWindowDrag.emit(ev.isStart(), moved.x(), moved.y())
        elif command is Command.PAN:
            self._pan(ev)
        elif command is Command.ZOOM:
            self._zoom(ev)
        else:
            ev.ignore()
            return
        ev.accept()

    def _pan(self, ev: MouseDragEvent) -> None:
        """Move the image with the pointer."""
        here, before = self.mapToView(ev.pos()), self.mapToView(ev.lastPos())
        self.translateBy(x=before.x() - here.x(), y=before.y() - here.y())
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])

    def _zoom(self, ev: MouseDragEvent) -> None:
        """Drag up zooms in, down zooms out, about the point pressed (Slicer's and ITK-SNAP's right drag)."""
        moved = ev.screenPos() - ev.lastScreenPos()
        scale = ZOOM_PER_PIXEL ** moved.y()
        self.scaleBy(x=scale, y=scale, center=self.mapToView(ev.buttonDownPos(ev.button())))
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])


class SliceImage(pg.ImageItem):
    """The one image a plane view draws: the opaque composite of CT and every overlay layer.

    Its pixels are 32-bit 0xffRRGGBB words (B, G, R, A bytes on a little-endian machine:
    ``image.view_tables``) and reach Qt as ``Format_RGB32``, its own opaque format (no alpha
    to blend: the layers were blended in the composite table), wrapping the numpy buffer without a
    copy. :meth:`rgba` gives them in R, G, B, A order, for inspection.
    """

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")

    def render(self) -> None:
        image = self.image
        if image is None or image.ndim != 3 or image.shape[2] != 4 or image.dtype != np.uint8:
            super().render()  # anything else (e.g. pyqtgraph's own use) renders the usual way
            return
        image = np.ascontiguousarray(image)
        self.qimage = pg.functions.ndarray_to_qimage(image, QImage.Format.Format_RGB32)  # borrows the memory
        self._renderRequired = False
        self._unrenderable = False

    def rgba(self) -> np.ndarray:
        """The pixels shown, (rows, columns, 4) uint8 in R, G, B, A order."""
        words = np.ascontiguousarray(self.image).view(np.uint32)[..., 0]  # 0xAARRGGBB in native order
        channels = [(words >> shift) & 0xFF for shift in (16, 8, 0, 24)]
        return np.stack(channels, axis=-1).astype(np.uint8)


class Layer:
    """One overlay layer of a plane view (ground truth and prediction, edited label, uncertainty):
    its code image of the slice shown, its colour table and whether it is shown.

    The view draws the layers through one composite image (:class:`SliceImage`); :attr:`image` is the
    layer's own RGBA (its contribution before blending), made when asked, for inspection.
    """

    def __init__(self) -> None:
        self.code: np.ndarray | None = None
        self.table: np.ndarray | None = None
        self._visible = True

    def set(self, code: np.ndarray | None, table: np.ndarray | None) -> None:
        self.code, self.table = code, table

    @property
    def image(self) -> np.ndarray | None:
        """RGBA (rows, columns, 4) uint8 of this layer alone; None before the first slice."""
        if self.code is None or self.table is None:
            return None
        return colourise(self.code, self.table)

    def isVisible(self) -> bool:
        return self._visible

    def setVisible(self, visible: bool) -> None:
        self._visible = bool(visible)

    def show(self) -> None:
        self._visible = True

    def hide(self) -> None:
        self._visible = False


CROSSHAIR_RGBA = (90, 170, 255, 170)


def crosshair_line() -> QGraphicsLineItem:
    """A thin, see-through crosshair line (1 screen pixel at any zoom) that ignores the mouse.

    A plain Qt line item across the image: moving it repaints two thin strips of the viewport,
    and, unlike pyqtgraph's InfiniteLine, never makes the ViewBox recompute its auto-range.
    """
    pen = QPen(QColor(*CROSSHAIR_RGBA))
    pen.setCosmetic(True)
    pen.setWidthF(1.0)
    line = QGraphicsLineItem()
    line.setPen(pen)
    line.setZValue(9)
    line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    line.setAcceptHoverEvents(False)
    return line


def place_crosshair(
    vertical: QGraphicsLineItem, horizontal: QGraphicsLineItem, x_mm: float, y_mm: float, image_rect: QRectF
) -> None:
    """Put the crosshair lines through (x_mm, y_mm), each spanning the image."""
    vertical.setLine(QLineF(x_mm, image_rect.top(), x_mm, image_rect.bottom()))
    horizontal.setLine(QLineF(image_rect.left(), y_mm, image_rect.right(), y_mm))


class BrushPreview(QGraphicsEllipseItem):
    """The brush outline under the pointer: a circle of the brush radius in mm around the voxel centre.

    The view is in mm, so the circle is round on screen; in voxels it spans 2r/dx × 2r/dy, an
    ellipse when pixels are not square, as the footprint the core paints (``disk_footprint``).
    """

    def __init__(self) -> None:
        super().__init__()
        pen = QPen(QColor(*palette.EDITED_LABEL))
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
        pen.setColor(QColor(255, 255, 255) if erasing else QColor(*palette.EDITED_LABEL))
        self.setPen(pen)
        self.show()

    def size_px(self, spacing_yx: tuple[float, float]) -> tuple[float, float]:
        """(width, height) of the circle in voxels of the slice."""
        dy, dx = spacing_yx
        return self.rect().width() / dx, self.rect().height() / dy
