"""Closed surface meshes of masks in patient space (LPS mm), distances to a reference, and files.

Pipeline of :func:`surface_mesh`: the mask is cropped to its bounding box with a 1-voxel pad of
background (so the surface closes even where the mask touches the edge of the CT), meshed by
marching cubes (scikit-image, Lewiner) at the 0.5 level in voxel indices (a hair below,
so voxels touching along an edge stay one closed surface), mapped to LPS mm with
the CT's affine (anisotropic spacing and any orientation), smoothed by Taubin's λ|μ filter
(which, unlike plain Laplacian smoothing, keeps the enclosed volume: the staircase of 2.5 mm
slices goes, the liver does not shrink), decimated by quadric edge collapse
(``fast-simplification``) to at most ``max_triangles``, and oriented so every face normal
points out of the mask. The enclosed volume stays within 3 % of voxel count × voxel volume.

Coordinates in files (what 3D Slicer expects). Slicer keeps models in RAS internally, but since
Slicer 4.11 (Preview 2020-02-26, r28794) it *writes* model files in LPS and *assumes LPS* for a
mesh file that does not say otherwise. Every model file Slicer writes carries the space in its
header: ``SPACE=LPS`` (or ``SPACE=RAS``) in the 80-byte STL header, the OBJ leading comment and
a PLY ``comment`` line; when reading, ``vtkMRMLModelStorageNode`` looks for exactly the strings
``SPACE=RAS`` / ``SPACE=LPS`` in that header and uses the space named there, falling back to
its default (LPS) when neither is present (Slicer's ``vtkMRMLModelStorageNode.cxx``,
``GetCoordinateSystemFromFileHeader``; announcement "Model files are now saved in LPS
coordinate system", discourse.slicer.org/t/10446). So :func:`write_mesh` writes LPS with
``SPACE=LPS`` by default — the CT's own DICOM coordinates, which Slicer places on the CT —
and ``space="RAS"`` writes x and y negated with ``SPACE=RAS``, which Slicer also places
correctly and which suits tools that expect RAS. Units are millimetres in both.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage, sparse

from ctseg_core.errors import CtsegError
from ctseg_core.io.atomic import atomic_path
from ctseg_core.metrics import surface
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

#: Taubin's smoothing factors: λ shrinks, μ (slightly larger, negative) inflates back.
#: Pass-band 1/λ + 1/μ ≈ 0.1: the voxel staircase is removed, the shape kept.
TAUBIN_LAMBDA = 0.5
TAUBIN_MU = -0.53

#: Iso-level for marching cubes on a 0/1 mask. Exactly 0.5 is degenerate where two voxels touch
#: only along an edge (the face saddle equals the level) and Lewiner's cases then share that
#: edge between four triangles; a hair below 0.5 joins such voxels with a thin tube instead,
#: so the surface stays a closed 2-manifold. It moves vertices by 0.001 voxel.
MARCHING_CUBES_LEVEL = 0.499

Space = Literal["LPS", "RAS"]
MESH_SUFFIXES = (".stl", ".obj", ".ply")


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle surface in patient space.

    ``vertices`` (n, 3) float32 in LPS mm; ``faces`` (m, 3) int32 indices into ``vertices``,
    counter-clockwise seen from outside (right-hand normals point out of the mask).
    """

    vertices: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        faces = np.ascontiguousarray(self.faces, dtype=np.int32).reshape(-1, 3)
        vertices.flags.writeable = False
        faces.flags.writeable = False
        object.__setattr__(self, "vertices", vertices)
        object.__setattr__(self, "faces", faces)

    @property
    def triangle_count(self) -> int:
        return int(self.faces.shape[0])

    def volume_ml(self) -> float:
        """Enclosed volume in mL, from the signed tetrahedron sum (positive for outward faces)."""
        return _signed_volume_mm3(self.vertices, self.faces) / 1000.0

    def is_watertight(self) -> bool:
        """True when the surface is closed and consistently wound.

        Every directed edge occurs once and its reverse once: each edge borders exactly two
        faces that agree on orientation, so there is no hole, no fin and no flipped face.
        """
        if self.triangle_count == 0:
            return False
        directed = _directed_edges(self.faces)
        low = directed.min(axis=1)
        high = directed.max(axis=1)
        forward = directed[:, 0] < directed[:, 1]
        keys = low * np.int64(self.vertices.shape[0]) + high
        order = np.argsort(keys, kind="stable")
        keys, forward = keys[order], forward[order]
        if keys.size % 2:
            return False
        paired = keys[0::2] == keys[1::2]  # every edge comes in a pair ...
        alone = keys[1::2][:-1] != keys[2::2]  # ... and in no more than one pair ...
        opposite = forward[0::2] != forward[1::2]  # ... run once in each direction
        return bool(paired.all() and alone.all() and opposite.all())

    def face_normals(self) -> np.ndarray:
        """Unit normal of each face (m, 3), pointing out of the mask."""
        v = self.vertices.astype(np.float64)
        cross = np.cross(v[self.faces[:, 1]] - v[self.faces[:, 0]], v[self.faces[:, 2]] - v[self.faces[:, 0]])
        length = np.linalg.norm(cross, axis=1, keepdims=True)
        return (cross / np.where(length > 0, length, 1.0)).astype(np.float32)

    def vertex_normals(self) -> np.ndarray:
        """Area-weighted unit normal of each vertex (n, 3), for smooth shading."""
        v = self.vertices.astype(np.float64)
        cross = np.cross(v[self.faces[:, 1]] - v[self.faces[:, 0]], v[self.faces[:, 2]] - v[self.faces[:, 0]])
        normals = np.zeros_like(v)
        for corner in range(3):
            np.add.at(normals, self.faces[:, corner], cross)
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        return (normals / np.where(length > 0, length, 1.0)).astype(np.float32)


