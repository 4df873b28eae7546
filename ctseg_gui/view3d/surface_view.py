"""The 3D pane: liver surface meshes of the ground truth, the prediction and the edited label.

Meshes (``ctseg_core.surface.meshing.surface_mesh``, in LPS mm, within the renderer's triangle budget)
are built on a worker (:mod:`~ctseg_gui.view3d.surface_jobs`) while the pane is on screen; the GUI thread
only uploads and draws them, in the overlay colours, as the checkboxes say. The prediction can be
coloured by its signed distance to the ground truth (:mod:`ctseg_core.surface.distance`), with
a colour bar. A click on a surface moves the crosshair there (:mod:`~ctseg_gui.view3d.picker`).
Without OpenGL the pane is a label saying why (:mod:`~ctseg_gui.view3d.pane`).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from ctseg_core.display import palette
from ctseg_core.metrics import format_metric
from ctseg_core.surface.distance import DEFAULT_LIMIT_MM, SurfaceError
from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.picking import Pick, point_of_voxel, voxel_of_point
from ctseg_gui.jobs.workers import JobRunner
from ctseg_gui.state.editor import EditorState
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.view3d.colour_bar import DistanceColourBar, distance_checkbox
from ctseg_gui.view3d.gl_items import CrosshairDot, aim_camera, headlight_shader, make_gl_view, mesh_data
from ctseg_gui.view3d.gl_probe import surface_triangle_budget
from ctseg_gui.view3d.picker import ClickPicker
from ctseg_gui.view3d.surface_jobs import SurfaceBuild, build_surface, measure_error
from ctseg_gui.widgets.plain_text import data_label

LAYERS = ("gt", "prediction", "label")
COLOURS = {"gt": palette.GROUND_TRUTH, "prediction": palette.PREDICTION, "label": palette.EDITED_LABEL}
#: Edits are meshed again this long after the last stroke (a stroke is not worth a mesh each).
LABEL_DELAY_MS = 800
DISTANCE_JOB = "mesh:distance"


class SurfaceView(QWidget):
    """A GL view with one mesh item per layer, rebuilt on a worker when its mask changes.

    With "colour by distance" on, the prediction is drawn in the colours of its signed distance
    to the ground-truth surface, with a colour bar; the ground-truth surface is then not drawn
    (the under-segmented, blue parts lie inside it). A click (no drag) on a surface moves the
    crosshair to the voxel there; a yellow dot marks the crosshair in 3D.
    """

    meshReady = Signal(str)  # layer name, once its mesh is shown
    errorReady = Signal()  # the distance colouring of the prediction is shown
    picked = Signal(object)  # the Pick a click landed on, or None when it hit no surface

    def __init__(
        self, state: ViewerState, editor: EditorState, runner: JobRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        import pyqtgraph.opengl as gl  # loads OpenGL: only once make_3d_pane found it works

        self._gl = gl
        self.state, self.editor, self.runner = state, editor, runner
        self.limit_mm = DEFAULT_LIMIT_MM
        self.max_triangles = surface_triangle_budget()  # fewer on software OpenGL: frames under 50 ms
        self.gl_view, self.gl_container = make_gl_view(self)  # a window of its own: see make_gl_view
        self.gl_view.setBackgroundColor("k")
        self.picker = ClickPicker(self.gl_view, runner, self._visible_meshes, partial(self._failed, "picking"))
        self.picker.picked.connect(self._on_picked)
        self._make_controls()
        self._arrange()
        self.builds: dict[str, SurfaceBuild] = {}
        self.items: dict[str, object] = {}
        self.error: SurfaceError | None = None  # the distance colouring of the prediction shown
        self.crosshair_dot = CrosshairDot(self.gl_view)
        self._dirty: set[str] = set(LAYERS)
        self._label_timer = QTimer(self)
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(LABEL_DELAY_MS)
        self._label_timer.timeout.connect(lambda: self.invalidate("label"))
        self._follow(state, editor)
        self._sync_colouring_enabled()

    def _make_controls(self) -> None:
        """The distance-colouring checkbox and its colour bar, and the status line under the view."""
        self.colour_by_distance = distance_checkbox(self.limit_mm)
        self.colour_by_distance.toggled.connect(self._on_colouring_toggled)
        self.colour_bar = DistanceColourBar(self.limit_mm)
        self.colour_bar.hide()
        self.status = data_label("")
        self.status.setStyleSheet("color: #9a9a9a; font-size: 11px;")
        self.status.setWordWrap(True)
        # A fixed height: a new status text must not resize the GL view, which would redraw every mesh
        # (with Mesa's software OpenGL, tens of ms on the GUI thread while the worker meshes).
        self.status.setFixedHeight(2 * self.status.fontMetrics().lineSpacing() + 4)

    def _arrange(self) -> None:
        """The checkbox above the GL view and its colour bar, the status line below."""
        view_row = QHBoxLayout()
        view_row.setContentsMargins(0, 0, 0, 0)
        view_row.setSpacing(0)
        view_row.addWidget(self.gl_container, 1)
        view_row.addWidget(self.colour_bar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.colour_by_distance)
        layout.addLayout(view_row, 1)
        layout.addWidget(self.status)

    def _follow(self, state: ViewerState, editor: EditorState) -> None:
        """Mesh a layer again when its mask changes; show and hide layers as the overlay settings say."""
        state.patientChanged.connect(lambda: self.invalidate(*LAYERS))
        state.masksChanged.connect(lambda: self.invalidate("gt", "prediction"))
        state.overlayChanged.connect(self._apply_visibility)
        state.crosshairChanged.connect(self._move_dot)
        editor.labelChanged.connect(lambda: self.invalidate("label"))
        editor.labelEdited.connect(lambda _slices: self._label_timer.start())

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

    def settled(self) -> bool:
        """No surface waits to be built or is being built (a scripted screenshot waits for this)."""
        idle = not any(self.runner.running(f"mesh:{layer}") for layer in LAYERS)
        return idle and (not self._dirty or self.state.patient is None)  # no patient: nothing to build

    def invalidate(self, *layers: str) -> None:
        """Mesh these layers again (now if the pane is on screen, else when it is shown)."""
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
            self.runner.start(
                f"mesh:{layer}",
                partial(build_surface, volume, affine, self.max_triangles),
                on_success=partial(self._show, layer),
                on_failure=partial(self._failed, layer),
            )

    def _failed(self, layer: str, error: BaseException) -> None:
        self.status.setText(f"{layer} surface failed: {error}")

    def _show(self, layer: str, build: SurfaceBuild | None) -> None:
        old = self.items.pop(layer, None)
        if old is not None:
            self.gl_view.removeItem(old)
        self.builds.pop(layer, None)
        if build is not None and build.mesh.triangle_count:
            red, green, blue = (c / 255 for c in COLOURS[layer])
            item = self._gl.GLMeshItem(
                meshdata=mesh_data(build.mesh, build.normals),
                color=(red, green, blue, 1.0),
                smooth=True,
                shader=headlight_shader(),
                glOptions="opaque",
            )
            self.gl_view.addItem(item)
            self.items[layer], self.builds[layer] = item, build
            if len(self.builds) == 1:
                aim_camera(self.gl_view, build.mesh)
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
            text += (
                f"\nprediction → ground truth: mean |d| {self.error.mean_abs_mm:.1f} mm "
                f"(ASSD {format_metric(assd, 1)} mm), 95 % {self.error.p95_abs_mm:.1f} mm, "
                f"from {low:+.1f} to {high:+.1f} mm"
            ).replace("-", "−")
        self.status.setText(text)

    def _apply_visibility(self) -> None:
        overlay = self.state.overlay
        colouring = self.error is not None and self.colour_by_distance.isChecked()
        shown = {
            "gt": overlay.show_gt and not colouring,
            "prediction": overlay.show_prediction,
            "label": overlay.show_label,
        }
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
        self.runner.start(
            DISTANCE_JOB,
            partial(measure_error, build.mesh, gt.copy(), patient.geometry.affine_lps(), self.limit_mm),
            on_success=self._show_error,
            on_failure=partial(self._failed, "distance colouring"),
        )

    def _show_error(self, result: tuple[SurfaceError, np.ndarray]) -> None:
        error, colours = result
        build = self.builds.get("prediction")
        if build is None or error.mesh is not build.mesh:  # a newer prediction mesh came meanwhile
            return
        self.error = error
        if self.colour_by_distance.isChecked():
            self._paint_prediction(colours)
        self._apply_visibility()
        self._show_summary()
        self.errorReady.emit()

    def _drop_error(self) -> None:
        self.runner.cancel(DISTANCE_JOB)
        self.error = None

    def _paint_prediction(self, colours: np.ndarray | None) -> None:
        build, item = self.builds.get("prediction"), self.items.get("prediction")
        if build is not None and item is not None:
            item.setMeshData(meshdata=mesh_data(build.mesh, build.normals, colours))  # type: ignore[attr-defined]  # a GLMeshItem

    # ---------------------------------------------------------------- click to crosshair

    def _visible_meshes(self) -> dict[str, Mesh]:
        return {layer: self.builds[layer].mesh for layer, item in self.items.items() if item.visible()}  # type: ignore[attr-defined]  # a GLMeshItem

    def _on_picked(self, hit: tuple[str, Pick] | None) -> None:
        patient = self.state.patient
        if hit is not None and patient is not None:
            layer, pick = hit
            voxel = voxel_of_point(pick.point, patient.geometry.affine_lps(), patient.shape)
            self.state.set_position(voxel)
            text = f"crosshair → slice {voxel[0] + 1}, row {voxel[1] + 1}, column {voxel[2] + 1} ({layer})"
            error = self.error if self.colour_by_distance.isChecked() and layer == "prediction" else None
            if error is not None and error.mesh is self.builds[layer].mesh:  # the face's corners' mean distance
                distance = float(error.distances_mm[error.mesh.faces[pick.face]].mean())
                text += f"; {distance:+.1f} mm from the ground truth there".replace("-", "−")
            self.status.setText(text)
        self.picked.emit(None if hit is None else hit[1])

    def _move_dot(self, voxel: tuple[int, int, int]) -> None:
        if self.state.patient is not None:
            self.crosshair_dot.move_to(point_of_voxel(voxel, self.state.patient.geometry.affine_lps()))
