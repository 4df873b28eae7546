"""A label volume stored on its own grid, put onto the CT's canonical grid exactly or refused.

Label files (NIfTI, NRRD, MetaImage, Slicer's ``.seg.nrrd``) carry their own voxel-to-patient
affine and may store the axes in any order and direction. A label is accepted when every one of its
voxel centres is a voxel centre of the CT: its axes are the CT's up to permutation and flips, with the
same spacing, and it starts a whole number of voxels from the CT's corner. Then it is mapped by
transposes, flips and an offset only — never resampled. A label covering part of the CT (Slicer can
crop a segmentation to its extent) is padded with background; label voxels outside the CT are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ctseg_core.errors import MaskMismatchError
from ctseg_core.io.patient import Patient

#: Tolerance (voxels) on the axes and the offset between a label grid and the CT grid.
_GRID_TOLERANCE = 1e-2


def onto_canonical(data: np.ndarray, affine_lps: np.ndarray, patient: Patient, path: str | Path) -> np.ndarray:
    """``data`` (3D, axes a0, a1, a2) whose (a0, a1, a2, 1) → LPS mm affine is ``affine_lps``, on the
    patient's canonical [z, y, x] grid (same dtype; background 0 where the label does not reach)."""
    transform = np.linalg.inv(patient.geometry.affine_zyx()) @ np.asarray(affine_lps, dtype=np.float64)
    axes, signs = _axis_map(transform[:3, :3], path)
    moved = np.transpose(np.asarray(data), axes)
    starts = []
    for target in range(3):
        source_axis = axes[target]
        offset = float(transform[target, 3])
        if signs[target] < 0:
            moved = np.flip(moved, target)
            offset -= data.shape[source_axis] - 1
        start = round(offset)
        if abs(offset - start) > _GRID_TOLERANCE:
            raise MaskMismatchError(path, f"label grid is shifted by {offset - start:+.2f} voxels from the CT grid")
        starts.append(start)
    return _place(moved, starts, patient.shape, path)


def _axis_map(rotation: np.ndarray, path: str | Path) -> tuple[list[int], list[int]]:
    """For each canonical axis, the label axis along it and its direction (+1 / -1); refuses
    rotated or rescaled grids."""
    rounded = np.rint(rotation)
    is_signed_permutation = (
        np.allclose(rotation, rounded, atol=_GRID_TOLERANCE)
        and np.all(np.abs(rounded).sum(axis=0) == 1)
        and np.all(np.abs(rounded).sum(axis=1) == 1)
    )
    if not is_signed_permutation:
        raise MaskMismatchError(
            path, "label grid is rotated or scaled relative to the CT grid: it must be the same grid"
        )
    axes = [int(np.argmax(np.abs(rounded[c]))) for c in range(3)]
    signs = [int(rounded[c, axes[c]]) for c in range(3)]
    return axes, signs


def _place(moved: np.ndarray, starts: list[int], shape: tuple[int, int, int], path: str | Path) -> np.ndarray:
    """``moved`` (canonical axis order) put at ``starts`` in a zero volume of ``shape``."""
    if list(starts) == [0, 0, 0] and moved.shape == tuple(shape):
        return np.ascontiguousarray(moved)
    out = np.zeros(shape, dtype=moved.dtype)
    source, target = [], []
    for axis in range(3):
        begin = max(starts[axis], 0)
        end = min(starts[axis] + moved.shape[axis], shape[axis])
        if end <= begin:
            source.append(slice(0, 0))
            target.append(slice(0, 0))
            continue
        source.append(slice(begin - starts[axis], end - starts[axis]))
        target.append(slice(begin, end))
    inside = moved[tuple(source)]
    if np.count_nonzero(inside) != np.count_nonzero(moved):
        raise MaskMismatchError(
            path, f"label reaches outside the CT: its grid {moved.shape} starts at voxel {starts} of a {shape} CT"
        )
    out[tuple(target)] = inside
    return out
