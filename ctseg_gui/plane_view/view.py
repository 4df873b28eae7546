"""A plane view (axial, coronal or sagittal): CT plus ground-truth and prediction overlays, in millimetres.

One class for the three planes (:class:`~ctseg_core.display.planes.Plane`): the plane says which slice
is shown, in which screen order, and the pixel size in mm. Thin lines mark the state's crosshair; the
mouse follows the profile chosen (:mod:`~ctseg_core.display.bindings`, via
:mod:`~ctseg_gui.plane_view.pointer`). Items are placed in mm with a locked 1:1 aspect, so anisotropic
pixels keep their true shape; several segments are drawn by :mod:`~ctseg_gui.plane_view.segment_layer`.
A window change maps every int16 value once through ``apply_window`` into a 65536-entry grey table;
a slice is then one gather for the grey levels and one from the composite table
(:func:`~ctseg_gui.plane_view.overlay_tables.composite`). Each layer's slice is kept, so a window
change or a brush stroke recomputes only its own part; a crosshair move that leaves a view's slice
alone only moves its two lines.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QWidget

from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import Window
from ctseg_core.orientation import direction_letter
from ctseg_gui.plane_view.image import PlaneImage
from ctseg_gui.plane_view.items import BrushPreview, PlaneViewBox, crosshair_line, place_crosshair
from ctseg_gui.plane_view.overlay_text import LETTER_RGB, OverlayText
from ctseg_gui.plane_view.pointer import PlanePointer
from ctseg_gui.plane_view.sagittal_copies import screen_slice
from ctseg_gui.plane_view.segment_layer import SegmentLayer, shows_segments
from ctseg_gui.plane_view.slice_cache import SliceCache, Sources
from ctseg_gui.state.editor import EditorState
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.widgets.plain_text import data_label

CORNER_MARGIN = 8


class PlaneView(PlanePointer):
    """Shows the state's slice of ``plane`` and the edited label; reports the voxel under the pointer
    to the state, moves the crosshair, and sends edits (press, drag, release) to the editor, in any plane."""

    title_label: OverlayText | None = None  # pyqtgraph resizes the view before __init__ creates it

    def __init__(
        self,
        state: ViewerState,
        editor: EditorState | None = None,
        parent: QWidget | None = None,
        plane: Plane = Plane.AXIAL,
    ) -> None:
        super().__init__(parent, background="k")
        self.state = state
        self.plane = plane
        self._drawn_index: int | None = None  # the plane slice the images show
        self._image_rect = QRectF()  # the slice in mm (view coordinates)
        self._crosshair_press = False  # the left button went down in Navigate mode
        self._hover_scene_pos: QPointF | None = None
        self._show_crosshair = True
        self.editor = editor if editor is not None else EditorState(state, self)
        self._make_items()
        self._editing_press = False  # the left button went down with an editing tool
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # a folder dropped here goes to the main window
        self.viewport().setAcceptDrops(False)
        self.setMinimumSize(320, 320)
        self._make_text()
        self._drag_start: Window = state.window
        self._follow(state, self.editor)
        self._on_overlay_changed()
        self._on_window_changed()

    def _make_items(self) -> None:
        """The view box and what it draws: the composited slice, the brush circle, the crosshair lines."""
        self.view = PlaneViewBox(self.editor.bindings)
        self.setCentralItem(self.view)
        self.image = PlaneImage()
        self.indices = SliceCache(self.plane)  # every slice's CT and overlay, made ahead on a background thread
        self.ct_item: pg.ImageItem = self.image.item  # what the view draws: CT and every layer, composited
        self.view.addItem(self.ct_item)
        self.overlay_item, self.label_item = self.image.overlay, self.image.label  # the layers, for inspection
        self.uncertainty_item = self.image.uncertainty
        self.segment_layer = SegmentLayer()
        self.view.addItem(self.segment_layer)
        self.brush_preview = BrushPreview()
        self.view.addItem(self.brush_preview)
        self.crosshair_lines = (crosshair_line(), crosshair_line())  # vertical (column), horizontal (row)
        for line in self.crosshair_lines:
            self.view.addItem(line, ignoreBounds=True)
            line.hide()

    def _make_text(self) -> None:
        """The text over the image: title, window, orientation letters, and the hint before a patient."""
        self.title_label = OverlayText(self)
        self.window_label = OverlayText(self)
        self.window_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.side_labels = {
            side: OverlayText(self, LETTER_RGB, pixel_size=13, bold=True) for side in ("left", "right", "top", "bottom")
        }
        self.hint_label = data_label(
            "Open a patient: File ▸ Open folder (Ctrl+O), drop a folder here,\nor File ▸ Open demo patient", self
        )
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint_label.setStyleSheet("color: #9a9a9a; background: transparent; font-size: 15px;")

    def _follow(self, state: ViewerState, editor: EditorState) -> None:
        """Redraw what changed: the slice, the window, the masks, the overlay settings, the label, the tool."""
        self.view.sigSliceStep.connect(lambda steps: state.step_plane(self.plane, steps))
        self.view.sigWindowDrag.connect(self._on_window_drag)
        self.view.sigBrushStep.connect(editor.step_brush)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        state.patientChanged.connect(self._on_patient_changed)
        state.crosshairChanged.connect(self._on_crosshair_changed)
        state.windowChanged.connect(self._on_window_changed)
        state.masksChanged.connect(self._draw_overlays)
        state.overlayChanged.connect(self._on_overlay_changed)
        editor.labelChanged.connect(self._draw_label)
        editor.segmentsChanged.connect(self._draw_label)
        editor.labelEdited.connect(self._on_label_edited)
        editor.toolChanged.connect(self._on_tool_changed)
        editor.brushChanged.connect(self._refresh_preview)

    def fit(self) -> None:
        """Fit the slice to the view; it stays fitted through resizes until the user zooms or pans."""
        self.view.enableAutoRange()

    # ---------------------------------------------------------------- drawing

    def _skipped(self) -> bool:
        """A hidden coronal or sagittal view draws nothing (so the axial-only layout pays for one
        view); it is marked stale and redrawn when shown."""
        if self.plane is Plane.AXIAL or self.isVisible():
            return False
        self._drawn_index = None
        self.indices.clear()  # its slices made ahead, and every volume they hold, go until it is shown
        self.image.detach()
        return True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._drawn_index is None:
            self._on_crosshair_changed()

    def _draw_ct(self) -> None:
        if self._update_ct():
            self.image.compose(self.state.overlay)

    def _draw_overlays(self) -> None:
        if self._update_overlays():
            self.image.compose(self.state.overlay)

    def _draw_label(self) -> None:
        if self._update_label():
            self.image.compose(self.state.overlay)

    def _update_ct(self) -> bool:
        """Window the CT slice shown; False when there is nothing to draw."""
        patient = self.state.patient
        if patient is None or self._skipped():
            return False
        self.image.update_ct(screen_slice(self.plane, patient.hu, self.index))
        return True

    def _update_overlays(self) -> bool:
        """The ground-truth, prediction and uncertainty layers of the slice shown."""
        state = self.state
        if state.patient is None or self._skipped():
            return False
        plane, k = self.plane, self.index
        self.image.update_overlays(
            None if state.gt is None else screen_slice(plane, state.gt, k),  # read-only volumes: see sagittal_copies
            None if state.prediction is None else screen_slice(plane, state.prediction, k),
            None if state.uncertainty is None else screen_slice(plane, state.uncertainty, k),
            plane.image_shape(state.patient.shape),
            state.overlay,
        )
        return True

    def _draw_from_indices(self) -> bool:
        """The CT and overlay layers of the slice shown from the plane's indices made ahead of time, if ready."""
        state = self.state
        assert state.patient is not None
        sources = Sources(state.patient.hu, state.window, state.gt, state.prediction)
        base = self.indices.slice(sources, self.index)
        if base is None:
            return False
        self.image.set_base(base, state.overlay)
        uncertainty = None if state.uncertainty is None else screen_slice(self.plane, state.uncertainty, self.index)
        self.image.update_uncertainty(uncertainty, state.overlay)
        return True

    def _update_label(self) -> bool:
        """The edited label's layers of the slice shown: the segments, and the active one (hidden when off)."""
        label, segments, overlay = self.editor.label, self.editor.segments, self.state.overlay
        if self.state.patient is None or self._skipped():
            return False
        self.segment_layer.draw(segments, self.plane, self.index, self._image_rect, overlay.show_label)
        active = segments.active_row()
        shown = None if label is None or active is None or not active.visible else self.plane.image(label, self.index)
        return self.image.update_label(shown, overlay, shows_segments(segments))

    def _on_label_edited(self, slices: list[int]) -> None:
        if self.plane is not Plane.AXIAL or self.state.slice_index in slices:
            self._draw_label()

    def _on_patient_changed(self) -> None:
        patient = self.state.patient
        assert patient is not None
        row_mm, column_mm = self.plane.pixel_mm(patient.spacing_mm)
        rows, columns = self.plane.image_shape(patient.shape)
        rect = QRectF(0.0, 0.0, columns * column_mm, rows * row_mm)
        self.indices.clear()
        self.image.reset(rect, rows, columns)
        self._image_rect = rect
        self._drawn_index = None
        affine = patient.geometry.affine_lps()  # columns: the LPS step of one voxel along x, y, z
        (column_axis, column_sign), (row_axis, row_sign) = self.plane.screen_axes()
        right = column_sign * affine[:3, 2 - column_axis]
        down = row_sign * affine[:3, 2 - row_axis]
        for side, direction in (("left", -right), ("right", right), ("top", -down), ("bottom", down)):
            self.side_labels[side].setText(direction_letter(direction))
        assert self.title_label is not None  # made in __init__; only an early resize sees None
        z, y, x = patient.shape
        if self.plane is Plane.AXIAL:
            self.title_label.setText(f"{patient.title()}\n{x} × {y} × {z}")
        else:
            self.title_label.setText(f"{self.plane.title}\n{columns} × {rows}")
        self.hint_label.hide()
        self.fit()
        self._place_labels()

    def _on_crosshair_changed(self) -> None:
        if self.state.patient is None or self._skipped():
            return
        if self.index != self._drawn_index:
            self._drawn_index = self.index
            if not self._draw_from_indices():
                self._update_ct()
                self._update_overlays()
            self._update_label()
            self.image.compose(self.state.overlay)
            if self._hover_scene_pos is not None:  # the voxel under a still pointer changed
                self.state.set_cursor_voxel(self.volume_voxel_at(self._hover_scene_pos))
        self._place_crosshair()

    def _place_crosshair(self) -> None:
        patient = self.state.patient
        if patient is None:
            return
        row, column = self.plane.pixel(patient.shape, self.state.position)
        row_mm, column_mm = self.plane.pixel_mm(patient.spacing_mm)
        vertical, horizontal = self.crosshair_lines
        place_crosshair(vertical, horizontal, (column + 0.5) * column_mm, (row + 0.5) * row_mm, self._image_rect)
        vertical.setVisible(self._show_crosshair)
        horizontal.setVisible(self._show_crosshair)

    def set_crosshair_visible(self, visible: bool) -> None:
        """Show the crosshair lines (the layouts do when more than one plane is on screen)."""
        self._show_crosshair = visible
        for line in self.crosshair_lines:
            line.setVisible(visible and self.state.patient is not None)

    def _on_window_changed(self) -> None:
        window = self.state.window
        self.image.set_window(window)
        self.window_label.setText(f"W {window.width:.0f}   L {window.level:.0f}")
        self.window_label.adjustSize()
        self._place_labels()
        self._draw_ct()

    def _on_overlay_changed(self) -> None:
        if self._update_overlays() | self._update_label():
            self.image.compose(self.state.overlay)

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
        top_x = (width - sides["top"].width()) // 2
        clear = self.title_label.x() + self.title_label.width() + m <= top_x  # else under the title's lines
        sides["top"].move(top_x, m if clear else m + self.title_label.height())
        sides["bottom"].move((width - sides["bottom"].width()) // 2, height - sides["bottom"].height() - m)
