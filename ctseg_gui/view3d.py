"""The 3D pane: liver surface meshes of the ground truth, the prediction and the edited label.

Meshes come from ``ctseg_core.export.mesh.surface_mesh`` (marching cubes, smoothing, decimation,
in LPS mm), built on a worker (:class:`~ctseg_gui.workers.JobRunner`), never on the GUI thread, and
only while the pane is on screen. They are drawn by a pyqtgraph.opengl ``GLViewWidget`` in the
overlay colours (green, magenta, orange) and follow the overlay checkboxes. The prediction can
instead be coloured by its signed distance to the ground truth (core:
:mod:`ctseg_core.export.surface_error`, measured on a worker), with a colour bar; a click on a
surface moves the crosshair there (:mod:`ctseg_core.export.picking`, on a worker). The GUI
thread only uploads and draws: even the vertex normals come from the worker. Without OpenGL (Qt's
offscreen platform, a machine without a GL driver, PyOpenGL missing) the pane is a label saying
why: :func:`gl_unavailable_reason` finds out without ever creating a GL widget that could fail.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QLinearGradient,
    QMatrix4x4,
    QMouseEvent,
    QOpenGLContext,
    QPainter,
    QPaintEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ctseg_core.export.mesh import Mesh, surface_mesh
from ctseg_core.export.picking import Pick, Ray, pick_surface, point_of_voxel, ray_from_screen, voxel_of_point
from ctseg_core.export.surface_error import (
    DEFAULT_LIMIT_MM,
    SurfaceError,
    colour_bar_ticks,
    diverging_rgba,
    surface_error,
)
from ctseg_core.metrics import format_metric
from ctseg_core.progress import CancelCheck, ProgressCallback

from .editor import EditorState
from .overlay import GT_RGB, LABEL_RGB, PRED_RGB
from .plane_layout import placeholder_3d
from .state import ViewerState
from .workers import JobRunner

log = logging.getLogger(__name__)

LAYERS = ("gt", "prediction", "label")
COLOURS = {"gt": GT_RGB, "prediction": PRED_RGB, "label": LABEL_RGB}
#: Edits are meshed again this long after the last stroke (a stroke is not worth a mesh each).
LABEL_DELAY_MS = 800
NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc")
DISTANCE_JOB = "mesh:distance"
PICK_JOB = "mesh:pick"
#: A press and release this close (pixels) is a click that picks; farther is a drag that turns the view.
CLICK_SLOP_PX = 4


def gl_unavailable_reason_without_loading_gl() -> str | None:
    """The reasons that need no GL library in this process (platform without OpenGL, no PyOpenGL)."""
    platform = QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"3D view unavailable: the Qt platform “{platform}” has no OpenGL"
    return None


def gl_unavailable_reason() -> str | None:
    """Why the 3D view cannot be shown here, or None when OpenGL is available."""
    platform = QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"3D view unavailable: the Qt platform “{platform}” has no OpenGL"
    try:
        import pyqtgraph.opengl  # noqa: F401  # needs PyOpenGL
    except Exception as error:  # an ImportError, or a GL library that fails to load
        return f"3D view unavailable: pyqtgraph.opengl cannot be imported ({error})"
    context = QOpenGLContext()
    if not context.create():
        return "3D view unavailable: no OpenGL context could be created"
    return None


_PROBE = """
import sys
from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext
app = QGuiApplication(sys.argv[:1])
context, surface = QOpenGLContext(), QOffscreenSurface()
surface.create()
if context.create() and context.makeCurrent(surface):
    print(context.functions().glGetString(0x1F01) or "")
