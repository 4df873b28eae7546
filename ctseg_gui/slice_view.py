"""The axial slice view: CT plus ground-truth and prediction overlays, in millimetres.

Mouse, as in ITK-SNAP and 3D Slicer: wheel changes slice, Ctrl+wheel zooms about the pointer,
left or middle drag pans, right drag changes the HU window (``windowing.window_from_drag``).
With an editing tool (:class:`~ctseg_core.annotate.tools.Tool`) the left button edits instead: the brush
and eraser paint a stroke through every mouse point (the press and moves never reach pyqtgraph,
so the view does not pan and no mouse move is dropped), flood fill fills on click; middle drag
still pans and the wheel still scrolls. A circle of the brush's radius in mm follows the pointer.
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
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QMouseEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

from ctseg_core.annotate.tools import Tool
from ctseg_core.orientation import direction_letter
from ctseg_core.windowing import Window, apply_window, window_from_drag

from .editor import EditorState
from .overlay import code_image, colour_table, colourise, label_code, label_table
from .state import ViewerState
from .view_items import BrushPreview, SliceViewBox, corner_label

#: Grey level g → opaque RGBA (g, g, g, 255).
GREY_TABLE = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 4, axis=1)
GREY_TABLE[:, 3] = 255
#: Every int16 value, at the index of its uint16 bit pattern (how slices index the CT table).
ALL_HU = np.arange(65536, dtype=np.uint16).view(np.int16)
CORNER_MARGIN = 8


class SliceView(pg.GraphicsView):
    """Shows the state's current slice and the edited label; reports the voxel under the pointer
    to the state and edits (press, drag, release) to the editor."""

    title_label: QLabel | None = None  # pyqtgraph resizes the view before __init__ creates it

    def __init__(self, state: ViewerState, editor: EditorState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="k")
        self.state = state
        self.editor = editor if editor is not None else EditorState(state, self)
        self.view = SliceViewBox()
        self.setCentralItem(self.view)
        self.ct_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.label_item = pg.ImageItem(axisOrder="row-major")
        for depth, item in enumerate((self.ct_item, self.overlay_item, self.label_item)):
            item.setZValue(depth)
            self.view.addItem(item)
        self.label_item.hide()
        self.brush_preview = BrushPreview()
        self.view.addItem(self.brush_preview)
        self._editing_press = False  # the left button went down with an editing tool
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # a folder dropped here goes to the main window
        self.viewport().setAcceptDrops(False)
        self.setMinimumSize(320, 320)

        self.title_label = corner_label(self)
        self.window_label = corner_label(self)
        self.window_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.side_labels = {side: corner_label(self) for side in ("left", "right", "top", "bottom")}
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
        self.editor.labelChanged.connect(self._draw_label)
        self.editor.labelEdited.connect(self._on_label_edited)
        self.editor.toolChanged.connect(self._on_tool_changed)
        self.editor.brushChanged.connect(self._refresh_preview)
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

    def scene_pos(self, widget_pos: QPointF) -> QPointF:
        """Scene position of a point of the viewport, keeping its fraction of a pixel."""
        return self.viewportTransform().inverted()[0].map(QPointF(widget_pos))

    def pixel_at(self, scene_pos: QPointF) -> tuple[int, int]:
        """(row, column) of the voxel under a scene position, unclipped (a stroke may leave the image)."""
        assert self.state.patient is not None
        point = self.view.mapSceneToView(scene_pos)
        _, dy, dx = self.state.patient.spacing_mm
        return math.floor(point.y() / dy), math.floor(point.x() / dx)

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

    def _draw_label(self) -> None:
        label = self.editor.label
        if label is None or self.state.patient is None or not self.state.overlay.show_label:
            self.label_item.hide()
            return
        code = label_code(label[self.state.slice_index], outlines=True)
        self.label_item.setImage(colourise(code, self._label_table), autoLevels=False)
        self.label_item.show()

    def _on_label_edited(self, slices: list[int]) -> None:
        if self.state.slice_index in slices:
            self._draw_label()

    def _on_patient_changed(self) -> None:
        patient = self.state.patient
        assert patient is not None
        _, dy, dx = patient.spacing_mm
        _, rows, columns = patient.shape
        rect = QRectF(0.0, 0.0, columns * dx, rows * dy)
        blank = np.zeros((rows, columns, 4), np.uint8)  # transparent
        for item in (self.ct_item, self.overlay_item, self.label_item):
            item.setImage(blank, autoLevels=False)  # the new shape first: setRect scales by it
            item.setRect(rect)
        row, column = np.asarray(patient.geometry.row_direction), np.asarray(patient.geometry.column_direction)
        for side, direction in (("left", -row), ("right", row), ("top", -column), ("bottom", column)):
            self.side_labels[side].setText(direction_letter(direction))
        assert self.title_label is not None  # made in __init__; only an early resize sees None
        self.title_label.setText(f"{patient.title()}\n{columns} × {rows} × {patient.shape[0]}")
        self.hint_label.hide()
        self.fit()
        self._place_labels()

    def _on_slice_changed(self) -> None:
        self._draw_ct()
        self._draw_overlays()
        self._draw_label()

    def _on_window_changed(self) -> None:
        window = self.state.window
        self._ct_table = colourise(apply_window(ALL_HU, window), GREY_TABLE)
        self.window_label.setText(f"W {window.width:.0f}   L {window.level:.0f}")
        self.window_label.adjustSize()
        self._place_labels()
        self._draw_ct()

    def _on_overlay_changed(self) -> None:
        self._overlay_table = colour_table(self.state.overlay)
        self._label_table = label_table(self.state.overlay)
        self._draw_overlays()
        self._draw_label()

    # ---------------------------------------------------------------- mouse

    def _on_window_drag(self, started: bool, dx: float, dy: float) -> None:
        if started:
            self._drag_start = self.state.window
        self.state.set_window(window_from_drag(self._drag_start, dx, dy))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        self.state.set_cursor(self.voxel_at(scene_pos))

    def leaveEvent(self, event: QEvent) -> None:
        self.state.set_cursor(None)
        self.brush_preview.hide()
        self._last_scene_pos = None
        super().leaveEvent(event)

    _last_scene_pos: QPointF | None = None

    def _refresh_preview(self, *_signal_args: object, scene_pos: QPointF | None = None) -> None:
        """Centre the brush circle on the voxel under the pointer (where the core stamps the disk)."""
        if scene_pos is not None:
            self._last_scene_pos = scene_pos
        scene_pos = self._last_scene_pos
        patient, editor = self.state.patient, self.editor
        if patient is None or scene_pos is None or not editor.tool.paints:
            self.brush_preview.hide()
            return
        row, column = self.pixel_at(scene_pos)
        _, dy, dx = patient.spacing_mm
        centre = QPointF((column + 0.5) * dx, (row + 0.5) * dy)
        self.brush_preview.place(centre, editor.brush_radius_mm, erasing=editor.tool is Tool.ERASER)

    def _on_tool_changed(self, tool: Tool) -> None:
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if tool.edits else Qt.CursorShape.ArrowCursor)
        self._refresh_preview()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        editor = self.editor
        if event.button() != Qt.MouseButton.LeftButton or not editor.tool.edits or self.state.patient is None:
            super().mousePressEvent(event)
            return
        event.accept()
        self._editing_press = True
        scene_pos = self.scene_pos(event.position())
        if editor.tool.paints:
            editor.begin_stroke(self.pixel_at(scene_pos))
        elif editor.tool is Tool.FLOOD:
            editor.flood_fill(self.pixel_at(scene_pos))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """A quick second click with an editing tool is a second dab or fill, not a double click."""
        if event.button() == Qt.MouseButton.LeftButton and self.editor.tool.edits and self.state.patient is not None:
            self.mousePressEvent(event)
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        scene_pos = self.scene_pos(event.position())
        self._refresh_preview(scene_pos=scene_pos)  # every move: pyqtgraph's scene drops some
        if not self._editing_press:
            super().mouseMoveEvent(event)
            return
        event.accept()
        self.state.set_cursor(self.voxel_at(scene_pos))
        if self.editor.stroking:
            self.editor.extend_stroke(self.pixel_at(scene_pos))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if not self._editing_press or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        event.accept()
        self._editing_press = False
        self.editor.end_stroke()

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
