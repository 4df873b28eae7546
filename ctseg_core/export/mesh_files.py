"""Surface meshes as files 3D Slicer places on the CT: binary STL, OBJ and binary PLY, in mm.

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

import struct
from pathlib import Path
from typing import Literal

import numpy as np

from ctseg_core.errors import CtsegError
from ctseg_core.io.atomic import atomic_path
from ctseg_core.surface.mesh import Mesh

Space = Literal["LPS", "RAS"]
MESH_SUFFIXES = (".stl", ".obj", ".ply")


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