# --------------------------------------------------------------------------- mesh geometry


def _directed_edges(faces: np.ndarray) -> np.ndarray:
    """(3m, 2) int64 directed edges of the faces, in winding order."""
    f = faces.astype(np.int64)
    return np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])


def _signed_volume_mm3(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Σ v0·(v1×v2)/6 over faces (mm³); positive when the faces wind outward."""
    v = vertices.astype(np.float64)
    v = v - v.mean(axis=0) if len(v) else v  # centring keeps float error small far from the origin
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0)


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice]:
    """Smallest [z, y, x] box holding every voxel of a non-empty mask."""
    box = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(mask.any(axis=others))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return box[0], box[1], box[2]


def index_to_lps(points_zyx: np.ndarray, affine_lps: np.ndarray) -> np.ndarray:
    """Map (z, y, x) voxel indices to LPS mm with an affine on (x, y, z, 1)."""
    xyz = points_zyx[:, ::-1].astype(np.float64)
    return xyz @ affine_lps[:3, :3].T + affine_lps[:3, 3]


def lps_to_index(points_lps: np.ndarray, affine_lps: np.ndarray) -> np.ndarray:
    """Map LPS mm to fractional (z, y, x) voxel indices (inverse of :func:`index_to_lps`)."""
    inverse = np.linalg.inv(affine_lps)
    xyz = points_lps.astype(np.float64) @ inverse[:3, :3].T + inverse[:3, 3]
    return xyz[:, ::-1]


def spacing_from_affine(affine_lps: np.ndarray) -> tuple[float, float, float]:
    """Voxel spacing (dz, dy, dx) in mm: the lengths of the affine's z, y and x columns."""
    affine = np.asarray(affine_lps, dtype=np.float64)
    dx, dy, dz = (float(np.linalg.norm(affine[:3, i])) for i in range(3))
    return dz, dy, dx


def _check_affine(affine_lps: np.ndarray) -> np.ndarray:
    affine = np.asarray(affine_lps, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f"affine_lps must be 4×4, got shape {affine.shape}")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ValueError("affine_lps is singular")
    return affine


def _check_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask) > 0
    if mask.ndim != 3:
        raise ValueError(f"mask must be 3D [z, y, x], got shape {mask.shape}")
    return mask


