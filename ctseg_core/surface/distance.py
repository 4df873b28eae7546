"""Signed distance (mm) to a reference surface: the field, a mesh's error at its vertices, its colours.

Why: a predicted surface coloured by its distance to the ground-truth surface shows where a
segmentation is off and by how much. The distances are :func:`signed_distance_to_surface` at the
prediction mesh's vertices: Euclidean distance transforms, with the voxel spacing, to the reference's
SLIVER07 surface voxels (``metrics.surface``), which is what ASSD and HD95 in
:mod:`ctseg_core.metrics` measure at the prediction's surface voxels. So the colours and the
ASSD/HD95 readouts come from one distance field and agree (tested: the mean |distance| over the
surface matches ASSD's prediction→ground-truth half, on full and on decimated meshes).

ASSD averages over surface voxels, and a voxelised surface patch of area A and unit normal n (in
voxel axes) holds about A·max(|n_x|/(dy·dz), |n_y|/(dx·dz), |n_z|/(dx·dy)) of them (one per lattice
column along the axis the patch faces most): fewer per mm² on a face across thick slices. The
summaries give each vertex that voxel-equivalent weight (from the triangles around it), not one
vote per vertex: decimation leaves vertices dense where the surface bends and sparse where it is
flat, so a plain vertex mean would depend on the triangle budget (it read 3.49 mm where ASSD's
half is 3.86 mm on a phantom liver decimated to 60 k triangles).

Sign: positive outside the ground truth (the prediction over-segments there), negative inside
(under-segments). The colour map is diverging — blue (inside, under) … white (on the surface) …
red (outside, over) — and clamped at ±``limit_mm``, so a few far outliers do not wash out the
colours of the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ctseg_core.geometry import checked_affine, lps_to_index, spacing_from_affine
from ctseg_core.metrics import surface
from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.meshing import as_mask, bounding_box

#: Distances beyond ± this many mm get the end colours.
DEFAULT_LIMIT_MM = 10.0

#: The diverging map's stops, from −limit to +limit (ColorBrewer RdBu, 5 classes, reversed so
#: red means "too much"): blue, light blue, near-white, light red, red; 0–255 RGB.
DIVERGING_STOPS = (
    np.array([(33, 102, 172), (103, 169, 207), (247, 247, 247), (239, 138, 98), (178, 24, 43)], dtype=np.float64)
    / 255.0
)
#: Colour of a vertex whose distance is unknown (no reference surface).
UNKNOWN_RGB = (0.5, 0.5, 0.5)


def signed_distance_to_surface(
    points_lps: np.ndarray, reference_mask: np.ndarray, affine_lps: np.ndarray
) -> np.ndarray:
    """Signed distance (mm) from each LPS point to the reference mask's surface.

    Negative inside the reference, positive outside; NaN for every point when the reference is
    empty (no surface, as metrics.py). Measured as metrics.py measures surface distances:
    Euclidean distance transforms, with the voxel spacing, to the face-connected surface
    voxels — here taken from both sides of the boundary (the mask's own surface voxels and
    those of its complement) and averaged, so the zero lies on the boundary between voxel
    centres where :func:`surface_mesh` draws the surface, not half a voxel inside it. The
    field is sampled at the points by trilinear interpolation; points outside the CT grid are
    measured too (the grid is extended with background). Assumes orthogonal voxel axes.
    """
    affine = checked_affine(affine_lps)
    reference = as_mask(reference_mask)
    points = np.asarray(points_lps, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        return np.zeros(0, dtype=np.float64)
    if not reference.any():
        return np.full(len(points), math.nan)

    index = lps_to_index(points, affine)
    box = bounding_box(reference)
    low = np.minimum([s.start for s in box], np.floor(index.min(axis=0)).astype(int)) - 2
    high = np.maximum([s.stop for s in box], np.ceil(index.max(axis=0)).astype(int) + 1) + 2
    grid = np.zeros(tuple(int(n) for n in high - low), dtype=bool)
    src = tuple(slice(max(int(lo), 0), min(int(hi), n)) for lo, hi, n in zip(low, high, reference.shape, strict=False))
    dst = tuple(slice(s.start - int(lo), s.stop - int(lo)) for s, lo in zip(src, low, strict=False))
    grid[dst] = reference[src]

    spacing = spacing_from_affine(affine)
    inner = surface(grid)  # the surface voxels ASSD and HD95 measure to (metrics.py)
    structure = ndimage.generate_binary_structure(3, 1)
    outer = ndimage.binary_dilation(grid, structure=structure) & ~grid  # background touching it
    field = ndimage.distance_transform_edt(~inner, sampling=spacing)
    field += ndimage.distance_transform_edt(~outer, sampling=spacing)
    field *= 0.5
    field[grid] *= -1.0
    return ndimage.map_coordinates(field, (index - low).T, order=1, mode="nearest")


@dataclass(frozen=True, eq=False)
class SurfaceError:
    """Signed distance (mm) of each vertex of ``mesh`` to the reference surface, and its summary."""

    mesh: Mesh
    distances_mm: np.ndarray  # (n,) float32, one per vertex; NaN without a reference surface
    weights: np.ndarray  # (n,) float64: each vertex's voxel-equivalent share of the surface (see above)

    def _weighted_abs(self) -> tuple[np.ndarray, np.ndarray]:
        finite = np.isfinite(self.distances_mm)
        return np.abs(self.distances_mm[finite]).astype(np.float64), self.weights[finite]

    @property
    def mean_abs_mm(self) -> float:
        """Mean |distance| over the surface (compare with ASSD's prediction→reference half)."""
        distances, weights = self._weighted_abs()
        total = float(weights.sum())
        return float(np.dot(distances, weights) / total) if total > 0 else math.nan

    @property
    def p95_abs_mm(self) -> float:
        """95th percentile of |distance| over the surface (compare with HD95's directed half)."""
        distances, weights = self._weighted_abs()
        if not distances.size or weights.sum() <= 0:
            return math.nan
        order = np.argsort(distances)
        cumulative = np.cumsum(weights[order])
        return float(distances[order][np.searchsorted(cumulative, 0.95 * cumulative[-1])])

    @property
    def range_mm(self) -> tuple[float, float]:
        """(most negative, most positive) distance: deepest under- and farthest over-segmentation."""
        finite = self.distances_mm[np.isfinite(self.distances_mm)]
        return (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)


def surface_error(mesh: Mesh, reference_mask: np.ndarray, affine_lps: np.ndarray) -> SurfaceError:
    """Signed distances (mm) from every vertex of ``mesh`` (LPS mm) to the surface of ``reference_mask``.

    ``affine_lps`` maps (x, y, z, 1) voxel indices of ``reference_mask`` [z, y, x] to LPS mm.
    Takes about as long as one ASSD (two distance transforms over the masks' bounding box).
    """
    distances = signed_distance_to_surface(mesh.vertices, reference_mask, affine_lps)
    return SurfaceError(mesh, np.asarray(distances, dtype=np.float32), voxel_weights(mesh, affine_lps))


def voxel_weights(mesh: Mesh, affine_lps: np.ndarray) -> np.ndarray:
    """Each vertex's share of the surface in surface voxels of the ``affine_lps`` grid (see the module doc):
    a third of the voxel-equivalent weight of every triangle it is a corner of."""
    if mesh.triangle_count == 0:
        return np.zeros(len(mesh.vertices))
    corners = mesh.vertices[mesh.faces].astype(np.float64)  # (faces, 3 corners, LPS)
    doubled = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # normal × 2 · area
    steps = affine_lps[:3, :3].astype(np.float64)  # columns: one voxel step along x, y, z in LPS mm
    spacing = np.linalg.norm(steps, axis=0)  # (dx, dy, dz)
    along = np.abs(doubled @ (steps / spacing))  # 2·area·|n| in the voxel axes x, y, z
    face_area = np.array([spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1]])
    weight = 0.5 * (along / face_area).max(axis=1)
    return np.bincount(mesh.faces.ravel(), weights=np.repeat(weight / 3.0, 3), minlength=len(mesh.vertices))


