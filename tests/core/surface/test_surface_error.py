"""Error colouring: the prediction's vertices coloured by signed distance (mm) to the ground-truth surface."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.metrics import _surface_distances, average_symmetric_surface_distance
from ctseg_core.surface.distance import (
    DIVERGING_STOPS,
    colour_bar_ticks,
    diverging_rgba,
    surface_error,
    voxel_weights,
)
from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.meshing import surface_mesh


def _affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """A mirrored (feet-first-like) CT geometry, so the test does not rely on an identity-like affine."""
    return VolumeGeometry(
        origin_mm=(-180.0, -160.0, -420.0),
        row_direction=(-1.0, 0.0, 0.0),
        column_direction=(0.0, -1.0, 0.0),
        spacing_mm=spacing,
    ).affine_lps()


def _ellipsoid(
    shape: tuple[int, int, int], affine: np.ndarray, centre: np.ndarray, radii: tuple[float, ...]
) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    points = np.stack([x, y, z], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
    return (((points - centre) / np.asarray(radii)) ** 2).sum(axis=-1) < 1.0


def _grid(spacing: tuple[float, float, float]) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray]:
    """A 100 × 110 × 120 mm grid at ``spacing``: shape, affine and the LPS centre."""
    affine = _affine(spacing)
    shape = (int(100 / spacing[0]), int(110 / spacing[1]), int(120 / spacing[2]))
    centre = affine[:3, :3] @ (np.array(shape[::-1]) / 2.0) + affine[:3, 3]
    return shape, affine, centre


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.8, 0.8)])
def test_a_sphere_grown_by_three_mm_reads_three_mm_everywhere(spacing: tuple[float, float, float]) -> None:
    shape, affine, centre = _grid(spacing)
    gt = _ellipsoid(shape, affine, centre, (20.0, 20.0, 20.0))
    grown = _ellipsoid(shape, affine, centre, (23.0, 23.0, 23.0))
    error = surface_error(surface_mesh(grown, affine), gt, affine)
    assert error.mean_abs_mm == pytest.approx(3.0, abs=0.25)
    # each vertex within one voxel side of 3 mm: each voxelised sphere's caps may be half a slice off
    assert np.all(np.abs(error.distances_mm - 3.0) <= max(spacing) + 0.1)
    assert float(np.median(error.distances_mm)) == pytest.approx(3.0, abs=0.2)
    shrunk = _ellipsoid(shape, affine, centre, (17.0, 17.0, 17.0))
    inside = surface_error(surface_mesh(shrunk, affine), gt, affine)
    assert np.all(inside.distances_mm < 0)  # under-segmented: inside the ground truth
    # measured −2.66 mm at 2.5 × 0.8 × 0.8 mm (ASSD's half reads 2.68 there): the voxelised spheres
    # are that far apart; the bound is half the in-plane voxel side
    assert float(np.median(inside.distances_mm)) == pytest.approx(-3.0, abs=0.4)


def test_a_sphere_shifted_by_four_mm_reads_plus_four_ahead_and_minus_four_behind() -> None:
    shape, affine, centre = _grid((2.0, 0.8, 0.8))
    gt = _ellipsoid(shape, affine, centre, (20.0, 20.0, 20.0))
    shifted = _ellipsoid(shape, affine, centre + np.array([4.0, 0.0, 0.0]), (20.0, 20.0, 20.0))
    mesh = surface_mesh(shifted, affine)
    error = surface_error(mesh, gt, affine)
    expected = np.linalg.norm(mesh.vertices - centre, axis=1) - 20.0  # exact distance to the GT sphere
    assert np.all(np.abs(error.distances_mm - expected) <= 1.0 + 0.1)  # half the 2 mm slice, plus smoothing
    low, high = error.range_mm
    assert low == pytest.approx(-4.0, abs=0.6) and high == pytest.approx(4.0, abs=0.6)
    ahead = mesh.vertices[:, 0] > centre[0] + 15  # the L side of the shifted sphere sticks out
    behind = mesh.vertices[:, 0] < centre[0] - 15
    assert np.all(error.distances_mm[ahead] > 2.0) and np.all(error.distances_mm[behind] < -2.0)


def _shapes(shape: tuple[int, int, int], affine: np.ndarray, centre: np.ndarray) -> dict[str, np.ndarray]:
    grown = _ellipsoid(shape, affine, centre, (33.0, 28.0, 23.0))
    shifted = _ellipsoid(shape, affine, centre + np.array([5.0, -3.0, 2.0]), (28.0, 26.0, 22.0))
    lumpy = _ellipsoid(shape, affine, centre + np.array([2.0, 0, 0]), (31.0, 24.0, 19.0)) | _ellipsoid(
        shape, affine, centre + np.array([20.0, 10.0, 0]), (12.0, 12.0, 12.0)
    )
    return {"grown": grown, "shifted": shifted, "lumpy": ndimage.binary_opening(lumpy)}


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.8, 0.8), (2.0, 0.7, 0.6)])
@pytest.mark.slow
def test_the_colours_agree_with_assd(spacing: tuple[float, float, float]) -> None:
    """The mean |distance| over the prediction mesh's surface matches ASSD's prediction→GT half.

    Both read one distance field (to the ground truth's SLIVER07 surface voxels) but at different
    places: ASSD at the prediction's surface-voxel centres, on the voxel lattice, weighted by voxel
    count; the colours at the smoothed mesh vertices, between voxel centres, with voxel-equivalent weights.
    The lattice quantises ASSD's distances by a fraction of a voxel, so the two means may differ by
    up to 0.1 × the largest voxel side (0.25 mm at 2.5 mm slices); measured at most 0.08 × (0.19 mm).
    """
    shape, affine, centre = _grid(spacing)
    gt = _ellipsoid(shape, affine, centre, (30.0, 25.0, 20.0))
    for name, prediction in _shapes(shape, affine, centre).items():
        error = surface_error(surface_mesh(prediction, affine), gt, affine)
        pred_to_gt, gt_to_pred = _surface_distances(prediction, gt, spacing)  # what ASSD and HD95 average
        assert error.mean_abs_mm == pytest.approx(float(pred_to_gt.mean()), abs=0.1 * max(spacing)), name
        assert error.p95_abs_mm == pytest.approx(float(np.percentile(pred_to_gt, 95)), abs=0.2 * max(spacing)), name
        symmetric = average_symmetric_surface_distance(prediction, gt, spacing)
        assert symmetric == pytest.approx(
            (pred_to_gt.sum() + gt_to_pred.sum()) / (pred_to_gt.size + gt_to_pred.size)
        )  # the same machinery


@pytest.mark.slow
def test_the_readouts_do_not_depend_on_the_triangle_budget() -> None:
    """Decimation leaves vertices dense where the surface bends; the voxel-equivalent weights keep the
    mean and p95 of an 8 k-triangle mesh on ASSD's half, as for the full mesh (the software-GL case)."""
    spacing = (2.0, 0.7, 0.6)
    shape, affine, centre = _grid(spacing)
    gt = _ellipsoid(shape, affine, centre, (30.0, 25.0, 20.0))
    for name, prediction in _shapes(shape, affine, centre).items():
        pred_to_gt, _ = _surface_distances(prediction, gt, spacing)
        full = surface_error(surface_mesh(prediction, affine), gt, affine)
        coarse_mesh = surface_mesh(prediction, affine, max_triangles=8_000, coarsen=True)
        assert coarse_mesh.triangle_count <= 8_000 < full.mesh.triangle_count
        coarse = surface_error(coarse_mesh, gt, affine)
        assert coarse.mean_abs_mm == pytest.approx(full.mean_abs_mm, abs=0.1), name
        for error in (full, coarse):
            assert error.mean_abs_mm == pytest.approx(float(pred_to_gt.mean()), abs=0.1 * max(spacing)), name
            assert error.p95_abs_mm == pytest.approx(float(np.percentile(pred_to_gt, 95)), abs=0.2 * max(spacing))


def test_voxel_weights_count_lattice_columns_the_surface_faces() -> None:
    """A corner tetrahedron: three right triangles facing x, y, z and one facing (1, 1, 1)/√3."""
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    mesh = Mesh(vertices, np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]))
    unit = voxel_weights(mesh, np.eye(4))
    assert unit.sum() == pytest.approx(3 * 0.5 + (np.sqrt(3) / 2) / np.sqrt(3))  # area × max |n_i|
    thick = voxel_weights(mesh, np.diag([1.0, 1.0, 2.0, 1.0]))  # 2 mm slices: fewer voxels face x and y
    assert thick.sum() == pytest.approx(0.5 + 0.25 + 0.25 + (np.sqrt(3) / 2) / np.sqrt(3))