def _uniform_laplacian(faces: np.ndarray, count: int) -> sparse.csr_matrix:
    """Row-normalised vertex adjacency W: (W v)[i] is the mean of i's neighbours."""
    edges = _directed_edges(faces)
    adjacency = sparse.csr_matrix(
        (np.ones(len(edges), dtype=np.float64), (edges[:, 0], edges[:, 1])), shape=(count, count)
    )
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64).tocsr()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return sparse.diags(1.0 / np.maximum(degree, 1.0)) @ adjacency


def taubin_smooth(
    vertices: np.ndarray,
    faces: np.ndarray,
    iterations: int,
    *,
    should_cancel: CancelCheck | None = None,
) -> np.ndarray:
    """Taubin λ|μ smoothing (SIGGRAPH 1995) of vertex positions; faces are unchanged.

    Each iteration moves every vertex λ of the way to its neighbours' mean, then μ (< 0) back,
    which removes the voxel staircase without the shrinkage of plain Laplacian smoothing.
    """
    v = vertices.astype(np.float64, copy=True)
    if iterations <= 0 or len(faces) == 0:
        return v
    mean_of_neighbours = _uniform_laplacian(faces, len(v))
    for _ in range(iterations):
        raise_if_cancelled(should_cancel)
        v += TAUBIN_LAMBDA * (mean_of_neighbours @ v - v)
        v += TAUBIN_MU * (mean_of_neighbours @ v - v)
    return v


