"""Ray picking on a surface mesh: what a click in the 3D view lands on, and its CT voxel."""

from __future__ import annotations

import numpy as np
import pytest

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.meshing import surface_mesh
from ctseg_core.surface.picking import Ray, pick_surface, point_of_voxel, ray_from_screen, voxel_of_point


@pytest.fixture(scope="module")
def sphere() -> tuple[Mesh, np.ndarray, np.ndarray]:
    """A 20 mm sphere on a mirrored, anisotropic CT grid: mesh, affine, LPS centre."""
    affine = VolumeGeometry(
        origin_mm=(-180.0, -160.0, -420.0),
        row_direction=(-1.0, 0.0, 0.0),
        column_direction=(0.0, -1.0, 0.0),
        spacing_mm=(2.0, 0.8, 0.8),
    ).affine_lps()
    shape = (40, 80, 80)
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    points = np.stack([x, y, z], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
    centre = affine[:3, :3] @ np.array([40.0, 40.0, 20.0]) + affine[:3, 3]
    mask = np.linalg.norm(points - centre, axis=-1) < 20.0
    return surface_mesh(mask, affine), affine, centre


def _ray(origin: np.ndarray, towards: np.ndarray) -> Ray:
    direction = towards - origin
    return Ray(origin, direction / np.linalg.norm(direction))


def test_a_ray_at_the_centre_hits_the_near_side_of_the_sphere(sphere) -> None:
    mesh, _affine, centre = sphere
    for axis in range(3):
        origin = centre.copy()
        origin[axis] -= 100.0
        pick = pick_surface(mesh, _ray(origin, centre))
        assert pick is not None
        assert pick.distance == pytest.approx(80.0, abs=1.0)  # 100 mm away, radius 20
        assert np.linalg.norm(pick.point - centre) == pytest.approx(20.0, abs=1.0)
        assert pick.point[axis] < centre[axis]  # the near side, not the far one
        assert 0 <= pick.face < mesh.triangle_count


def test_a_ray_that_misses_or_points_away_picks_nothing(sphere) -> None:
    mesh, _affine, centre = sphere
    origin = centre + np.array([0.0, -100.0, 0.0])
    assert pick_surface(mesh, _ray(origin, centre + np.array([30.0, 0.0, 0.0]))) is None  # passes beside
    assert pick_surface(mesh, _ray(origin, origin - (centre - origin))) is None  # sphere behind the origin


def test_from_inside_the_ray_hits_the_wall_in_front(sphere) -> None:
    mesh, _affine, centre = sphere
    pick = pick_surface(mesh, Ray(centre, np.array([0.0, 0.0, 1.0])))
    assert pick is not None and pick.point[2] == pytest.approx(centre[2] + 20.0, abs=1.0)


def _perspective(eye: np.ndarray, target: np.ndarray, width: float, height: float) -> np.ndarray:
    """A look-at view and a 60° frustum, as OpenGL builds them (column vectors)."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = right, up, -forward
    view[:3, 3] = -view[:3, :3] @ eye
    near, far, f = 1.0, 1000.0, 1.0 / np.tan(np.radians(30.0))
    projection = np.zeros((4, 4))
    projection[0, 0], projection[1, 1] = f * height / width, f
    projection[2, 2], projection[2, 3] = (far + near) / (near - far), 2 * far * near / (near - far)
    projection[3, 2] = -1.0
    return projection @ view


def test_the_screen_ray_passes_through_the_point_drawn_at_that_pixel(sphere) -> None:
    mesh, _affine, centre = sphere
    width, height = 640.0, 480.0
    mvp = _perspective(centre + np.array([0.0, -150.0, 40.0]), centre, width, height)
    vertex = mesh.vertices[int(np.argmin(mesh.vertices[:, 1]))].astype(np.float64)  # the most anterior point
    clip = mvp @ np.append(vertex, 1.0)
    x = (clip[0] / clip[3] + 1.0) / 2.0 * width
    y = (1.0 - clip[1] / clip[3]) / 2.0 * height
    ray = ray_from_screen(mvp, x, y, width, height)
    to_vertex = vertex - ray.origin
    beside = np.linalg.norm(to_vertex - (to_vertex @ ray.direction) * ray.direction)
    assert beside < 1e-3 * np.linalg.norm(to_vertex)
    centre_ray = ray_from_screen(mvp, width / 2, height / 2, width, height)
    pick = pick_surface(mesh, centre_ray)  # the middle of the view looks at the sphere's centre
    assert pick is not None and np.linalg.norm(pick.point - centre) == pytest.approx(20.0, abs=1.0)


def test_voxel_of_point_inverts_the_affine_and_clamps(sphere) -> None:
    _mesh, affine, _centre = sphere
    shape = (40, 80, 80)
    voxel_centre = affine[:3, :3] @ np.array([12.0, 30.0, 7.0]) + affine[:3, 3]  # (x, y, z) = (12, 30, 7)
    assert voxel_of_point(voxel_centre + 0.3, affine, shape) == (7, 30, 12)
    far = affine[:3, :3] @ np.array([500.0, -20.0, 7.0]) + affine[:3, 3]
    assert voxel_of_point(far, affine, shape) == (7, 0, 79)
    assert np.allclose(point_of_voxel((7, 30, 12), affine), voxel_centre)
