"""A closed triangle surface in patient space (LPS mm): its volume, closedness and normals.

Why: the 3D view, the mesh export, picking and the surface error all pass meshes around; the
checks that a surface is closed and outward-facing are what the mesher's tests and the
decimation's fallback rely on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        return signed_volume_mm3(self.vertices, self.faces) / 1000.0

    def is_watertight(self) -> bool:
        """True when the surface is closed and consistently wound.

        Every directed edge occurs once and its reverse once: each edge borders exactly two
        faces that agree on orientation, so there is no hole, no fin and no flipped face.
        """
        if self.triangle_count == 0:
            return False
        directed = directed_edges(self.faces)
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


def directed_edges(faces: np.ndarray) -> np.ndarray:
    """(3m, 2) int64 directed edges of the faces, in winding order."""
    f = faces.astype(np.int64)
    return np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])


def signed_volume_mm3(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Σ v0·(v1×v2)/6 over faces (mm³); positive when the faces wind outward."""
    v = vertices.astype(np.float64)
    v = v - v.mean(axis=0) if len(v) else v  # centring keeps float error small far from the origin
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0)