def diverging_rgba(distances_mm: np.ndarray, limit_mm: float = DEFAULT_LIMIT_MM, alpha: float = 1.0) -> np.ndarray:
    """(n, 4) float32 RGBA in [0, 1] for signed distances: blue −limit … white 0 … red +limit.

    Distances beyond ±``limit_mm`` are clamped to the end colours; NaN is grey.
    """
    if not limit_mm > 0:
        raise ValueError(f"limit_mm must be positive, got {limit_mm}")
    values = np.asarray(distances_mm, dtype=np.float64).ravel()
    position = (np.clip(values, -limit_mm, limit_mm) / limit_mm + 1.0) / 2.0  # 0 … 1
    stops = np.linspace(0.0, 1.0, len(DIVERGING_STOPS))
    rgba = np.empty((values.size, 4), dtype=np.float32)
    for channel in range(3):
        rgba[:, channel] = np.interp(position, stops, DIVERGING_STOPS[:, channel])
    unknown = ~np.isfinite(values)
    rgba[unknown, :3] = UNKNOWN_RGB
    rgba[:, 3] = alpha
    return rgba


def colour_bar_ticks(limit_mm: float = DEFAULT_LIMIT_MM, count: int = 5) -> list[float]:
    """Evenly spaced tick values (mm) from −limit to +limit, for a colour bar."""
    return [float(v) for v in np.linspace(-limit_mm, limit_mm, count)]
