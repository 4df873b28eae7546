"""File ▸ Export: a mask's surface as a mesh file, a view or the whole window as a PNG.

The mesh is built and written on a worker by the core (``surface_mesh``, ``write_mesh``: LPS
with ``SPACE=LPS`` for 3D Slicer, atomic); PNGs are grabbed on the GUI thread (a grab is a
render of what is on screen) and written atomically. Failures reach the user as a message
naming the file. "Save view" saves the view the pointer was last over (or that has focus): one
of the plane views or the 3D pane.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from ctseg_core.errors import CtsegError
from ctseg_core.export.mesh_files import MESH_SUFFIXES, write_mesh
from ctseg_core.io.atomic import atomic_path
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_core.surface.meshing import surface_mesh
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.plane_view.overlay_text import OverlayText
from ctseg_gui.view3d.gl_items import grab_with_gl

MESH_JOB = "export:mesh"
MESH_FILTERS = {".stl": "STL mesh (*.stl)", ".obj": "Wavefront OBJ (*.obj)", ".ply": "PLY mesh (*.ply)"}
PNG_FILTER = "PNG image (*.png)"
MASK_NAMES = {"gt": "Ground truth", "prediction": "Prediction", "label": "Edited label"}


def _write_mesh_job(
    mask: np.ndarray, affine: np.ndarray, path: Path, progress: ProgressCallback, cancel: CancelCheck
) -> Path:
    """A worker's job: the mask's closed surface in LPS mm, written to ``path`` (STL, OBJ or PLY)."""
    try:
        mesh = surface_mesh(mask, affine, progress=progress, should_cancel=cancel)
    except CtsegError as error:
        raise CtsegError(path, error.problem) from error  # name the file the user asked for
    return write_mesh(mesh, path)


def save_png(pixmap: QPixmap, path: str | Path) -> Path:
    """Write a grab as PNG, atomically; a CtsegError naming the file when it cannot be written."""
    path = Path(path)
    if pixmap.isNull():
        raise CtsegError(path, "nothing to save: the view is not on screen")
    try:
        with atomic_path(path, suffix=".png") as temporary:
            if not pixmap.save(str(temporary), "PNG"):
                raise CtsegError(path, "cannot write the PNG (is the folder writable?)")
    except OSError as error:
        raise CtsegError(path, f"cannot write the PNG: {error.strerror or error}") from error
    return path


def _with_suffix(path: str, chosen_filter: str, filters: dict[str, str], default: str) -> Path:
    """The file name, with the chosen filter's suffix added when the name has none of ours."""
    target = Path(path)
    if target.suffix.lower() in filters:
        return target
    suffix = next((s for s, text in filters.items() if text == chosen_filter), default)
    return target.with_name(target.name + suffix)