def _compact(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop degenerate faces (repeated vertex) and vertices no face uses."""
    f = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])]
    used, inverse = np.unique(f, return_inverse=True)
    return vertices[used], inverse.reshape(-1, 3)


def _remove_fins(faces: np.ndarray) -> np.ndarray:
    """Drop every face whose three vertices another face also uses.

    An edge collapse now and then folds two triangles onto each other (same corners, opposite
    winding): a zero-volume fin whose hinge edge then borders four faces. Removing both halves
    of the fin leaves the surface around it closed.
    """
    corners = np.sort(faces.astype(np.int64), axis=1)
    order = np.lexsort((corners[:, 2], corners[:, 1], corners[:, 0]))
    ordered = corners[order]
    same_as_next = (ordered[1:] == ordered[:-1]).all(axis=1)
    repeated = np.zeros(len(faces), dtype=bool)
    repeated[1:] |= same_as_next
    repeated[:-1] |= same_as_next
    keep = np.ones(len(faces), dtype=bool)
    keep[order[repeated]] = False
    return faces[keep]


def exposed_faces(mask: np.ndarray) -> tuple[int, int, int]:
    """Voxel faces between the mask and the background facing z, y and x (the grid's edge counts as background)."""
    padded = np.pad(mask, 1)
    return tuple(int(np.count_nonzero(np.diff(padded, axis=axis))) for axis in range(3))  # type: ignore[return-value]


def in_plane_factor(mask: np.ndarray, max_triangles: int) -> int:
    """The smallest in-plane block size f (1 = full resolution) whose surface fits ``max_triangles``.

    Marching cubes of a binary mask makes exactly two triangles per exposed voxel face (measured on
    phantom livers, spleens and tumours), and averaging f × f blocks in-plane divides the faces
    facing z by f² and the others by f. So a tight budget (the 3D view on software OpenGL) is met
    by meshing a coarser grid rather than by decimating: fast-simplification holds Python's GIL
    for its whole run (0.3 s for a liver, 227 k → 60 k triangles), which froze the GUI thread
    while a worker meshed. Past the full-resolution count the estimate keeps a 20 % margin, so
    decimation is a rare backstop.
    """
    along_z, along_y, along_x = exposed_faces(mask)
    if 2 * (along_z + along_y + along_x) <= max_triangles:
        return 1
    for factor in range(2, 9):
        if 2 * (along_z / factor**2 + (along_y + along_x) / factor) <= 0.8 * max_triangles:
            return factor
    return 8


#: Most share of the mask's volume the block means may lose (thin or scattered structures) before a
#: finer grid is used.
COARSE_VOLUME_TOLERANCE = 0.03


def coarse_grid(mask: np.ndarray, max_triangles: int) -> tuple[int, np.ndarray]:
    """The in-plane block size and its float32 block means to mesh, for ``max_triangles``.

    :func:`in_plane_factor` picks the size; a finer one is taken while the coarse grid would lose
    more than :data:`COARSE_VOLUME_TOLERANCE` of the volume (speckle, thin plates, a one-voxel
    brush stroke fade below the level in big blocks), down to full resolution and decimation.
    """
    voxels = int(np.count_nonzero(mask))
    for factor in range(in_plane_factor(mask, max_triangles), 1, -1):
        grid = _block_mean_in_plane(mask, factor)
        kept = int(np.count_nonzero(grid > MARCHING_CUBES_LEVEL)) * factor * factor
        if abs(kept - voxels) <= COARSE_VOLUME_TOLERANCE * voxels:
            return factor, grid
    return 1, mask.astype(np.float32)


def _block_mean_in_plane(mask: np.ndarray, factor: int) -> np.ndarray:
    """float32 mean of ``factor`` × ``factor`` in-plane blocks (the edge blocks padded with background)."""
    depth, rows, columns = mask.shape
    padded = np.zeros((depth, -(-rows // factor) * factor, -(-columns // factor) * factor), np.float32)
    padded[:, :rows, :columns] = mask
    blocks = padded.reshape(depth, padded.shape[1] // factor, factor, padded.shape[2] // factor, factor)
    return blocks.mean(axis=(2, 4), dtype=np.float32)


def _decimate(vertices: np.ndarray, faces: np.ndarray, max_triangles: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge-collapse decimation (fast-simplification) to at most ``max_triangles`` faces.

    The result is kept only when it is closed and consistently wound; otherwise the collapse
    is redone with another target and aggressiveness, and if every try leaks, the undecimated
    (closed) surface is returned: a heavier mesh is better than a leaky one.
    """
    import fast_simplification

    attempts = ((0.98, 7.0), (0.9, 7.0), (0.98, 5.0), (0.8, 5.0))
    for fraction, aggressiveness in attempts:
        points, triangles = fast_simplification.simplify(
            np.array(vertices, dtype=np.float64, order="C"),  # copies: the simplifier needs writable input
            np.array(faces, dtype=np.int32, order="C"),
            target_count=max(4, int(max_triangles * fraction)),
            agg=aggressiveness,
        )
        points, triangles = _compact(np.asarray(points), _remove_fins(np.asarray(triangles)))
        if len(triangles) <= max_triangles and Mesh(points, triangles).is_watertight():
            return points, triangles
    return vertices, faces


#: Voxels per marching-cubes call. scikit-image's marching cubes holds Python's GIL for the whole
#: call (0.2 s for a liver in one piece), which would freeze a GUI thread while a worker meshes;
#: slabs of about this size keep each hold near 20 ms (measured ≈ 60 ms per million voxels of a liver box).
SLAB_VOXELS = 400_000


def _marching_cubes_in_slabs(
    volume: np.ndarray, should_cancel: CancelCheck | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes (Lewiner) of a float volume in z slabs that share their boundary planes.

    Every cube lies in exactly one slab, and a cube's triangles depend on its 8 corners alone, so
    the slabs' surfaces fit together; the vertices on a shared plane come out twice, with
    bit-identical coordinates (same two corner values, same interpolation), and are merged. Only
    vertices on in-plane edges have an integer z (the level is not 0 or 1), so the merge looks at
    those alone. Returns (z, y, x) vertices in voxel indices and faces, as one call would.
    """
    from skimage.measure import marching_cubes

    depth = volume.shape[0]
    planes = max(2, SLAB_VOXELS // max(1, volume.shape[1] * volume.shape[2]))
    starts = list(range(0, depth - 1, planes - 1))
    vertex_parts, face_parts, count = [], [], 0
    for start in starts:
        raise_if_cancelled(should_cancel)
        stop = min(start + planes, depth)
        if stop - start < 2 or not (volume[start:stop] > MARCHING_CUBES_LEVEL).any():
            continue
        verts, faces, _normals, _values = marching_cubes(
            volume[start:stop], level=MARCHING_CUBES_LEVEL, allow_degenerate=False
        )
        verts[:, 0] += start
        vertex_parts.append(verts)
        face_parts.append(faces + count)
        count += len(verts)
    if not vertex_parts:
        raise CtsegError(None, "the mask has no surface at the marching-cubes level: nothing to mesh")
    vertices = np.concatenate(vertex_parts)
    faces = np.concatenate(face_parts)
    if len(vertex_parts) == 1:
        return vertices, faces
    shared = np.isin(vertices[:, 0], np.asarray(starts[1:], dtype=vertices.dtype))
    index = np.flatnonzero(shared)
    _unique, first, inverse = np.unique(vertices[index], axis=0, return_index=True, return_inverse=True)
    mapping = np.arange(len(vertices))
    mapping[index] = index[first[inverse.ravel()]]
    faces = mapping[faces]
    used, compact = np.unique(faces, return_inverse=True)
    return vertices[used], compact.reshape(-1, 3).astype(np.int32)


def surface_mesh(
    mask: np.ndarray,
    affine_lps: np.ndarray,
    *,
    smooth_iterations: int = 20,
    max_triangles: int = 300_000,
    coarsen: bool = False,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Mesh:
    """Closed, smoothed, outward-oriented surface of a [z, y, x] mask, in LPS mm.

    ``affine_lps`` maps (x, y, z, 1) voxel indices to LPS mm (``VolumeGeometry.affine_lps()``).
    The enclosed volume stays within 3 % of the mask's voxel volume for organ- and lesion-sized
    shapes (tested on spheres, anisotropic ellipsoids, non-convex shapes and a liver-sized
    blob; islands of a voxel or two come out smaller, as their corners are cut). A mask
    touching the edge of the grid still gives a closed surface. The result has at most
    ``max_triangles`` faces unless no decimation could keep the surface closed, in which case
    the closed, undecimated surface is returned. A budget far below the full-resolution surface
    is met by decimation, or with ``coarsen`` (the 3D view, whose worker must not hold the GIL)
    first by meshing in-plane block means (:func:`coarse_grid`), then by decimation.
    Raises :class:`CtsegError` for an empty mask.
    """
    mask = _check_mask(mask)
    affine = _check_affine(affine_lps)
    if max_triangles < 4:
        raise ValueError(f"max_triangles must be at least 4 (a tetrahedron), got {max_triangles}")
    report = progress or (lambda done, total, stage: None)
    total = 4
    if not mask.any():
        raise CtsegError(None, "the mask is empty: there is no surface to mesh")

    report(0, total, "marching cubes")
    box = _bounding_box(mask)
    factor, grid = coarse_grid(mask[box], max_triangles) if coarsen else (1, mask[box].astype(np.float32))
    padded = np.pad(grid, 1)
    del grid
    verts_zyx, faces = _marching_cubes_in_slabs(padded, should_cancel)
    verts_zyx -= 1.0  # the padding
    verts_zyx[:, 1:] = verts_zyx[:, 1:] * factor + (factor - 1) / 2.0  # block centres, in voxels of the box
    offset = np.array([s.start for s in box], dtype=np.float64)
    vertices = index_to_lps(verts_zyx + offset, affine)
    del padded, verts_zyx
    raise_if_cancelled(should_cancel)

    report(1, total, "smoothing")
    vertices = taubin_smooth(vertices, faces, smooth_iterations, should_cancel=should_cancel)
    raise_if_cancelled(should_cancel)

    report(2, total, "decimating")
    if len(faces) > max_triangles:
        vertices, faces = _decimate(vertices, faces, max_triangles)
    raise_if_cancelled(should_cancel)

    report(3, total, "orienting")
    # The index→LPS mapping swaps axis order (z, y, x → x, y, z) and may mirror, so the
    # winding marching cubes chose is only known up to sign: fix it by the enclosed volume.
    if _signed_volume_mm3(vertices, faces) < 0:
        faces = faces[:, ::-1]
    report(total, total, "done")
    return Mesh(vertices, faces)


# --------------------------------------------------------------------------- distances


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
    affine = _check_affine(affine_lps)
    reference = _check_mask(reference_mask)
    points = np.asarray(points_lps, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        return np.zeros(0, dtype=np.float64)
    if not reference.any():
        return np.full(len(points), math.nan)

    index = lps_to_index(points, affine)
    box = _bounding_box(reference)
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


# --------------------------------------------------------------------------- files


def _header_tag(space: Space) -> str:
    return f"SPACE={space}"


def _in_space(mesh: Mesh, space: Space) -> np.ndarray:
    """Vertices (float32) in the file's space: LPS as stored, or RAS (x, y negated).

    Negating two axes is a rotation, so face winding and outward normals survive it.
    """
    if space == "LPS":
        return mesh.vertices
    return mesh.vertices * np.array([-1.0, -1.0, 1.0], dtype=np.float32)


def _write_stl(vertices: np.ndarray, faces: np.ndarray, target: Path, space: Space) -> None:
    """Binary STL; the 80-byte header names the space as Slicer does (never starts 'solid')."""
    header = f"ctseg surface mesh, mm. {_header_tag(space)}".encode("ascii").ljust(80, b"\0")
    record = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])
    data = np.zeros(len(faces), dtype=record)
    corners = vertices[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]).astype(np.float64)
    length = np.linalg.norm(cross, axis=1, keepdims=True)
    data["normal"] = cross / np.where(length > 0, length, 1.0)
    data["corners"] = corners
    with open(target, "wb") as handle:
        handle.write(header)
        handle.write(struct.pack("<I", len(faces)))
        handle.write(data.tobytes())


def _write_obj(vertices: np.ndarray, faces: np.ndarray, target: Path, space: Space) -> None:
    """Wavefront OBJ; the leading comment names the space (Slicer reads it from there)."""
    with open(target, "w", encoding="ascii", newline="\n") as handle:
        handle.write(f"# ctseg surface mesh, mm. {_header_tag(space)}\n")
        chunk = 65536  # one %-format per chunk: ten times faster than np.savetxt's row loop
        for start in range(0, len(vertices), chunk):
            points = vertices[start : start + chunk].astype(np.float64)
            handle.write(("v %.5f %.5f %.5f\n" * len(points)) % tuple(points.ravel()))
        for start in range(0, len(faces), chunk):
            corners = faces[start : start + chunk].astype(np.int64) + 1  # OBJ counts from 1
            handle.write(("f %d %d %d\n" * len(corners)) % tuple(corners.ravel()))


def _write_ply(vertices: np.ndarray, faces: np.ndarray, target: Path, space: Space) -> None:
    """Binary little-endian PLY; a ``comment`` line names the space (Slicer reads comments)."""
    header = (
        "ply\n"
        "format binary_little_endian 1.0\n"
        f"comment ctseg surface mesh, mm. {_header_tag(space)}\n"
        f"element vertex {len(vertices)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        f"element face {len(faces)}\n"
        "property list uchar int vertex_indices\n"
        "end_header\n"
    )
    face_record = np.dtype([("count", "u1"), ("indices", "<i4", 3)])
    face_data = np.empty(len(faces), dtype=face_record)
    face_data["count"] = 3
    face_data["indices"] = faces
    with open(target, "wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(np.ascontiguousarray(vertices, dtype="<f4").tobytes())
        handle.write(face_data.tobytes())


_WRITERS = {".stl": _write_stl, ".obj": _write_obj, ".ply": _write_ply}


def write_mesh(mesh: Mesh, path: str | Path, *, space: Space = "LPS") -> Path:
    """Write a mesh as binary STL, OBJ or binary PLY (chosen by suffix), atomically, in mm.

    ``space="LPS"`` (default) writes the patient coordinates as they are; ``"RAS"`` negates x
    and y. Either way the header carries ``SPACE=LPS|RAS`` so 3D Slicer places the model on
    the CT (see the module docstring). Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _WRITERS:
        raise CtsegError(path, f"unknown mesh format {path.suffix or '(no suffix)'}: use .stl, .obj or .ply")
    if space not in ("LPS", "RAS"):
        raise ValueError(f"space must be 'LPS' or 'RAS', got {space!r}")
    if mesh.triangle_count == 0:
        raise CtsegError(path, "the mesh has no triangles: nothing to write")
    vertices = _in_space(mesh, space)
    try:
        with atomic_path(path, suffix=suffix) as temporary:
            _WRITERS[suffix](vertices, mesh.faces, temporary, space)
    except OSError as error:
        raise CtsegError(path, f"cannot write the mesh: {error.strerror or error}") from error
    return path
