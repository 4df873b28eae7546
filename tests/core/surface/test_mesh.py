"""Surface meshes: closed, outward, in the right place in LPS mm, with the mask's volume; signed
distances that read as millimetres of boundary error. (The mesh files: tests/core/export/test_mesh_files.py.)"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from ctseg_core.errors import Cancelled, CtsegError
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.surface.distance import signed_distance_to_surface
from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.meshing import bounding_box, coarse_grid, exposed_faces, in_plane_factor, surface_mesh

VOLUME_TOLERANCE = 0.03


def _geometry(spacing: tuple[float, float, float], *, flipped: bool = False) -> VolumeGeometry:
    """A CT-like geometry; ``flipped`` mirrors rows and columns (a feet-first / prone scan)."""
    sign = -1.0 if flipped else 1.0
    return VolumeGeometry(
        origin_mm=(-180.0, -160.0, -420.0),
        row_direction=(sign, 0.0, 0.0),
        column_direction=(0.0, sign, 0.0),
        spacing_mm=spacing,
    )


def _voxel_centres_lps(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """LPS position (mm) of every voxel centre, shape (*shape, 3)."""
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    index = np.stack([x, y, z], axis=-1)
    return index @ affine[:3, :3].T + affine[:3, 3]


def _ellipsoid(shape, affine, centre, radii) -> np.ndarray:
    points = _voxel_centres_lps(shape, affine)
    return (((points - np.asarray(centre)) / np.asarray(radii)) ** 2).sum(axis=-1) < 1.0


def _voxel_ml(mask: np.ndarray, spacing: tuple[float, float, float]) -> float:
    return float(mask.sum() * math.prod(spacing) / 1000.0)


def _assert_volume(mesh: Mesh, mask: np.ndarray, spacing: tuple[float, float, float]) -> None:
    expected = _voxel_ml(mask, spacing)
    assert mesh.volume_ml() == pytest.approx(expected, rel=VOLUME_TOLERANCE)


def _outward_fraction(mesh: Mesh, centre: np.ndarray) -> float:
    """Share of faces whose normal points away from ``centre`` (1.0 for a star-shaped body)."""
    centroids = mesh.vertices[mesh.faces].mean(axis=1)
    return float(np.mean((mesh.face_normals() * (centroids - centre)).sum(axis=1) > 0))


def liver_blob(spacing: tuple[float, float, float] = (2.5, 0.7, 0.7)) -> np.ndarray:
    """A 1.5 L liver-like blob (right and left lobe, a notch, gentle bumps) on a 512×512×150 grid."""
    dz, dy, dx = spacing
    mask = np.zeros((150, 512, 512), dtype=bool)
    bz, by, bx = 90, 300, 380
    z = np.arange(bz, dtype=np.float32)[:, None, None] * dz
    y = np.arange(by, dtype=np.float32)[None, :, None] * dy
    x = np.arange(bx, dtype=np.float32)[None, None, :] * dx
    scale = 0.86765  # chosen so the blob holds 1500 mL at this spacing
    right = ((x - 95) / (90 * scale)) ** 2 + ((y - 105) / (75 * scale)) ** 2 + ((z - 110) / (70 * scale)) ** 2
    left = ((x - 190) / (70 * scale)) ** 2 + ((y - 80) / (45 * scale)) ** 2 + ((z - 140) / (35 * scale)) ** 2
    bumps = 0.08 * np.sin(x / 9.0) * np.sin(y / 11.0) * np.sin(z / 7.0)
    notch = ((x - 120) / 25) ** 2 + ((y - 170) / 30) ** 2 < 1
    mask[20 : 20 + bz, 120 : 120 + by, 60 : 60 + bx] = (np.minimum(right, left) + bumps < 1) & ~notch
    return mask


# --------------------------------------------------------------------------- surface_mesh


@pytest.mark.parametrize("mirrored", [False, True])
def test_sphere_mesh_is_closed_outward_and_keeps_the_volume(mirrored: bool) -> None:
    spacing = (1.0, 1.0, 1.0)
    affine = _geometry(spacing).affine_lps()
    if mirrored:  # slices stored superior → inferior: a left-handed voxel grid
        affine = affine @ np.diag([1.0, 1.0, -1.0, 1.0])
    centre = affine[:3, :3] @ np.array([30.0, 30.0, 30.0]) + affine[:3, 3]
    mask = _ellipsoid((60, 60, 60), affine, centre, (20.0, 20.0, 20.0))

    mesh = surface_mesh(mask, affine)

    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32
    assert mesh.is_watertight()
    _assert_volume(mesh, mask, spacing)
    assert _outward_fraction(mesh, centre) > 0.999
    radii = np.linalg.norm(mesh.vertices - centre, axis=1)
    assert radii.min() > 18.5 and radii.max() < 21.0  # on the sphere, in mm, not in voxels


@pytest.mark.parametrize("flipped", [False, True])
def test_ellipsoid_on_anisotropic_spacing_lands_where_the_voxels_are(flipped: bool) -> None:
    spacing = (2.5, 0.7, 0.7)  # thick slices, fine pixels
    affine = _geometry(spacing, flipped=flipped).affine_lps()
    centre = affine[:3, :3] @ np.array([70.0, 60.0, 20.0]) + affine[:3, 3]  # (x, y, z) index
    radii = (20.0, 30.0, 35.0)  # L-R, A-P, S-I in mm: different on every axis
    mask = _ellipsoid((40, 120, 140), affine, centre, radii)

    mesh = surface_mesh(mask, affine)

    assert mesh.is_watertight()
    _assert_volume(mesh, mask, spacing)
    assert _outward_fraction(mesh, centre) > 0.999
    low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    # Extents per LPS axis match the radii (within a voxel), so no axis got swapped or scaled.
    np.testing.assert_allclose((high - low) / 2, radii, atol=1.3)
    np.testing.assert_allclose((high + low) / 2, centre, atol=1.3)


def test_non_convex_torus_keeps_its_hole_and_volume() -> None:
    spacing = (1.5, 0.8, 0.8)
    affine = _geometry(spacing).affine_lps()
    points = _voxel_centres_lps((30, 100, 100), affine)
    centre = affine[:3, :3] @ np.array([50.0, 50.0, 15.0]) + affine[:3, 3]
    rel = points - centre
    ring = np.hypot(rel[..., 0], rel[..., 1]) - 25.0
    mask = ring**2 + rel[..., 2] ** 2 < 9.0**2

    mesh = surface_mesh(mask, affine)

    assert mesh.is_watertight()
    _assert_volume(mesh, mask, spacing)
    edges = np.unique(
        np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1), axis=0
    )
    euler = len(mesh.vertices) - len(edges) + len(mesh.faces)
    assert euler == 0  # one handle: the hole through the middle is still there


def test_c_shaped_mask_keeps_volume_and_outward_faces() -> None:
    spacing = (1.0, 1.0, 1.0)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    z, y, x = np.meshgrid(np.arange(50), np.arange(60), np.arange(60), indexing="ij")
    mask = (((z - 25) / 15) ** 2 + ((y - 30) / 25) ** 2 + ((x - 30) / 25) ** 2 < 1) & ~((y > 28) & (abs(x - 30) < 6))

    mesh = surface_mesh(mask, affine)

    assert mesh.is_watertight()
    _assert_volume(mesh, mask, spacing)
    assert mesh.volume_ml() > 0  # faces wind outward


def test_liver_sized_blob_on_a_ct_grid() -> None:
    spacing = (2.5, 0.7, 0.7)
    mask = liver_blob(spacing)
    assert _voxel_ml(mask, spacing) == pytest.approx(1500.0, rel=0.01)

    mesh = surface_mesh(mask, _geometry(spacing).affine_lps())

    assert mesh.is_watertight()
    assert mesh.triangle_count <= 300_000
    _assert_volume(mesh, mask, spacing)


def test_two_triangles_per_exposed_voxel_face_at_full_resolution() -> None:
    """The rule the in-plane factor is chosen by: marching cubes of a binary mask, face for face
    (exactly two for a sphere-like surface, off by a few where the surface has handles)."""
    spacing = (2.5, 0.7, 0.7)
    mask = liver_blob(spacing)
    box = mask[bounding_box(mask)]
    mesh = surface_mesh(mask, _geometry(spacing).affine_lps(), max_triangles=10**9)
    assert in_plane_factor(box, 10**9) == 1
    assert mesh.triangle_count == pytest.approx(2 * sum(exposed_faces(box)), rel=1e-3)  # exact but for handles


@pytest.mark.slow
def test_a_tight_budget_meshes_a_coarser_grid_without_decimating(monkeypatch: pytest.MonkeyPatch) -> None:
    """The software-GL budget (60 k) for a 1.5 L liver: in-plane block means, no GIL-holding decimation,
    closed, the volume kept, and the surface where the voxels' surface is."""
    import ctseg_core.surface.meshing as mesh_module

    def no_decimation(*_args: Any) -> None:
        raise AssertionError("decimated: the coarser grid should have met the budget")

    spacing = (2.5, 0.7, 0.7)
    mask = liver_blob(spacing)
    affine = _geometry(spacing).affine_lps()
    full = surface_mesh(mask, affine)
    monkeypatch.setattr(mesh_module, "_decimate", no_decimation)
    coarse = surface_mesh(mask, affine, max_triangles=60_000, coarsen=True)

    assert in_plane_factor(mask[bounding_box(mask)], 60_000) > 1
    assert full.triangle_count > 60_000 >= coarse.triangle_count > 20_000
    assert coarse.is_watertight() and coarse.volume_ml() > 0
    _assert_volume(coarse, mask, spacing)
    distance = np.abs(signed_distance_to_surface(coarse.vertices, mask, affine))
    assert float(np.median(distance)) < 0.7  # under one in-plane voxel from the full-resolution surface