"""


def software_mesa_renderer() -> bool:
    """Whether OpenGL here is Mesa's software rasteriser (llvmpipe/softpipe), asked in a child process.

    Mesa's llvmpipe and TensorFlow crash (segmentation fault) when both are loaded in one process,
    whichever comes first (seen under Xvfb). The child process keeps this process free of GL until
    the answer is known.
    """
    try:
        result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=30,
                                env={**os.environ, "QT_QPA_PLATFORM": QGuiApplication.platformName()})
    except (OSError, subprocess.SubprocessError):
        return False
    renderer = result.stdout.strip().lower()
    return any(name in renderer for name in ("llvmpipe", "softpipe", "swrast"))


#: Set to 1 to show the 3D view on Mesa's software renderer anyway (tests, viewing without the model).
FORCE_SOFTWARE_GL = "CTSEG_3D_SOFTWARE"


def software_gl_refusal() -> str | None:
    """Why the 3D view stays off on Mesa's software renderer, or None.

    Mesa's llvmpipe and TensorFlow crash (segmentation fault, or an abort at exit) when both are
    loaded in one process, whichever comes first (seen under Xvfb with Mesa 22 and TensorFlow
    2.21). The viewer loads TensorFlow for Segment, so on that renderer the 3D view is off unless
    CTSEG_3D_SOFTWARE=1 says the model will not be used in this session.
    """
    if os.environ.get(FORCE_SOFTWARE_GL) == "1" or not software_mesa_renderer():
        return None
    return (
        "3D view off: Mesa's software OpenGL and TensorFlow crash in one process. With a hardware "
        f"OpenGL driver the 3D view works; {FORCE_SOFTWARE_GL}=1 shows it here if you will not segment."
    )


def make_3d_pane(state: ViewerState, editor: EditorState, runner: JobRunner) -> QWidget:
    """The 3D view where OpenGL works, else a placeholder label with the reason."""
    reason = gl_unavailable_reason_without_loading_gl()
    if reason is None:
        reason = software_gl_refusal()
    if reason is None:
        reason = gl_unavailable_reason()
    if reason is not None:
        log.info(reason)
        return placeholder_3d(reason)
    return SurfaceView(state, editor, runner)


@dataclass(frozen=True, eq=False)
class SurfaceBuild:
    """A worker's mesh of one layer, with the vertex normals for smooth shading and the time it took."""

    mesh: Mesh
    normals: np.ndarray
    volume_ml: float
    seconds: float


def _build_surface(mask: np.ndarray, affine: np.ndarray, progress: ProgressCallback, cancel: CancelCheck
                   ) -> SurfaceBuild:
    """A worker's job: the surface of one mask (the worker's own copy), in LPS mm, and its normals.

    The normals are computed here because pyqtgraph's ``MeshData.vertexNormals`` loops over the
    vertices in Python inside the first paint: 3 s on the GUI thread for a liver. The volume too
    (0.1 s for a liver's mesh, too long for the GUI thread).
    """
    started = time.perf_counter()
    mesh = surface_mesh(mask, affine, progress=progress, should_cancel=cancel)
    normals = mesh.vertex_normals()
    return SurfaceBuild(mesh, normals, mesh.volume_ml(), time.perf_counter() - started)


def _measure_error(mesh: Mesh, gt: np.ndarray, affine: np.ndarray, limit_mm: float,
                   _progress: ProgressCallback, _cancel: CancelCheck) -> tuple[SurfaceError, np.ndarray]:
    """A worker's job: the prediction's signed distances to the ground-truth surface, and their colours."""
    error = surface_error(mesh, gt, affine)
    return error, diverging_rgba(error.distances_mm, limit_mm)


def _pick(meshes: list[Mesh], ray: Ray, _progress: ProgressCallback, _cancel: CancelCheck) -> Pick | None:
    """A worker's job: the nearest point where ``ray`` meets one of ``meshes`` (0.15 s for a liver)."""
    picks = [pick for pick in (pick_surface(mesh, ray) for mesh in meshes) if pick is not None]
    return min(picks, key=lambda pick: pick.distance, default=None)


@functools.cache
def _mesh_data_class() -> type:
    """pyqtgraph's MeshData, given the normals computed on the worker instead of computing its own."""
    from pyqtgraph.opengl import MeshData

    class PrecomputedNormals(MeshData):
        def __init__(self, normals: np.ndarray, **data: object) -> None:
            super().__init__(**data)
            self._precomputed = np.ascontiguousarray(normals, dtype=np.float32)

        def vertexNormals(self, indexed: str | None = None) -> np.ndarray:  # noqa: N802  # pyqtgraph's name
            return self._precomputed if indexed is None else self._precomputed[self.faces()]

    return PrecomputedNormals


