"""The 3D pane: liver surface meshes of the ground truth, the prediction and the edited label.

Meshes come from ``ctseg_core.export.mesh.surface_mesh`` (marching cubes, smoothing, decimation,
in LPS mm), built on a worker (:class:`~ctseg_gui.workers.JobRunner`), never on the GUI thread, and
only while the pane is on screen. They are drawn by a pyqtgraph.opengl ``GLViewWidget`` in the
overlay colours (green, magenta, orange) and follow the overlay checkboxes. Without OpenGL (Qt's
offscreen platform, a machine without a GL driver, PyOpenGL missing) the pane is a label saying
why: :func:`gl_unavailable_reason` finds out without ever creating a GL widget that could fail.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from functools import partial

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication, QOpenGLContext, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ctseg_core.export.mesh import Mesh, surface_mesh
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


def _build_mesh(mask: np.ndarray, affine: np.ndarray, progress: ProgressCallback, cancel: CancelCheck) -> Mesh:
    """A worker's job: the surface of one mask (the worker's own copy), in LPS mm."""
    return surface_mesh(mask, affine, progress=progress, should_cancel=cancel)


class SurfaceView(QWidget):
    """A GLViewWidget with one mesh item per layer, rebuilt on a worker when its mask changes."""

    meshReady = Signal(str)  # layer name, once its mesh is shown

    def __init__(self, state: ViewerState, editor: EditorState, runner: JobRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph.opengl as gl

        self._gl = gl
        self.state, self.editor, self.runner = state, editor, runner
        self.gl_view = gl.GLViewWidget()
        self.gl_view.setBackgroundColor("k")
        self.status = QLabel("")
        self.status.setStyleSheet("color: #9a9a9a; font-size: 11px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.gl_view, 1)
        layout.addWidget(self.status)
        self.meshes: dict[str, Mesh] = {}
        self.items: dict[str, object] = {}
        self._dirty: set[str] = set(LAYERS)
        self._label_timer = QTimer(self)
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(LABEL_DELAY_MS)
        self._label_timer.timeout.connect(lambda: self._invalidate("label"))
        state.patientChanged.connect(lambda: self._invalidate(*LAYERS))
        state.masksChanged.connect(lambda: self._invalidate("gt", "prediction"))
        state.overlayChanged.connect(self._apply_visibility)
        editor.labelChanged.connect(lambda: self._invalidate("label"))
        editor.labelEdited.connect(lambda _slices: self._label_timer.start())

    def _mask(self, layer: str) -> np.ndarray | None:
        if layer == "gt":
            return self.state.gt
        if layer == "prediction":
            return self.state.prediction
        return self.editor.label

    def _invalidate(self, *layers: str) -> None:
        self._dirty.update(layers)
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
            self.runner.start(f"mesh:{layer}", partial(_build_mesh, volume, affine),
                              on_success=partial(self._show, layer), on_failure=partial(self._failed, layer))

    def _failed(self, layer: str, error: BaseException) -> None:
        self.status.setText(f"{layer} surface failed: {error}")

    def _show(self, layer: str, mesh: Mesh | None) -> None:
        old = self.items.pop(layer, None)
        if old is not None:
            self.gl_view.removeItem(old)
        self.meshes.pop(layer, None)
        if mesh is not None and mesh.triangle_count:
            red, green, blue = (c / 255 for c in COLOURS[layer])
            item = self._gl.GLMeshItem(vertexes=mesh.vertices, faces=mesh.faces, color=(red, green, blue, 1.0),
                                       smooth=True, shader="shaded", glOptions="opaque")
            self.gl_view.addItem(item)
            self.items[layer], self.meshes[layer] = item, mesh
            if len(self.meshes) == 1:
                self._frame(mesh)
        self._apply_visibility()
        self.status.setText("  ".join(f"{name}: {m.volume_ml():.1f} mL" for name, m in self.meshes.items()))
        self.meshReady.emit(layer)

    def _frame(self, mesh: Mesh) -> None:
        """Point the camera at the mesh, from the patient's anterior (LPS −y), whole mesh in view."""
        from pyqtgraph import Vector

        low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
        centre = (low + high) / 2
        self.gl_view.setCameraPosition(pos=Vector(*centre), distance=float(np.linalg.norm(high - low)) * 1.4,
                                       elevation=10, azimuth=-90)

    def _apply_visibility(self) -> None:
        overlay = self.state.overlay
        shown = {"gt": overlay.show_gt, "prediction": overlay.show_prediction, "label": overlay.show_label}
        for layer, item in self.items.items():
            item.setVisible(shown[layer])  # type: ignore[attr-defined]  # a GLMeshItem
