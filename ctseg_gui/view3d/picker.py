"""Clicks on the 3D view: a left click without a drag asks which surface point lies under the pointer.

The ray comes from the GL view's camera matrices (:func:`ctseg_core.surface.picking.ray_from_screen`)
and is intersected with the visible meshes on a worker (about 0.15 s for a liver).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QMouseEvent

from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.picking import Ray, ray_from_screen
from ctseg_gui.jobs.workers import JobRunner
from ctseg_gui.view3d.gl_items import GLView, numpy_matrix
from ctseg_gui.view3d.surface_jobs import pick_nearest

PICK_JOB = "mesh:pick"
#: A press and release this close (pixels) is a click that picks; farther is a drag that turns the view.
CLICK_SLOP_PX = 4


class ClickPicker(QObject):
    """Watches ``gl_view`` for clicks; ``picked`` gives (layer, Pick), or None when no surface was hit."""

    picked = Signal(object)

    def __init__(
        self,
        gl_view: GLView,
        runner: JobRunner,
        visible_meshes: Callable[[], dict[str, Mesh]],
        on_failure: Callable[[BaseException], object],
    ) -> None:
        super().__init__(gl_view)
        self.gl_view, self.runner, self.visible_meshes, self.on_failure = gl_view, runner, visible_meshes, on_failure
        self._pressed_at: QPoint | None = None
        gl_view.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.gl_view and isinstance(event, QMouseEvent) and event.button() == Qt.MouseButton.LeftButton:
            if event.type() == QEvent.Type.MouseButtonPress:
                self._pressed_at = event.position().toPoint()
            elif event.type() == QEvent.Type.MouseButtonRelease and self._pressed_at is not None:
                position = event.position().toPoint()
                if (position - self._pressed_at).manhattanLength() <= CLICK_SLOP_PX:
                    self.pick_at(position.x(), position.y())
                self._pressed_at = None
        return super().eventFilter(watched, event)

    def ray_at(self, x: float, y: float) -> Ray:
        """The ray (LPS mm) under pixel (x, y) of the GL view, from the camera's matrices."""
        view = self.gl_view
        viewport = view.getViewport()
        projection = view.projectionMatrix(viewport, viewport)
        mvp = numpy_matrix(projection) @ numpy_matrix(view.viewMatrix())
        return ray_from_screen(mvp, x, y, viewport[2], viewport[3])

    def pick_at(self, x: float, y: float) -> None:
        """Intersect the ray under pixel (x, y) with the visible meshes, on a worker."""
        meshes = self.visible_meshes()
        if meshes:
            self.runner.start(
                PICK_JOB,
                partial(pick_nearest, meshes, self.ray_at(x, y)),
                on_success=self.picked.emit,
                on_failure=self.on_failure,
            )
