"""The pyqtgraph OpenGL pieces the 3D pane draws with (once :mod:`~ctseg_gui.view3d.gl_probe` found GL works).

The GL view, in a window of its own (:func:`make_gl_view`), a MeshData that takes the worker's vertex
normals (pyqtgraph would compute its own in a Python loop on the GUI thread), a shader lit from the
camera, the crosshair's dot; and :func:`grab_with_gl`, a grab of widgets that shows the GL view.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage, QMatrix4x4, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from ctseg_core.surface.mesh import Mesh

#: A pyqtgraph.opengl GLViewWidget (pyqtgraph has no type hints, so mypy sees Any either way).
GLView = Any


@functools.cache
def _gl_window_class() -> type:
    """pyqtgraph's GL view on a QOpenGLWindow (its GLViewWidget is a QOpenGLWidget; both share GLViewMixin)."""
    from pyqtgraph.opengl.GLViewWidget import GLViewMixin
    from PySide6.QtOpenGL import QOpenGLWindow

    class GLViewWindow(GLViewMixin, QOpenGLWindow):
        owner: QWidget | None = None  # the pane it is shown in (a QWindow is not a child widget)

        def devicePixelRatioF(self) -> float:  # the QWidget name the mixin calls
            return float(self.devicePixelRatio())

        def grabFramebuffer(self) -> QImage:
            """The scene as it is now, drawn into an offscreen framebuffer of the window's size.

            A QOpenGLWindow's own grab only reads back its last frame (a QOpenGLWidget draws first),
            which after a resize or while the window is covered is not the scene.
            """
            from OpenGL import GL
            from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

            if not self.isValid():
                return QImage()
            self.makeCurrent()
            width, height = self.deviceWidth(), self.deviceHeight()
            form = QOpenGLFramebufferObjectFormat()
            form.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
            target = QOpenGLFramebufferObject(width, height, form)
            target.bind()
            try:
                GL.glViewport(0, 0, width, height)
                region = self.getViewport()
                self.paint(region=region, viewport=region)
                image = target.toImage()
            finally:
                target.release()
            image.setDevicePixelRatio(self.devicePixelRatioF())
            return image

    return GLViewWindow


def make_gl_view(owner: QWidget) -> tuple[GLView, QWidget]:
    """pyqtgraph's GL view in a native window of its own, and the widget that holds it in ``owner``'s layout.

    A QOpenGLWidget (pyqtgraph's GLViewWidget) makes Qt compose its whole top-level window through
    OpenGL on every repaint of any widget in it, and keeps doing so once it has been shown. On Mesa's
    software renderer that cost 15 ms for a label's new text and made a crosshair move 68 ms in the
    2×2 layout, and 49 ms in 1×3 after leaving it (benchmarks/bench_view.py, under Xvfb). A
    QOpenGLWindow in a window container draws only itself, and the rest of the window stays raster.

    Python owns the GL window, the container only points at it: delete the top-level window before
    the interpreter exits (``app.run_viewer`` does), or PySide's clean-up may free the GL window
    before the container and crash at exit.
    """
    view = _gl_window_class()()
    view.owner = owner
    container = QWidget.createWindowContainer(view, owner)
    container.setMinimumSize(160, 120)
    container.gl_window = view  # type: ignore[attr-defined]  # for grab_with_gl
    return view, container


def grab_with_gl(widget: QWidget) -> QPixmap:
    """``widget.grab()``, with each GL view inside it painted in (a grab shows a native GL window as black)."""
    pixmap = widget.grab()
    painter: QPainter | None = None
    for container in widget.findChildren(QWidget):
        view = getattr(container, "gl_window", None)
        if view is None or not container.isVisibleTo(widget) or container.width() == 0:
            continue
        painter = painter or QPainter(pixmap)
        origin = container.mapTo(widget, QPoint(0, 0))
        painter.drawImage(QRect(origin, container.size()), view.grabFramebuffer())
    if painter is not None:
        painter.end()
    return pixmap


