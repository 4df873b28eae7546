"""Picking a point on a surface mesh with a ray: what a click in a 3D view lands on.

:func:`ray_from_screen` turns a pointer position into a ray in the scene's coordinates (here
LPS mm) through the inverse of the view's model-view-projection matrix; :func:`pick_surface`
intersects it with every triangle at once (Möller–Trumbore, vectorised over the faces) and
returns the nearest hit in front of the camera; :func:`voxel_of_point` maps the hit to the CT
voxel, so a slice view can jump there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ctseg_core.geometry import index_to_lps, lps_to_index
from ctseg_core.surface.mesh import Mesh

#: Triangles seen edge-on (|det| below this, relative to the edge lengths) cannot be hit.
PARALLEL_EPSILON = 1e-9


@dataclass(frozen=True)
class Ray:
    """A half-line from ``origin`` along the unit vector ``direction`` (both (3,) float64)."""

    origin: np.ndarray
    direction: np.ndarray


@dataclass(frozen=True)
class Pick:
    """Where a ray first meets a mesh: the point, the face, and the distance along the ray."""

    point: np.ndarray  # (3,) float64, scene coordinates (LPS mm for our meshes)
    face: int
    distance: float


def ray_from_screen(mvp: np.ndarray, x: float, y: float, width: float, height: float) -> Ray:
    """The ray under pointer position (x, y) (pixels from the top left) of a ``width``×``height`` view.

    ``mvp`` is the 4×4 model-view-projection matrix acting on column vectors (x, y, z, 1): the
    pointer's normalised device position is unprojected on the near and far clip planes.
    """
    inverse = np.linalg.inv(np.asarray(mvp, dtype=np.float64))
    ndc_x = 2.0 * x / width - 1.0
    ndc_y = 1.0 - 2.0 * y / height
    ends = inverse @ np.array([[ndc_x, ndc_x], [ndc_y, ndc_y], [-1.0, 1.0], [1.0, 1.0]])
    near, far = (ends[:3] / ends[3]).T
    direction = far - near
    return Ray(near, direction / np.linalg.norm(direction))


def pick_surface(mesh: Mesh, ray: Ray) -> Pick | None:
    """The nearest point where ``ray`` meets a face of ``mesh`` in front of its origin, or None.

    Möller & Trumbore (1997), "Fast, minimum storage ray-triangle intersection", over all faces
    as arrays: about 0.15 s for a 250 000-triangle liver on a 2-core machine, so a GUI runs it
    on a worker. Both sides of a face count (a click may land
    on a surface seen from inside when the camera is within it).
    """
    if mesh.triangle_count == 0:
        return None
    vertices = mesh.vertices.astype(np.float64)
    origin = np.asarray(ray.origin, dtype=np.float64)
    direction = np.asarray(ray.direction, dtype=np.float64)
    v0 = vertices[mesh.faces[:, 0]]
    edge1 = vertices[mesh.faces[:, 1]] - v0
    edge2 = vertices[mesh.faces[:, 2]] - v0
    p = np.cross(direction, edge2)
    det = np.einsum("ij,ij->i", edge1, p)
    scale = np.linalg.norm(edge1, axis=1) * np.linalg.norm(edge2, axis=1)
    usable = np.abs(det) > PARALLEL_EPSILON * np.maximum(scale, 1e-30)
    inverse_det = np.divide(1.0, det, out=np.zeros_like(det), where=usable)
    to_origin = origin - v0
    u = np.einsum("ij,ij->i", to_origin, p) * inverse_det
    q = np.cross(to_origin, edge1)
    v = (q @ direction) * inverse_det
    t = np.einsum("ij,ij->i", edge2, q) * inverse_det
    hit = usable & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0) & (t > 0.0)
    if not hit.any():
        return None
    faces = np.flatnonzero(hit)
    nearest = int(faces[np.argmin(t[faces])])
    distance = float(t[nearest])
    return Pick(origin + distance * direction, nearest, distance)


def voxel_of_point(point_lps: np.ndarray, affine_lps: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The (z, y, x) voxel holding an LPS point (nearest voxel centre), clamped to a grid of ``shape``."""
    index = lps_to_index(np.asarray(point_lps, dtype=np.float64).reshape(1, 3), np.asarray(affine_lps))[0]
    z, y, x = (int(min(max(round(float(i)), 0), n - 1)) for i, n in zip(index, shape[:3], strict=True))
    return z, y, x


def point_of_voxel(voxel: tuple[int, int, int], affine_lps: np.ndarray) -> np.ndarray:
    """LPS position (mm, (3,) float64) of a (z, y, x) voxel's centre: where a 3D view marks the crosshair."""
    return index_to_lps(np.asarray(voxel, dtype=np.float64).reshape(1, 3), np.asarray(affine_lps))[0]
