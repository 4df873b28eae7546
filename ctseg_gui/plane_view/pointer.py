"""The plane view's pointer handling: crosshair, edits, brush preview, window drag.

In Navigate mode a left click or drag moves the state's crosshair where the mouse profile says so
(:mod:`ctseg_core.display.bindings`; ctseg's: Shift+left drag and middle drag pan, right drag sets
the window; Slicer's and ITK-SNAP's: right drag zooms; in window/level mode left drag sets the
window), a double click asks for the view alone; drags the profile gives to pan, zoom or the
window go to the view box (:class:`~ctseg_gui.plane_view.items.PlaneViewBox`). With an editing tool
(:class:`~ctseg_core.annotate.tools.Tool`) the left button edits instead: the brush and eraser
paint a stroke through every mouse point (the press and moves never reach pyqtgraph, so the view
does not pan and no mouse move is dropped), flood fill fills on click; middle drag still pans
and the wheel still scrolls. A circle of the brush's radius in mm follows the pointer. Every plane
edits: a coronal or sagittal view sends its slice's points in the plane's own voxel order (rows z,
not the screen's flipped rows) and the core paints a disc in mm in that plane (round on screen,
since the view is in mm; on thick slices it spans few rows), one undo step in the shared history.
The view focused last is the plane "fill holes" works in.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFocusEvent, QMouseEvent

from ctseg_core.annotate.tools import Tool
from ctseg_core.display.bindings import Command, drag_command
from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import Window, window_from_drag
from ctseg_gui.plane_view.items import BrushPreview, modifier_names
from ctseg_gui.state.editor import EditorState
from ctseg_gui.state.viewer import ViewerState


class PlanePointer(pg.GraphicsView):
    """Mouse handling of :class:`~ctseg_gui.plane_view.view.PlaneView` (which sets the attributes below)."""

    state: ViewerState
    editor: EditorState
    plane: Plane
    brush_preview: BrushPreview
    _drag_start: Window
    _editing_press: bool
    #: the button that began the editing press (left, or a profile's erase button): its release ends it
    _editing_button: Qt.MouseButton = Qt.MouseButton.LeftButton
    _crosshair_press: bool
    _hover_scene_pos: QPointF | None
    view: pg.ViewBox
    ct_item: pg.ImageItem
    sigMaximise = Signal()  # a double click in Navigate mode: show this view alone (or back)

    @property
    def index(self) -> int:
        """The slice of this view's plane the state's crosshair is on."""
        return self.state.plane_index(self.plane)

    def voxel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """(column, row) pixel of the plane's slice under a scene position, or None outside the image
        (for the axial plane: the (x, y) voxel of the current slice)."""
        patient = self.state.patient
        if patient is None:
            return None
        point = self.view.mapSceneToView(scene_pos)
        row_mm, column_mm = self.plane.pixel_mm(patient.spacing_mm)
        column, row = math.floor(point.x() / column_mm), math.floor(point.y() / row_mm)
        rows, columns = self.plane.image_shape(patient.shape)
        return (column, row) if 0 <= column < columns and 0 <= row < rows else None

    def volume_voxel_at(self, scene_pos: QPointF) -> tuple[int, int, int] | None:
        """(z, y, x) voxel under a scene position, or None outside the image."""
        pixel = self.voxel_at(scene_pos)
        patient = self.state.patient
        if pixel is None or patient is None:
            return None
        column, row = pixel
        return self.plane.voxel(patient.shape, self.index, row, column)

    def image_rect(self) -> QRectF:
        """The plane image's rectangle in mm (view coordinates)."""
        return self.ct_item.mapRectToParent(self.ct_item.boundingRect())

    def scene_pos(self, widget_pos: QPointF) -> QPointF:
        """Scene position of a point of the viewport, keeping its fraction of a pixel."""
        return self.viewportTransform().inverted()[0].map(QPointF(widget_pos))

    def pixel_at(self, scene_pos: QPointF) -> tuple[int, int]:
        """(row, column) of the voxel under a scene position, unclipped (a stroke may leave the image)."""
        assert self.state.patient is not None
        point = self.view.mapSceneToView(scene_pos)
        row_mm, column_mm = self.plane.pixel_mm(self.state.patient.spacing_mm)
        return math.floor(point.y() / row_mm), math.floor(point.x() / column_mm)

    def section_point(self, scene_pos: QPointF) -> tuple[int, int]:
        """The voxel under a scene position as (row, column) of the core's section of this plane
        (``editing.section``): (y, x) axial, (z, x) coronal, (z, y) sagittal; unclipped."""
        assert self.state.patient is not None
        row, column = self.pixel_at(scene_pos)
        voxel = self.plane.voxel(self.state.patient.shape, self.index, row, column)
        first, second = (v for axis, v in enumerate(voxel) if axis != self.plane.axis)
        return first, second

    def _on_window_drag(self, started: bool, dx: float, dy: float) -> None:
        if started:
            self._drag_start = self.state.window
        self.state.set_window(window_from_drag(self._drag_start, dx, dy))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        self._hover_scene_pos = scene_pos
        self.state.set_cursor_voxel(self.volume_voxel_at(scene_pos))

    def leaveEvent(self, event: QEvent) -> None:
        self._hover_scene_pos = None
        self.state.set_cursor_voxel(None)
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
        row_mm, column_mm = self.plane.pixel_mm(patient.spacing_mm)
        centre = QPointF((column + 0.5) * column_mm, (row + 0.5) * row_mm)
        self.brush_preview.place(centre, editor.brush_radius_mm, erasing=editor.tool is Tool.ERASER)

    def _on_tool_changed(self, tool: Tool) -> None:
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if tool.edits else Qt.CursorShape.ArrowCursor)
        self._refresh_preview()

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.editor.set_active_plane(self.plane)  # fill holes (H) works in the view last focused
        super().focusInEvent(event)

    def _move_crosshair(self, scene_pos: QPointF) -> None:
        voxel = self.volume_voxel_at(scene_pos)
        if voxel is not None:
            self.state.set_position(voxel)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        editor = self.editor
        left = event.button() == Qt.MouseButton.LeftButton
        if left and self.state.patient is not None and not editor.tool.edits and self._left_moves_crosshair(event):
            event.accept()
            self._crosshair_press = True
            self._move_crosshair(self.scene_pos(event.position()))
            return
        erase = not left and self._button_erases(event)
        if not (left or erase) or not editor.tool.edits or self.state.patient is None:
            super().mousePressEvent(event)
            return
        event.accept()
        self._editing_press = True
        self._editing_button = event.button()
        scene_pos = self.scene_pos(event.position())
        if editor.tool.paints:
            editor.begin_stroke(self.section_point(scene_pos), self.plane, erase=erase)
        elif editor.tool is Tool.FLOOD:
            editor.flood_fill(self.section_point(scene_pos), self.plane)

    def _button_erases(self, event: QMouseEvent) -> bool:
        """Whether the profile gives this button's drag to erasing while painting (ITK-SNAP's right)."""
        if not self.editor.tool.paints:
            return False
        button = {Qt.MouseButton.RightButton: "right", Qt.MouseButton.MiddleButton: "middle"}.get(event.button())
        bindings, mods = self.editor.bindings, modifier_names(event.modifiers())
        return button is not None and drag_command(bindings.profile, button, mods, painting=True) is Command.ERASE

    def _left_moves_crosshair(self, event: QMouseEvent) -> bool:
        """Whether the profile gives a left drag with these modifiers to the crosshair."""
        bindings = self.editor.bindings
        mods = modifier_names(event.modifiers())
        return drag_command(bindings.profile, "left", mods, bindings.window_mode) is Command.CROSSHAIR

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """A quick second click with an editing tool is a second dab or fill, not a double click."""
        if event.button() == Qt.MouseButton.LeftButton and self.editor.tool.edits and self.state.patient is not None:
            self.mousePressEvent(event)
            return
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self.sigMaximise.emit()
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        scene_pos = self.scene_pos(event.position())
        self._refresh_preview(scene_pos=scene_pos)  # every move: pyqtgraph's scene drops some
        if self._crosshair_press:
            event.accept()
            self._hover_scene_pos = scene_pos
            self.state.set_cursor_voxel(self.volume_voxel_at(scene_pos))
            self._move_crosshair(scene_pos)
            return
        if not self._editing_press:
            super().mouseMoveEvent(event)
            return
        event.accept()
        self.state.set_cursor_voxel(self.volume_voxel_at(scene_pos))
        if self.editor.stroking:
            self.editor.extend_stroke(self.section_point(scene_pos))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._crosshair_press and event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self._crosshair_press = False
            return
        if not self._editing_press or event.button() != self._editing_button:
            super().mouseReleaseEvent(event)
            return
        event.accept()
        self._editing_press = False
        self.editor.end_stroke()
