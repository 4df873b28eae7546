"""The 3D pane's worker jobs: a layer's surface, the prediction's distance colouring, a ray pick.

Each is ``work(..., progress, should_cancel)`` for :class:`~ctseg_gui.jobs.workers.JobRunner` and
calls the core; nothing here touches Qt, so the GUI thread only uploads and draws.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_core.surface.distance import SurfaceError, diverging_rgba, surface_error
from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.meshing import surface_mesh
from ctseg_core.surface.picking import Pick, Ray, pick_surface


@dataclass(frozen=True, eq=False)
class SurfaceBuild:
    """A worker's mesh of one layer, with the vertex normals for smooth shading and the time it took."""

    mesh: Mesh
    normals: np.ndarray
    volume_ml: float
    seconds: float


def build_surface(
    mask: np.ndarray, affine: np.ndarray, max_triangles: int, progress: ProgressCallback, cancel: CancelCheck
) -> SurfaceBuild:
    """A worker's job: the surface of one mask (the worker's own copy), in LPS mm, and its normals.

    The normals are computed here because pyqtgraph's ``MeshData.vertexNormals`` loops over the
    vertices in Python inside the first paint: 3 s on the GUI thread for a liver. The volume too
    (0.1 s for a liver's mesh, too long for the GUI thread). ``max_triangles`` is the renderer's
    budget (``gl_probe.surface_triangle_budget``).
    """
    started = time.perf_counter()
    mesh = surface_mesh(
        mask, affine, max_triangles=max_triangles, coarsen=True, progress=progress, should_cancel=cancel
    )
    normals = mesh.vertex_normals()
    return SurfaceBuild(mesh, normals, mesh.volume_ml(), time.perf_counter() - started)


def measure_error(
    mesh: Mesh, gt: np.ndarray, affine: np.ndarray, limit_mm: float, _progress: ProgressCallback, _cancel: CancelCheck
) -> tuple[SurfaceError, np.ndarray]:
    """A worker's job: the prediction's signed distances to the ground-truth surface, and their colours."""
    error = surface_error(mesh, gt, affine)
    return error, diverging_rgba(error.distances_mm, limit_mm)


def pick_nearest(
    meshes: dict[str, Mesh], ray: Ray, _progress: ProgressCallback, _cancel: CancelCheck
) -> tuple[str, Pick] | None:
    """A worker's job: the layer and point where ``ray`` first meets one of ``meshes`` (0.15 s for a liver)."""
    picks = [
        (layer, pick)
        for layer, pick in ((layer, pick_surface(mesh, ray)) for layer, mesh in meshes.items())
        if pick is not None
    ]
    return min(picks, key=lambda hit: hit[1].distance, default=None)