@functools.cache
def _mesh_data_class() -> type:
    """pyqtgraph's MeshData, given the normals computed on the worker instead of computing its own."""
    from pyqtgraph.opengl import MeshData

    class PrecomputedNormals(MeshData):
        def __init__(self, normals: np.ndarray, **data: object) -> None:
            super().__init__(**data)
            self._precomputed = np.ascontiguousarray(normals, dtype=np.float32)

        def vertexNormals(self, indexed: str | None = None) -> np.ndarray:  # pyqtgraph's name
            return self._precomputed if indexed is None else self._precomputed[self.faces()]

    return PrecomputedNormals


def mesh_data(mesh: Mesh, normals: np.ndarray, colours: np.ndarray | None = None) -> object:
    """A pyqtgraph MeshData of ``mesh`` with the given vertex normals (and vertex colours, if any)."""
    return _mesh_data_class()(normals, vertexes=mesh.vertices, faces=mesh.faces, vertexColors=colours)


@functools.cache
def headlight_shader() -> object:
    """Lit from the camera, with more ambient than pyqtgraph's "shaded" (light from one corner, 20 %
    ambient): a surface facing the viewer shows its true colour, so the distance colours read as the
    colour bar shows them, whichever way the view is turned. Back faces are lit like front faces."""
    from pyqtgraph.opengl import shaders

    return shaders.ShaderProgram(
        "ctseg_headlight",
        [
            shaders.VertexShader("""
            uniform mat4 u_mvp;
            uniform mat3 u_normal;
            attribute vec4 a_position;
            attribute vec3 a_normal;
            attribute vec4 a_color;
            varying vec4 v_color;
            varying vec3 v_normal;
            void main() {
                v_normal = normalize(u_normal * a_normal);
                v_color = a_color;
                gl_Position = u_mvp * a_position;
            }
        """),
            shaders.FragmentShader("""
            #ifdef GL_ES
            precision mediump float;
            #endif
            varying vec4 v_color;
            varying vec3 v_normal;
            void main() {
                float facing = abs(normalize(v_normal).z);
                gl_FragColor = vec4(v_color.rgb * (0.4 + 0.6 * facing), v_color.a);
            }
        """),
        ],
    )


def numpy_matrix(matrix: QMatrix4x4) -> np.ndarray:
    """A Qt 4×4 matrix as numpy, rows as Qt writes them (acting on column vectors)."""
    return np.array(matrix.copyDataTo(), dtype=np.float64).reshape(4, 4)


def aim_camera(view: GLView, mesh: Mesh) -> None:
    """Point a GLViewWidget's camera at the mesh, from the patient's anterior (LPS −y), all of it in view."""
    from pyqtgraph import Vector

    low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    centre = (low + high) / 2
    view.setCameraPosition(
        pos=Vector(*centre), distance=float(np.linalg.norm(high - low)) * 1.4, elevation=10, azimuth=-90
    )


class CrosshairDot:
    """A yellow dot in a GLViewWidget at the crosshair, drawn over the surfaces (no depth test, drawn last)."""

    def __init__(self, view: GLView) -> None:
        self.view = view
        self.item: object | None = None
        self.at: np.ndarray | None = None

    def move_to(self, point_lps: np.ndarray) -> None:
        point = np.asarray(point_lps, dtype=np.float64).reshape(1, 3)
        if self.at is not None and np.array_equal(point, self.at):
            return  # no redraw of every mesh for nothing
        self.at = point
        if self.item is None:
            import pyqtgraph.opengl as gl

            item = gl.GLScatterPlotItem(
                pos=point, size=9, color=(1.0, 0.85, 0.1, 1.0), pxMode=True, glOptions="additive"
            )
            item.setDepthValue(10)
            self.view.addItem(item)
            self.item = item
        else:
            self.item.setData(pos=point)  # type: ignore[attr-defined]  # a GLScatterPlotItem