def test_without_coarsen_a_tight_budget_decimates_at_full_resolution() -> None:
    """Exports keep every voxel's detail: the in-plane block means are the 3D view's choice only."""
    spacing = (2.5, 0.7, 0.7)
    affine = _geometry(spacing).affine_lps()
    centre = affine[:3, :3] @ np.array([60.0, 60.0, 16.0]) + affine[:3, 3]
    mask = _ellipsoid((32, 120, 120), affine, centre, (35.0, 30.0, 32.0))
    exported = surface_mesh(mask, affine, max_triangles=5000)
    shown = surface_mesh(mask, affine, max_triangles=5000, coarsen=True)
    assert 4000 < exported.triangle_count <= 5000  # decimated to just under the budget
    assert shown.triangle_count <= 5000


def test_coarsening_keeps_thin_and_scattered_structures_by_using_a_finer_grid() -> None:
    """Speckle and a two-voxel plate fade below the level in big blocks: a finer grid is used, down to
    full resolution and decimation, so nothing is dropped from the 3D view and nothing fails."""
    spacing = (2.0, 0.7, 0.7)
    affine = _geometry(spacing).affine_lps()
    speckle = np.random.default_rng(0).random((30, 120, 120)) < 0.01
    box = speckle[bounding_box(speckle)]
    assert in_plane_factor(box, 20_000) > 1 and coarse_grid(box, 20_000)[0] == 1  # blocks would lose it all
    mesh = surface_mesh(speckle, affine, max_triangles=20_000, coarsen=True)
    assert mesh.triangle_count > 0
    plate = np.zeros((30, 120, 120), bool)
    plate[5:25, 20:100, 60:62] = True  # two voxels thick in x
    plate[10:20, 30:60, 20:50] = True
    factor, grid = coarse_grid(plate, 3000)
    assert 1 < factor < in_plane_factor(plate, 3000)  # a finer grid than the face count alone asks for
    kept = int(np.count_nonzero(grid > 0.499)) * factor * factor
    assert abs(kept - int(plate.sum())) <= 0.03 * int(plate.sum())
    plated = surface_mesh(plate, affine, max_triangles=3000, coarsen=True)
    _assert_volume(plated, plate, spacing)


