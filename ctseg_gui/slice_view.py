"""The axial slice view: CT plus ground-truth and prediction overlays, in millimetres.

Mouse, as in ITK-SNAP and 3D Slicer: wheel changes slice, Ctrl+wheel zooms about the pointer,
left or middle drag pans, right drag changes the HU window (``windowing.window_from_drag``).
Items are placed in mm (image rect = columns·dx × rows·dy) with a locked 1:1 aspect, so
anisotropic pixels are shown at their true shape. A window change maps every int16 value once
through the core's ``apply_window`` into a 65536-entry RGBA table; changing slice is then one
gather for the CT and one for the overlay code image: nothing heavier. Both reach pyqtgraph
as RGBA, the format Qt paints fastest (greyscale QImages are converted on every paint, ≈ 2×
slower).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseDragEvent
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGraphicsSceneWheelEvent, QLabel, QWidget

from ctseg_core.windowing import Window, apply_window, window_from_drag

from .overlay import code_image, colour_table, colourise
from .state import ViewerState

#: Grey level g → opaque RGBA (g, g, g, 255).
GREY_TABLE = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 4, axis=1)
GREY_TABLE[:, 3] = 255
#: Every int16 value, at the index of its uint16 bit pattern (how slices index the CT table).
ALL_HU = np.arange(65536, dtype=np.uint16).view(np.int16)
WHEEL_STEP = 120  # angle delta of one wheel notch (1/8 degree units)
CORNER_MARGIN = 8


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


def direction_letter(direction: np.ndarray) -> str:
    """Patient-side letter (DICOM LPS) of the axis a screen direction mostly points along."""
    axis = int(np.argmax(np.abs(direction)))
    positive = direction[axis] > 0
    return ("L", "R", "P", "A", "S", "I")[2 * axis + (0 if positive else 1)]


def _corner_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    label.setStyleSheet("color: #e6e6e6; background: transparent; font-size: 12px;")
    return label


class SliceView(pg.GraphicsView):
    """Shows the state's current slice; reports the voxel under the pointer to the state."""

    title_label: QLabel | None = None  # pyqtgraph resizes the view before __init__ creates it

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="k")
        self.state = state
        self.view = SliceViewBox()
        self.setCentralItem(self.view)
        self.ct_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        for depth, item in enumerate((self.ct_item, self.overlay_item)):
            item.setZValue(depth)
            self.view.addItem(item)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # a folder dropped here goes to the main window
        self.viewport().setAcceptDrops(False)
        self.setMinimumSize(320, 320)

        self.title_label = _corner_label(self)
        self.window_label = _corner_label(self)
        self.window_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.side_labels = {side: _corner_label(self) for side in ("left", "right", "top", "bottom")}
        for label in self.side_labels.values():
            label.setStyleSheet("color: #f0c000; background: transparent; font-weight: bold; font-size: 13px;")

        self.hint_label = QLabel(
            "Open a patient: File ▸ Open folder (Ctrl+O), drop a folder here,\nor File ▸ Open demo patient", self)
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint_label.setStyleSheet("color: #9a9a9a; background: transparent; font-size: 15px;")

        self._drag_start: Window = state.window
        self.view.sigSliceStep.connect(state.step_slice)
        self.view.sigWindowDrag.connect(self._on_window_drag)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        state.patientChanged.connect(self._on_patient_changed)
        state.sliceChanged.connect(self._on_slice_changed)
        state.windowChanged.connect(self._on_window_changed)
        state.masksChanged.connect(self._draw_overlays)
        state.overlayChanged.connect(self._on_overlay_changed)
        self._on_overlay_changed()
        self._on_window_changed()

    def fit(self) -> None:
        """Fit the slice to the view; it stays fitted through resizes until the user zooms or pans."""
        self.view.enableAutoRange()

    def voxel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """(x, y) voxel of the current slice under a scene position, or None outside the image."""
        patient = self.state.patient
        if patient is None:
            return None
        point = self.view.mapSceneToView(scene_pos)
        _, dy, dx = patient.spacing_mm
        x, y = math.floor(point.x() / dx), math.floor(point.y() / dy)
        _, rows, columns = patient.shape
        return (x, y) if 0 <= x < columns and 0 <= y < rows else None

    # ---------------------------------------------------------------- drawing

    def _draw_ct(self) -> None:
        patient = self.state.patient
        if patient is not None:
            hu = patient.hu[self.state.slice_index]
            self.ct_item.setImage(colourise(hu.view(np.uint16), self._ct_table), autoLevels=False)

    def _draw_overlays(self) -> None:
        state = self.state
        if state.patient is None:
            return
        k = state.slice_index
        gt = None if state.gt is None else state.gt[k]
        prediction = None if state.prediction is None else state.prediction[k]
        code = code_image(gt, prediction, state.patient.shape[1:], outlines=state.overlay.style.outlines)
        self.overlay_item.setImage(colourise(code, self._overlay_table), autoLevels=False)

    def _on_patient_changed(self) -> None:
        patient = self.state.patient
        assert patient is not None
        _, dy, dx = patient.spacing_mm
        _, rows, columns = patient.shape
        rect = QRectF(0.0, 0.0, columns * dx, rows * dy)
        blank = np.zeros((rows, columns, 4), np.uint8)  # transparent
        for item in (self.ct_item, self.overlay_item):
            item.setImage(blank, autoLevels=False)  # the new shape first: setRect scales by it
            item.setRect(rect)
        row, column = np.asarray(patient.geometry.row_direction), np.asarray(patient.geometry.column_direction)
        for side, direction in (("left", -row), ("right", row), ("top", -column), ("bottom", column)):
            self.side_labels[side].setText(direction_letter(direction))
        self.title_label.setText(f"{patient.title()}\n{columns} × {rows} × {patient.shape[0]}")
        self.hint_label.hide()
        self.fit()
        self._place_labels()

    def _on_slice_changed(self) -> None:
        self._draw_ct()
        self._draw_overlays()

    def _on_window_changed(self) -> None:
        window = self.state.window
        self._ct_table = colourise(apply_window(ALL_HU, window), GREY_TABLE)
        self.window_label.setText(f"W {window.width:.0f}   L {window.level:.0f}")
        self.window_label.adjustSize()
        self._place_labels()
        self._draw_ct()

    def _on_overlay_changed(self) -> None:
        self._overlay_table = colour_table(self.state.overlay)
        self._draw_overlays()

    # ---------------------------------------------------------------- mouse

    def _on_window_drag(self, started: bool, dx: float, dy: float) -> None:
        if started:
            self._drag_start = self.state.window
        self.state.set_window(window_from_drag(self._drag_start, dx, dy))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        self.state.set_cursor(self.voxel_at(scene_pos))

    def leaveEvent(self, event: QEvent) -> None:
        self.state.set_cursor(None)
        super().leaveEvent(event)

    # ---------------------------------------------------------------- layout

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_labels()

    def _place_labels(self) -> None:
        if self.title_label is None:
            return
        width, height = self.width(), self.height()
        for label in (self.title_label, self.window_label, self.hint_label, *self.side_labels.values()):
            label.adjustSize()
        self.hint_label.move((width - self.hint_label.width()) // 2, (height - self.hint_label.height()) // 2)
        m = CORNER_MARGIN
        self.title_label.move(m, m)
        self.window_label.move(width - self.window_label.width() - m, height - self.window_label.height() - m)
        sides = self.side_labels
        sides["left"].move(m, (height - sides["left"].height()) // 2)
        sides["right"].move(width - sides["right"].width() - m, (height - sides["right"].height()) // 2)
        sides["top"].move((width - sides["top"].width()) // 2, m)
        sides["bottom"].move((width - sides["bottom"].width()) // 2, height - sides["bottom"].height() - m)
