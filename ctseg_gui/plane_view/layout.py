"""The view area: axial, coronal and sagittal plane views (and the 3D pane) in one of five layouts.

Layouts, as in ITK-SNAP and 3D Slicer: one plane alone (``axial``, ``coronal``, ``sagittal``), the
three planes side by side (``1x3``), or the three planes and the 3D pane in a 2×2 grid (``2x2``).
A double click in Navigate mode, or F11, shows the view under focus alone and, the second time,
goes back to the layout it came from.
"""

from __future__ import annotations

import enum

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from ctseg_core.display.planes import Plane
from ctseg_gui.plane_view.view import PlaneView
from ctseg_gui.state.editor import EditorState
from ctseg_gui.state.viewer import ViewerState


class Layout(enum.Enum):
    """How the view area is split; the value is its name in menus and on the command line."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"
    ONE_BY_THREE = "1x3"
    TWO_BY_TWO = "2x2"

    @property
    def single(self) -> Plane | None:
        """The plane shown alone, or None for a multi-view layout."""
        return Plane(self.value) if self.value in {p.value for p in Plane} else None

    @classmethod
    def of_plane(cls, plane: Plane) -> Layout:
        return cls(plane.value)


class PlaneLayout(QWidget):
    """Three linked :class:`PlaneView` planes and the 3D pane, arranged as :attr:`layout_mode` says."""

    layoutChanged = Signal(object)  # Layout

    def __init__(self, state: ViewerState, editor: EditorState, view3d: QWidget, parent: QWidget | None = None) -> None:
        """``view3d``: the 3D pane (:func:`ctseg_gui.view3d.pane.make_3d_pane`), shown in the 2×2 layout."""
        super().__init__(parent)
        self.state = state
        self.views = {plane: PlaneView(state, editor, plane=plane) for plane in Plane}
        self.view3d = view3d
        self.view3d.setParent(self)  # deleted with the layout, even while another layout leaves it out
        self.view3d.hide()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.layout_mode = Layout.AXIAL
        self._before_maximise: Layout | None = None
        for plane, view in self.views.items():
            view.sigMaximise.connect(lambda plane=plane: self.toggle_maximise(plane))
        self._arrange()

    def fit(self) -> None:
        """Fit each plane view's slice to its view (View ▸ Fit to window)."""
        for view in self.views.values():
            view.fit()

    def view(self, plane: Plane) -> PlaneView:
        return self.views[plane]

    def visible_views(self) -> list[PlaneView]:
        return [view for view in self.views.values() if view.isVisibleTo(self)]

    def set_layout(self, layout: Layout) -> None:
        """Show ``layout``; a layout chosen by the user ends any maximised view."""
        self._before_maximise = None
        self._set(layout)

    def _set(self, layout: Layout) -> None:
        if layout is self.layout_mode:
            return
        self.layout_mode = layout
        self._arrange()
        self.layoutChanged.emit(layout)

    def toggle_maximise(self, plane: Plane | None = None) -> None:
        """Show ``plane`` (default: the view with focus, else axial) alone, or go back to the layout before."""
        if self._before_maximise is not None:
            previous, self._before_maximise = self._before_maximise, None
            self._set(previous)
            return
        if plane is None:
            plane = next((p for p, v in self.views.items() if v.hasFocus()), Plane.AXIAL)
        if self.layout_mode.single is None:
            self._before_maximise = self.layout_mode
        self._set(Layout.of_plane(plane))

    def _arrange(self) -> None:
        widgets: list[QWidget] = [*self.views.values(), self.view3d]
        for widget in widgets:
            self.grid.removeWidget(widget)
            widget.hide()
        for row in range(2):
            self.grid.setRowStretch(row, 0)
        for column in range(3):
            self.grid.setColumnStretch(column, 0)
        layout = self.layout_mode
        single = layout.single
        axial, coronal, sagittal = (self.views[p] for p in Plane)
        placed: list[tuple[QWidget, int, int]]
        if single is not None:
            placed = [(self.views[single], 0, 0)]
        elif layout is Layout.ONE_BY_THREE:
            placed = [(axial, 0, 0), (coronal, 0, 1), (sagittal, 0, 2)]
        else:
            placed = [(axial, 0, 0), (coronal, 0, 1), (sagittal, 1, 0), (self.view3d, 1, 1)]
        for widget, row, column in placed:
            self.grid.addWidget(widget, row, column)
            self.grid.setRowStretch(row, 1)
            self.grid.setColumnStretch(column, 1)
            widget.show()
        minimum = 320 if single is not None else 160
        for view in self.views.values():
            view.setMinimumSize(minimum, minimum)
            view.set_crosshair_visible(single is None)
            view.fit()
        shown = self.views[single] if single is not None else axial
        shown.setFocus()