def _mesh_data(build: SurfaceBuild, colours: np.ndarray | None = None) -> object:
    return _mesh_data_class()(build.normals, vertexes=build.mesh.vertices, faces=build.mesh.faces,
                              vertexColors=colours)


@functools.cache
def _headlight_shader() -> object:
    """Lit from the camera, with more ambient than pyqtgraph's "shaded" (light from one corner, 20 %
    ambient): a surface facing the viewer shows its true colour, so the distance colours read as the
    colour bar shows them, whichever way the view is turned. Back faces are lit like front faces."""
    from pyqtgraph.opengl import shaders

    return shaders.ShaderProgram("ctseg_headlight", [
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
    ])


def _matrix(matrix: QMatrix4x4) -> np.ndarray:
    """A Qt 4×4 matrix as numpy, rows as Qt writes them (acting on column vectors)."""
    return np.array(matrix.copyDataTo(), dtype=np.float64).reshape(4, 4)


class DistanceColourBar(QWidget):
    """The colour bar of the distance colouring: the core's diverging map, −limit … +limit, ticks in mm."""

    def __init__(self, limit_mm: float = DEFAULT_LIMIT_MM, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit_mm = limit_mm
        self.setFixedWidth(74)
        self.setMinimumHeight(120)
        self.setToolTip("Signed distance of the prediction's surface to the ground truth's, in mm: red outside "
                        f"(over-segmented), blue inside (under-segmented), clamped at ±{limit_mm:g} mm")

    def tick_labels(self) -> list[str]:
        return [f"{value:+g}".replace("-", "−") if value else "0" for value in colour_bar_ticks(self.limit_mm)]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("black"))
        metrics = painter.fontMetrics()
        top, bottom = metrics.height() * 3, self.height() - metrics.height() * 2
        bar = QRect(8, top, 16, max(bottom - top, 10))
        gradient = QLinearGradient(0, bar.top(), 0, bar.bottom())
        values = np.linspace(self.limit_mm, -self.limit_mm, 21)
        for fraction, (red, green, blue, _alpha) in zip(np.linspace(0, 1, 21), diverging_rgba(values, self.limit_mm),
                                                         strict=True):
            gradient.setColorAt(float(fraction), QColor.fromRgbF(float(red), float(green), float(blue)))
        painter.fillRect(bar, gradient)
        painter.setPen(QColor("#d0d0d0"))
        painter.drawText(QRect(0, 2, self.width(), metrics.height()), Qt.AlignmentFlag.AlignHCenter, "mm")
        painter.drawText(QRect(0, 2 + metrics.height(), self.width(), metrics.height()),
                         Qt.AlignmentFlag.AlignHCenter, "over")
        painter.drawText(QRect(0, bar.bottom() + metrics.height() // 2 + 2, self.width(), metrics.height()),
                         Qt.AlignmentFlag.AlignHCenter, "under")
        for value, text in zip(colour_bar_ticks(self.limit_mm), self.tick_labels(), strict=True):
            y = bar.bottom() - (value + self.limit_mm) / (2 * self.limit_mm) * bar.height()
            painter.drawLine(bar.right() + 1, int(y), bar.right() + 5, int(y))
            painter.drawText(QRect(bar.right() + 8, int(y) - metrics.height() // 2, 40, metrics.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.end()


class SurfaceView(QWidget):
    """A GLViewWidget with one mesh item per layer, rebuilt on a worker when its mask changes.

    With "colour by distance" on, the prediction is drawn in the colours of its signed distance
    to the ground-truth surface, with a colour bar; the ground-truth surface is then not drawn
    (the under-segmented, blue parts lie inside it). A click (no drag) on a surface moves the
    crosshair to the voxel there; a yellow dot marks the crosshair in 3D.
    """

    meshReady = Signal(str)  # layer name, once its mesh is shown
    errorReady = Signal()  # the distance colouring of the prediction is shown
    picked = Signal(object)  # the Pick a click landed on, or None when it hit no surface

    def __init__(self, state: ViewerState, editor: EditorState, runner: JobRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph.opengl as gl

        self._gl = gl
        self.state, self.editor, self.runner = state, editor, runner
        self.limit_mm = DEFAULT_LIMIT_MM
        self.gl_view = gl.GLViewWidget()
        self.gl_view.setBackgroundColor("k")
        self.gl_view.installEventFilter(self)
        self.colour_by_distance = QCheckBox("Colour prediction by distance to ground truth")
        self.colour_by_distance.setToolTip(
            "Red: the prediction lies outside the ground truth (over-segmented); blue: inside it (under). "
            f"Clamped at ±{self.limit_mm:g} mm. The ground-truth surface is hidden meanwhile. "
            "The distances are those ASSD and HD95 average. Click a surface to move the crosshair there.")
        self.colour_by_distance.toggled.connect(self._on_colouring_toggled)
        self.colour_bar = DistanceColourBar(self.limit_mm)
        self.colour_bar.hide()
        self.status = QLabel("")
        self.status.setStyleSheet("color: #9a9a9a; font-size: 11px;")
        self.status.setWordWrap(True)
        # A fixed height: a new status text must not resize the GL view, which would redraw every mesh
        # (with Mesa's software OpenGL, tens of ms on the GUI thread while the worker meshes).
        self.status.setFixedHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        view_row = QHBoxLayout()
        view_row.setContentsMargins(0, 0, 0, 0)
        view_row.setSpacing(0)
        view_row.addWidget(self.gl_view, 1)
        view_row.addWidget(self.colour_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.colour_by_distance)
        layout.addLayout(view_row, 1)
        layout.addWidget(self.status)
        self.builds: dict[str, SurfaceBuild] = {}
        self.items: dict[str, object] = {}
        self.error: SurfaceError | None = None  # the distance colouring of the prediction shown
        self._error_colours: np.ndarray | None = None
        self._pressed_at: QPoint | None = None
        self.crosshair_marker: object | None = None
        self._marker_at: np.ndarray | None = None
        self._dirty: set[str] = set(LAYERS)
        self._label_timer = QTimer(self)
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(LABEL_DELAY_MS)
        self._label_timer.timeout.connect(lambda: self._invalidate("label"))
        state.patientChanged.connect(lambda: self._invalidate(*LAYERS))
        state.masksChanged.connect(lambda: self._invalidate("gt", "prediction"))
        state.overlayChanged.connect(self._apply_visibility)
        state.crosshairChanged.connect(self._move_marker)
        editor.labelChanged.connect(lambda: self._invalidate("label"))
        editor.labelEdited.connect(lambda _slices: self._label_timer.start())
        self._sync_colouring_enabled()

    @property
    def meshes(self) -> dict[str, Mesh]:
        """The mesh shown for each layer (LPS mm)."""
        return {layer: build.mesh for layer, build in self.builds.items()}

    @property
    def build_seconds(self) -> dict[str, float]:
        """How long the worker took for each layer's mesh shown (marching cubes to normals)."""
        return {layer: build.seconds for layer, build in self.builds.items()}

    def _mask(self, layer: str) -> np.ndarray | None:
        if layer == "gt":
            return self.state.gt
        if layer == "prediction":
            return self.state.prediction
        return self.editor.label

    def invalidate(self, *layers: str) -> None:
        """Mesh these layers again (now if the pane is on screen, else when it is shown)."""
        self._invalidate(*layers)

    def _invalidate(self, *layers: str) -> None:
        self._dirty.update(layers)
        if "gt" in layers or "prediction" in layers:
            self._drop_error()
        if self.isVisible():
            self._rebuild()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._rebuild()

    def _rebuild(self) -> None:
        patient = self.state.patient
        if patient is None:
            return
        affine = patient.geometry.affine_lps()
        for layer in sorted(self._dirty):
            self._dirty.discard(layer)
            mask = self._mask(layer)
            if mask is None or not mask.any():
                self.runner.cancel(f"mesh:{layer}")
                self._show(layer, None)
                continue
            volume = mask.copy()  # the worker's own: edits go on meanwhile
            self.status.setText(f"building the {layer} surface…")
            self.runner.start(f"mesh:{layer}", partial(_build_surface, volume, affine),
                              on_success=partial(self._show, layer), on_failure=partial(self._failed, layer))

    def _failed(self, layer: str, error: BaseException) -> None:
        self.status.setText(f"{layer} surface failed: {error}")

    def _show(self, layer: str, build: SurfaceBuild | None) -> None:
        old = self.items.pop(layer, None)
        if old is not None:
            self.gl_view.removeItem(old)
        self.builds.pop(layer, None)
        if build is not None and build.mesh.triangle_count:
            red, green, blue = (c / 255 for c in COLOURS[layer])
            item = self._gl.GLMeshItem(meshdata=_mesh_data(build), color=(red, green, blue, 1.0),
                                       smooth=True, shader=_headlight_shader(), glOptions="opaque")
            self.gl_view.addItem(item)
            self.items[layer], self.builds[layer] = item, build
            if len(self.builds) == 1:
                self._frame(build.mesh)
        if layer in ("gt", "prediction"):
            self._drop_error()
            self._sync_colouring_enabled()
            self._start_error()
        self._apply_visibility()
        self._show_summary()
        self.meshReady.emit(layer)

    def _show_summary(self) -> None:
        text = "  ".join(f"{name}: {build.volume_ml:.1f} mL" for name, build in self.builds.items())
        if self.error is not None:
            low, high = self.error.range_mm
            assd = self.state.scores.report.assd_mm if self.state.scores.report is not None else math.nan
            text += (f"\nprediction → ground truth: mean |d| {self.error.mean_abs_mm:.1f} mm "
                     f"(ASSD {format_metric(assd, 1)} mm), 95 % {self.error.p95_abs_mm:.1f} mm, "
                     f"from {low:+.1f} to {high:+.1f} mm").replace("-", "−")
        self.status.setText(text)

    def _frame(self, mesh: Mesh) -> None:
        """Point the camera at the mesh, from the patient's anterior (LPS −y), whole mesh in view."""
        from pyqtgraph import Vector

        low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
        centre = (low + high) / 2
        self.gl_view.setCameraPosition(pos=Vector(*centre), distance=float(np.linalg.norm(high - low)) * 1.4,
                                       elevation=10, azimuth=-90)

    def _apply_visibility(self) -> None:
        overlay = self.state.overlay
        colouring = self.error is not None and self.colour_by_distance.isChecked()
        shown = {"gt": overlay.show_gt and not colouring, "prediction": overlay.show_prediction,
                 "label": overlay.show_label}
        for layer, item in self.items.items():
            item.setVisible(shown[layer])  # type: ignore[attr-defined]  # a GLMeshItem
        self.colour_bar.setVisible(colouring)

    # ---------------------------------------------------------------- distance colouring

    def _sync_colouring_enabled(self) -> None:
        possible = self.state.gt is not None and self.state.prediction is not None
        self.colour_by_distance.setEnabled(possible)

    def _on_colouring_toggled(self, on: bool) -> None:
        if on:
            self._start_error()
        else:
            self.runner.cancel(DISTANCE_JOB)
            self._paint_prediction(None)
        self._apply_visibility()
        self._show_summary()

    def _start_error(self) -> None:
        """Measure the prediction's distances to the ground truth on a worker, if asked and possible."""
        build, gt, patient = self.builds.get("prediction"), self.state.gt, self.state.patient
        if not self.colour_by_distance.isChecked() or build is None or patient is None or gt is None:
            return
        if self.error is not None and self.error.mesh is build.mesh:
            return
        self.status.setText("measuring the prediction's distance to the ground truth…")
        self.runner.start(DISTANCE_JOB, partial(_measure_error, build.mesh, gt.copy(),
                                                patient.geometry.affine_lps(), self.limit_mm),
                          on_success=self._show_error, on_failure=partial(self._failed, "distance colouring"))

    def _show_error(self, result: tuple[SurfaceError, np.ndarray]) -> None:
        error, colours = result
        build = self.builds.get("prediction")
        if build is None or error.mesh is not build.mesh:  # a newer prediction mesh came meanwhile
            return
        self.error, self._error_colours = error, colours
        if self.colour_by_distance.isChecked():
            self._paint_prediction(colours)
        self._apply_visibility()
        self._show_summary()
        self.errorReady.emit()

    def _drop_error(self) -> None:
        self.runner.cancel(DISTANCE_JOB)
        self.error = self._error_colours = None

    def _paint_prediction(self, colours: np.ndarray | None) -> None:
        build, item = self.builds.get("prediction"), self.items.get("prediction")
        if build is not None and item is not None:
            item.setMeshData(meshdata=_mesh_data(build, colours))  # type: ignore[attr-defined]  # a GLMeshItem

    # ---------------------------------------------------------------- click to crosshair

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A left click without a drag on the 3D view picks the surface under the pointer."""
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
        viewport = self.gl_view.getViewport()
        projection = self.gl_view.projectionMatrix(viewport, viewport)
        mvp = _matrix(projection) @ _matrix(self.gl_view.viewMatrix())
        return ray_from_screen(mvp, x, y, viewport[2], viewport[3])

    def pick_at(self, x: float, y: float) -> None:
        """Find the visible surface under pixel (x, y) on a worker; the crosshair moves there."""
        meshes = [self.builds[layer].mesh for layer, item in self.items.items()
                  if item.visible()]  # type: ignore[attr-defined]  # a GLMeshItem
        if not meshes or self.state.patient is None:
            return
        self.runner.start(PICK_JOB, partial(_pick, meshes, self.ray_at(x, y)), on_success=self._on_picked,
                          on_failure=partial(self._failed, "picking"))

    def _on_picked(self, pick: Pick | None) -> None:
        patient = self.state.patient
        if pick is not None and patient is not None:
            voxel = voxel_of_point(pick.point, patient.geometry.affine_lps(), patient.shape)
            self.state.set_position(voxel)
            text = f"crosshair → slice {voxel[0] + 1}, row {voxel[1] + 1}, column {voxel[2] + 1}"
            distance = self._distance_at(pick)
            if distance is not None:
                text += f"; {distance:+.1f} mm from the ground truth there".replace("-", "−")
            self.status.setText(text)
        self.picked.emit(pick)

    def _distance_at(self, pick: Pick) -> float | None:
        """The colouring's distance at a picked point of the prediction (mean of the face's corners)."""
        error = self.error
        if error is None or not self.colour_by_distance.isChecked():
            return None
        faces = error.mesh.faces
        if pick.face >= len(faces):
            return None
        corners = error.mesh.vertices[faces[pick.face]].astype(np.float64)
        if not np.allclose(pick.point, corners.mean(axis=0), atol=float(np.ptp(corners, axis=0).max()) + 1e-6):
            return None  # the pick landed on another surface
        return float(error.distances_mm[faces[pick.face]].mean())

    def _move_marker(self, _position: object = None) -> None:
        """The yellow dot at the crosshair (drawn over the surfaces)."""
        patient = self.state.patient
        if patient is None:
            return
        point = point_of_voxel(self.state.position, patient.geometry.affine_lps()).reshape(1, 3)
        if self._marker_at is not None and np.array_equal(point, self._marker_at):
            return  # no redraw of every mesh for nothing
        self._marker_at = point
        if self.crosshair_marker is None:
            self.crosshair_marker = self._gl.GLScatterPlotItem(pos=point, size=9, color=(1.0, 0.85, 0.1, 1.0),
                                                      pxMode=True, glOptions="additive")
            self.crosshair_marker.setDepthValue(10)  # type: ignore[union-attr]  # drawn after the meshes
            self.gl_view.addItem(self.crosshair_marker)
        else:
            self.crosshair_marker.setData(pos=point)  # type: ignore[attr-defined]  # a GLScatterPlotItem