class Exports(QObject):
    """The Export submenu's three commands, over the state, the editor's label and the view area."""

    exported = Signal(object)  # the Path written

    def __init__(self, host: WindowHost, menu: QMenu) -> None:
        """The commands go into ``menu``."""
        super().__init__(host.window())
        self.host, self.window = host, host.window()
        self.state, self.editor, self.runner = host.state, host.editor, host.runner
        self.views = host.plane_layout
        self.folder = Path.home()
        self._last_view: QWidget | None = None
        for view in self._all_views():
            view.installEventFilter(self)
            for child in view.findChildren(QWidget):  # a view's viewport, the 3D pane's GL container;
                if not isinstance(child, OverlayText):  # not the text over the image: this Python filter
                    child.installEventFilter(self)  # would run on each of its paints, every crosshair move
            gl_window = getattr(view, "gl_view", None)  # the 3D pane's GL view, a window of its own
            if gl_window is not None:
                gl_window.installEventFilter(self)
        self.mesh_action = QAction("Export &mesh…", self.window)
        self.view_action = QAction("Save &view as PNG…", self.window)
        self.window_action = QAction("Save &window as PNG…", self.window)
        self.mesh_action.triggered.connect(lambda _checked=False: self.export_mesh())
        self.view_action.triggered.connect(lambda _checked=False: self.save_view())
        self.window_action.triggered.connect(lambda _checked=False: self.save_window())
        self.state.patientChanged.connect(self._update_enabled)
        self.state.masksChanged.connect(self._update_enabled)
        self.editor.labelChanged.connect(self._update_enabled)
        self._update_enabled()
        for action in (self.mesh_action, self.view_action, self.window_action):
            menu.addAction(action)

    def _update_enabled(self) -> None:
        self.mesh_action.setEnabled(bool(self.available_masks()))
        self.view_action.setEnabled(self.state.patient is not None)

    # ---------------------------------------------------------------- mesh

    def available_masks(self) -> dict[str, np.ndarray]:
        """The masks there are to export, by layer name, in menu order."""
        masks = {"gt": self.state.gt, "prediction": self.state.prediction, "label": self.editor.label}
        return {name: mask for name, mask in masks.items() if mask is not None and mask.any()}

    def export_mesh(self) -> None:
        """Ask which mask and where, then mesh and write it on a worker."""
        masks, patient = self.available_masks(), self.state.patient
        if not masks or patient is None:
            self.host.show_status("Export mesh: no mask to export")
            return
        names = [MASK_NAMES[layer] for layer in masks]
        if len(names) == 1:
            chosen = names[0]
        else:
            chosen, ok = QInputDialog.getItem(self.window, "Export mesh", "Surface of:", names, 0, False)
            if not ok:
                return
        layer = next(layer for layer in masks if MASK_NAMES[layer] == chosen)
        suggested = self.folder / f"{self._stem()}_{layer}.stl"
        path, chosen_filter = QFileDialog.getSaveFileName(
            self.window,
            f"Export the {chosen.lower()} as a mesh",
            str(suggested),
            ";;".join(MESH_FILTERS[s] for s in MESH_SUFFIXES),
        )
        if not path:
            return
        target = _with_suffix(path, chosen_filter, MESH_FILTERS, ".stl")
        self.folder = target.parent
        self.host.show_status(f"meshing the {chosen.lower()} for {target.name}…", 0)
        self.runner.start(
            MESH_JOB,
            partial(_write_mesh_job, masks[layer].copy(), patient.geometry.affine_lps(), target),
            on_success=self._written,
            on_failure=partial(self.host.report_error, "Export mesh"),
            on_progress=self.host.show_job_progress,
        )

    def _stem(self) -> str:
        """A file-name-safe start for suggested names: the patient folder's name."""
        patient = self.state.patient
        name = patient.source_path.name if patient is not None else "ctseg"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "ctseg"

    def _written(self, path: Path) -> None:
        self.host.show_status(f"wrote {path}")
        self.exported.emit(path)

    # ---------------------------------------------------------------- PNG

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Remember the view the pointer entered last: "Save view" saves it."""
        if event.type() in (QEvent.Type.Enter, QEvent.Type.FocusIn):
            view = self._view_of(watched)
            if view is not None:
                self._last_view = view
        return super().eventFilter(watched, event)

    def _view_of(self, widget: QObject) -> QWidget | None:
        candidates = self._all_views()
        widget = getattr(widget, "owner", None) or widget  # the 3D pane's GL window names its pane
        while isinstance(widget, QObject):
            if widget in candidates:
                return widget if isinstance(widget, QWidget) else None
            parent = widget.parent()
            if parent is None:
                return None
            widget = parent
        return None

    def _all_views(self) -> list[QWidget]:
        return [*self.views.views.values(), self.views.view3d]

    def current_view(self) -> QWidget:
        """The view the pointer was last over (or that had focus) if still shown, else the first shown."""
        shown = [view for view in self._all_views() if view.isVisibleTo(self.views)]
        if self._last_view is not None and self._last_view in shown:
            return self._last_view
        focused = next((view for view in shown if view.hasFocus()), None)
        return focused or (shown[0] if shown else self.views)

    def view_name(self, view: QWidget) -> str:
        plane = next((plane for plane, each in self.views.views.items() if each is view), None)
        return plane.value if plane is not None else "3d"

    def save_view(self) -> None:
        view = self.current_view()
        self._save_grab(grab_with_gl(view), f"Save the {self.view_name(view)} view as PNG", self.view_name(view))

    def save_window(self) -> None:
        self._save_grab(grab_with_gl(self.window), "Save the window as PNG", "window")

    def _save_grab(self, pixmap: QPixmap, title: str, what: str) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self.window, title, str(self.folder / f"{self._stem()}_{what}.png"), PNG_FILTER
        )
        if not path:
            return
        target = _with_suffix(path, PNG_FILTER, {".png": PNG_FILTER}, ".png")
        self.folder = target.parent
        try:
            save_png(pixmap, target)
        except CtsegError as error:
            self.host.report_error(title, error)
            return
        self._written(target)