def test_decimation_respects_the_triangle_budget_and_stays_closed() -> None:
    spacing = (2.5, 0.7, 0.7)
    affine = _geometry(spacing).affine_lps()
    centre = affine[:3, :3] @ np.array([60.0, 60.0, 16.0]) + affine[:3, 3]
    mask = _ellipsoid((32, 120, 120), affine, centre, (35.0, 30.0, 32.0))
    full = surface_mesh(mask, affine)

    small = surface_mesh(mask, affine, max_triangles=3000)

    assert full.triangle_count > 10_000
    assert 2000 < small.triangle_count <= 3000
    assert small.is_watertight()
    _assert_volume(small, mask, spacing)


def test_mask_touching_the_grid_edge_still_gives_a_closed_surface() -> None:
    mask = np.zeros((10, 20, 20), dtype=bool)
    mask[:6, :, 5:15] = True  # touches five of the six faces of the grid
    mesh = surface_mesh(mask, np.diag([0.7, 0.7, 2.5, 1.0]))
    assert mesh.is_watertight()
    _assert_volume(mesh, mask, (2.5, 0.7, 0.7))


def test_noisy_mask_with_voxels_touching_only_along_edges_is_still_closed() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((16, 24, 24)) > 0.6  # many voxel pairs meeting at an edge or a corner
    mesh = surface_mesh(mask, np.eye(4), smooth_iterations=0)
    assert mesh.is_watertight()