def test_empty_ground_truth_gives_unknown_distances_and_grey() -> None:
    shape, affine, centre = _grid((2.0, 2.0, 2.0))
    mesh = surface_mesh(_ellipsoid(shape, affine, centre, (20.0, 20.0, 20.0)), affine)
    error = surface_error(mesh, np.zeros(shape, dtype=bool), affine)
    assert np.isnan(error.distances_mm).all() and np.isnan(error.mean_abs_mm)
    rgba = diverging_rgba(error.distances_mm)
    assert np.allclose(rgba[:, :3], 0.5)


def test_diverging_map_blue_white_red_clamped_at_the_limit() -> None:
    rgba = diverging_rgba(np.array([-25.0, -10.0, -5.0, 0.0, 5.0, 10.0, 40.0]), limit_mm=10.0)
    assert rgba.shape == (7, 4) and rgba.dtype == np.float32
    assert np.allclose(rgba[0, :3], DIVERGING_STOPS[0]) and np.allclose(rgba[1, :3], DIVERGING_STOPS[0])
    assert np.allclose(rgba[3, :3], DIVERGING_STOPS[2])  # white on the surface
    assert np.allclose(rgba[-1, :3], DIVERGING_STOPS[-1]) and np.allclose(rgba[-2, :3], DIVERGING_STOPS[-1])
    assert rgba[0, 2] > rgba[0, 0] and rgba[-1, 0] > rgba[-1, 2]  # blue inside, red outside
    assert np.all(rgba[:, 3] == 1.0)
    with pytest.raises(ValueError, match="limit_mm must be positive"):
        diverging_rgba(np.zeros(2), limit_mm=0.0)
    assert colour_bar_ticks(10.0) == [-10.0, -5.0, 0.0, 5.0, 10.0]
