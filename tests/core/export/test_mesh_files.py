"""Mesh files that 3D Slicer places on the CT: the space their header names, read back by trimesh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctseg_core.errors import CtsegError
from ctseg_core.export.mesh_files import Space, write_mesh
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.surface.mesh import Mesh
from ctseg_core.surface.meshing import surface_mesh

VOLUME_TOLERANCE = 0.03


def _geometry(spacing: tuple[float, float, float]) -> VolumeGeometry:
    """A CT-like geometry (the one tests/core/surface/test_mesh.py meshes on)."""
    return VolumeGeometry(
        origin_mm=(-180.0, -160.0, -420.0),
        row_direction=(1.0, 0.0, 0.0),
        column_direction=(0.0, 1.0, 0.0),
        spacing_mm=spacing,
    )


def _ellipsoid(
    shape: tuple[int, int, int], affine: np.ndarray, centre: np.ndarray, radii: tuple[float, ...]
) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    points = np.stack([x, y, z], axis=-1) @ affine[:3, :3].T + affine[:3, 3]
    return (((points - np.asarray(centre)) / np.asarray(radii)) ** 2).sum(axis=-1) < 1.0


@pytest.fixture(scope="module")
def small_mesh() -> Mesh:
    spacing = (2.5, 0.7, 0.7)
    affine = _geometry(spacing).affine_lps()
    centre = affine[:3, :3] @ np.array([40.0, 40.0, 10.0]) + affine[:3, 3]
    return surface_mesh(_ellipsoid((20, 80, 80), affine, centre, (18.0, 15.0, 16.0)), affine, max_triangles=4000)


@pytest.mark.parametrize("suffix", [".stl", ".obj", ".ply"])
@pytest.mark.parametrize("space", ["LPS", "RAS"])
def test_mesh_files_read_back_in_the_space_their_header_names(
    tmp_path: Path, small_mesh: Mesh, suffix: str, space: Space
) -> None:
    import trimesh

    path = write_mesh(small_mesh, tmp_path / f"liver{suffix}", space=space)

    raw = path.read_bytes()
    assert f"SPACE={space}".encode() in raw[:300]  # where 3D Slicer looks for it
    assert not raw.startswith(b"solid")  # binary STL must not look like ASCII STL
    loaded: Any = trimesh.load(path, force="mesh", process=suffix == ".stl")
    flip = np.array([-1.0, -1.0, 1.0]) if space == "RAS" else np.ones(3)
    expected = small_mesh.vertices * flip
    if suffix == ".stl":  # per-face corners: compare triangle by triangle
        np.testing.assert_allclose(loaded.vertices[loaded.faces], expected[small_mesh.faces], atol=1e-4)
        assert len(loaded.vertices) == len(small_mesh.vertices)
    else:
        np.testing.assert_allclose(loaded.vertices, expected, atol=1e-4)
        np.testing.assert_array_equal(loaded.faces, small_mesh.faces)
    assert loaded.is_watertight and loaded.is_winding_consistent
    assert loaded.volume / 1000.0 == pytest.approx(small_mesh.volume_ml(), rel=VOLUME_TOLERANCE)
    assert loaded.volume > 0  # normals still point outward after the RAS flip
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_unknown_mesh_format_names_the_path(tmp_path: Path, small_mesh: Mesh) -> None:
    with pytest.raises(CtsegError, match=r"liver\.vtk.*\.stl, \.obj or \.ply"):
        write_mesh(small_mesh, tmp_path / "liver.vtk")
    assert not any(tmp_path.iterdir())