def test_empty_mask_is_refused_with_a_message() -> None:
    with pytest.raises(CtsegError, match="empty"):
        surface_mesh(np.zeros((4, 5, 6), dtype=bool), np.eye(4))


def test_progress_reports_stages_and_cancel_stops() -> None:
    mask = np.zeros((10, 20, 20), dtype=bool)
    mask[3:7, 5:15, 5:15] = True
    stages: list[str] = []
    surface_mesh(mask, np.eye(4), progress=lambda done, total, stage: stages.append(stage))
    assert stages[0] == "marching cubes" and "smoothing" in stages and stages[-1] == "done"
    with pytest.raises(Cancelled):
        surface_mesh(mask, np.eye(4), should_cancel=lambda: True)


def test_watertight_check_catches_holes_and_flipped_faces() -> None:
    mask = np.zeros((10, 12, 12), dtype=bool)
    mask[2:8, 3:9, 3:9] = True
    mesh = surface_mesh(mask, np.eye(4))
    assert mesh.is_watertight()
    holed = Mesh(mesh.vertices, mesh.faces[1:])
    flipped_faces = mesh.faces.copy()
    flipped_faces[0] = flipped_faces[0, ::-1]
    flipped = Mesh(mesh.vertices, flipped_faces)
    assert not holed.is_watertight()
    assert not flipped.is_watertight()


# --------------------------------------------------------------------------- signed distance


def _sphere_points(count: int, radius: float, centre: np.ndarray) -> np.ndarray:
    """Evenly spread points on a sphere (Fibonacci lattice), LPS mm."""
    i = np.arange(count) + 0.5
    polar = np.arccos(1 - 2 * i / count)
    azimuth = np.pi * (1 + 5**0.5) * i
    unit = np.c_[np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)]
    return unit * radius + centre


@pytest.fixture(scope="module")
def reference_sphere() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A 20 mm sphere on an anisotropic, mirrored grid: mask, affine, centre (LPS), largest spacing."""
    spacing = (2.0, 0.8, 0.6)
    affine = _geometry(spacing, flipped=True).affine_lps()
    centre = affine[:3, :3] @ np.array([60.0, 50.0, 20.0]) + affine[:3, 3]
    mask = _ellipsoid((40, 100, 120), affine, centre, (20.0, 20.0, 20.0))
    return mask, affine, centre, max(spacing)


def test_concentric_spheres_are_three_millimetres_apart(reference_sphere) -> None:
    mask, affine, centre, voxel = reference_sphere
    outside = signed_distance_to_surface(_sphere_points(2000, 23.0, centre), mask, affine)
    inside = signed_distance_to_surface(_sphere_points(2000, 17.0, centre), mask, affine)
    assert np.all(np.abs(outside - 3.0) <= voxel)
    assert np.all(np.abs(inside + 3.0) <= voxel)
    assert outside.mean() == pytest.approx(3.0, abs=0.25)
    assert inside.mean() == pytest.approx(-3.0, abs=0.35)


def test_sphere_shifted_along_x_reads_minus_to_plus_four_mm(reference_sphere) -> None:
    mask, affine, centre, voxel = reference_sphere
    points = _sphere_points(3000, 20.0, centre + np.array([4.0, 0.0, 0.0]))
    distances = signed_distance_to_surface(points, mask, affine)
    expected = np.linalg.norm(points - centre, axis=1) - 20.0  # exact, from −4 to +4 mm
    assert distances.min() == pytest.approx(-4.0, abs=0.5)
    assert distances.max() == pytest.approx(4.0, abs=0.5)
    assert np.all(np.abs(distances - expected) <= voxel / 2 + 0.1)
    left = points[:, 0] > centre[0] + 10  # L side of the shifted sphere sticks out
    assert np.all(distances[left] > 0) and np.all(distances[points[:, 0] < centre[0] - 10] < 0)


def test_the_reference_mesh_itself_is_at_zero_distance(reference_sphere) -> None:
    mask, affine, _centre, _voxel = reference_sphere
    mesh = surface_mesh(mask, affine)
    distances = signed_distance_to_surface(mesh.vertices, mask, affine)
    # Not half a voxel off (1 mm along z here): zero lies on the boundary the mesh draws.
    assert np.abs(distances).max() < 0.5
    assert abs(float(distances.mean())) < 0.1


def test_distance_to_an_empty_reference_is_undefined() -> None:
    distances = signed_distance_to_surface(np.zeros((3, 3)), np.zeros((4, 4, 4), dtype=bool), np.eye(4))
    assert distances.shape == (3,) and np.isnan(distances).all()


# --------------------------------------------------------------------------- files


def test_marching_cubes_in_slabs_gives_the_one_piece_surface(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slabs (so a worker never holds the GIL long) join into exactly the surface of one call."""
    from ctseg_core.surface import meshing as mesh_module

    spacing = (2.5, 0.9, 0.9)
    affine = _geometry(spacing).affine_lps()
    centre = affine[:3, :3] @ np.array([50.0, 45.0, 20.0]) + affine[:3, 3]
    mask = _ellipsoid((40, 90, 100), affine, centre, (35.0, 30.0, 40.0))
    mask |= _ellipsoid((40, 90, 100), affine, centre + np.array([30.0, 0.0, 20.0]), (10.0, 12.0, 8.0))
    whole = surface_mesh(mask, affine, smooth_iterations=0)
    monkeypatch.setattr(mesh_module, "SLAB_VOXELS", 20_000)  # slabs of 2 or 3 planes: many seams
    slabs = surface_mesh(mask, affine, smooth_iterations=0)
    assert slabs.is_watertight()
    assert slabs.triangle_count == whole.triangle_count
    assert len(slabs.vertices) == len(whole.vertices)
    assert np.array_equal(np.unique(slabs.vertices, axis=0), np.unique(whole.vertices, axis=0))
    assert slabs.volume_ml() == pytest.approx(whole.volume_ml(), rel=1e-6)
