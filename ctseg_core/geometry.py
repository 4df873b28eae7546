"""Slice geometry: order, spacing and the voxel-to-patient affine.

Slice order by file name or InstanceNumber alone is a known source of flipped and shuffled
volumes, so ctseg orders slices by projecting ImagePositionPatient onto the slice normal
(row direction × column direction), as highdicom does. Only where positions or orientation are
missing does it fall back to InstanceNumber, then to natural file-name order, and it says so.

Conventions used everywhere in ctseg:
- volumes are indexed ``[z, y, x]`` = ``[slice, row, column]``;
- ``spacing_mm`` is ``(dz, dy, dx)``: dz between slice centres along the normal, dy between rows,
  dx between columns (DICOM PixelSpacing is ``[dy, dx]``);
- patient coordinates are DICOM LPS millimetres.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Positions closer than this along the normal are the same slice (mm).
POSITION_TOLERANCE_MM = 1e-3
#: A step differing from the median step by more than this fraction is "uneven".
UNEVEN_TOLERANCE = 0.01
#: A step larger than this multiple of the median step is a gap (missing slices).
GAP_FACTOR = 1.5

SLICE_ORDER_POSITION = "position"
SLICE_ORDER_INSTANCE = "instance"
SLICE_ORDER_FILENAME = "filename"


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """Unit normal of a slice from ImageOrientationPatient (row cosines, column cosines)."""
    row = np.asarray(orientation[:3], dtype=np.float64)
    col = np.asarray(orientation[3:6], dtype=np.float64)
    normal = np.cross(row, col)
    length = float(np.linalg.norm(normal))
    if length < 1e-6:
        raise ValueError(f"degenerate ImageOrientationPatient {list(orientation)}")
    return normal / length


def natural_sort_key(name: str) -> list[object]:
    """Key that sorts 'image_2' before 'image_10' (digits compared as numbers)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class SliceOrder:
    """How the slices of a series are ordered and spaced."""

    order: list[int]  # indices into the input list, in volume order
    method: str  # SLICE_ORDER_POSITION | SLICE_ORDER_INSTANCE | SLICE_ORDER_FILENAME
    positions_mm: np.ndarray | None  # position of each ordered slice along the normal
    warnings: list[str]


def order_slices(
    positions: Sequence[Sequence[float] | None],
    orientation: Sequence[float] | None,
    instance_numbers: Sequence[int | None],
    names: Sequence[str],
) -> SliceOrder:
    """Order slices by geometry, with the stated fallbacks.

    1. ImagePositionPatient projected on the normal (needs every position and an orientation);
    2. InstanceNumber (needs every number, all different);
    3. natural file-name order.
    Duplicates along the normal are returned in the order; the caller decides whether they are
    identical copies (dropped) or an error.
    """
    count = len(names)
    warnings: list[str] = []
    if orientation is not None and all(p is not None for p in positions):
        normal = slice_normal(orientation)
        along = np.array([float(np.dot(normal, p)) for p in positions], dtype=np.float64)  # type: ignore[arg-type]  # None positions were excluded just above
        order = sorted(range(count), key=lambda i: (along[i], natural_sort_key(names[i])))
        return SliceOrder(order, SLICE_ORDER_POSITION, along[order], warnings)
    if orientation is None:
        missing = "ImageOrientationPatient"
    else:
        lacking = [names[i] for i, p in enumerate(positions) if p is None]
        listed = ", ".join(lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
        missing = f"ImagePositionPatient (in {listed})"
    numbers = list(instance_numbers)
    if all(n is not None for n in numbers) and len(set(numbers)) == count:
        warnings.append(f"{missing} missing: slices ordered by InstanceNumber")
        order = sorted(range(count), key=lambda i: numbers[i])  # type: ignore[arg-type, return-value]  # every number checked not None just above
        return SliceOrder(order, SLICE_ORDER_INSTANCE, None, warnings)
    warnings.append(f"{missing} and unique InstanceNumbers missing: slices ordered by file name")
    order = sorted(range(count), key=lambda i: natural_sort_key(names[i]))
    return SliceOrder(order, SLICE_ORDER_FILENAME, None, warnings)


def duplicate_runs(positions_mm: np.ndarray) -> list[list[int]]:
    """Groups (indices into the ordered list) of slices sharing one position."""
    runs: list[list[int]] = []
    current = [0] if len(positions_mm) else []
    for i in range(1, len(positions_mm)):
        if positions_mm[i] - positions_mm[i - 1] <= POSITION_TOLERANCE_MM:
            current.append(i)
        else:
            if len(current) > 1:
                runs.append(current)
            current = [i]
    if len(current) > 1:
        runs.append(current)
    return runs


def slice_spacing(positions_mm: np.ndarray, names: Sequence[str]) -> tuple[float, list[str]]:
    """Slice spacing (mm) from positions, with warnings naming gaps and uneven steps.

    Uses the median step: robust to a single gap. SliceThickness is not spacing
    (overlapping reconstructions have thickness > spacing), so it is never used here.
    """
    if len(positions_mm) < 2:
        return 0.0, []
    steps = np.diff(positions_mm)
    median = float(np.median(steps))
    gaps = [i for i, s in enumerate(steps) if s > GAP_FACTOR * median]
    uneven = [i for i, s in enumerate(steps) if i not in gaps and abs(s - median) > UNEVEN_TOLERANCE * median]
    warnings = [
        f"gap of {steps[i]:.3g} mm (expected {median:.3g} mm) between slices "
        f"{i} ({names[i]}) and {i + 1} ({names[i + 1]}): slices may be missing"
        for i in gaps[:5]
    ]
    if len(gaps) > 5:
        warnings.append(f"… and {len(gaps) - 5} more gaps in the slice positions")
    if uneven:
        listed = ", ".join(f"{i}-{i + 1} ({steps[i]:.3g} mm)" for i in uneven[:10])
        more = f" and {len(uneven) - 10} more" if len(uneven) > 10 else ""
        warnings.append(f"uneven slice spacing (median {median:.3g} mm) between slices {listed}{more}")
    return median, warnings


def nearest_slice(positions_mm: np.ndarray, along_mm: float, slice_spacing_mm: float) -> int | None:
    """Index of the slice at ``along_mm`` on the normal, or None when none lies within a tenth of
    the slice spacing (at least 0.01 mm): masks and SEG frames must sit on CT slices, not between."""
    nearest = int(np.argmin(np.abs(positions_mm - along_mm)))
    tolerance = max(0.01, 0.1 * slice_spacing_mm)
    return nearest if abs(float(positions_mm[nearest]) - along_mm) <= tolerance else None


@dataclass(frozen=True)
class VolumeGeometry:
    """Where a [z, y, x] voxel grid sits in patient space (DICOM LPS, mm).

    ``slice_direction`` is the direction of increasing slice index; None means the slice normal
    (row × column), which is what a DICOM stack sorted along its normal has. A NIfTI grid may run
    against the normal (a left-handed affine), so it states its own.
    """

    origin_mm: tuple[float, float, float]  # position of voxel [0, 0, 0] (ImagePositionPatient of slice 0)
    row_direction: tuple[float, float, float]  # direction of increasing column index (x)
    column_direction: tuple[float, float, float]  # direction of increasing row index (y)
    spacing_mm: tuple[float, float, float]  # (dz, dy, dx)
    slice_direction: tuple[float, float, float] | None = None

    @property
    def normal(self) -> np.ndarray:
        return slice_normal(tuple(self.row_direction) + tuple(self.column_direction))

    @property
    def slice_axis(self) -> np.ndarray:
        """Unit direction of increasing slice index (the normal unless stated otherwise)."""
        if self.slice_direction is None:
            return self.normal
        return np.asarray(self.slice_direction, dtype=np.float64)

    def affine_lps(self) -> np.ndarray:
        """4×4 matrix mapping (x, y, z, 1) voxel indices to LPS mm."""
        dz, dy, dx = self.spacing_mm
        affine = np.eye(4)
        affine[:3, 0] = np.asarray(self.row_direction) * dx
        affine[:3, 1] = np.asarray(self.column_direction) * dy
        affine[:3, 2] = self.slice_axis * (dz if dz > 0 else 1.0)
        affine[:3, 3] = self.origin_mm
        return affine

    def affine_zyx(self) -> np.ndarray:
        """4×4 matrix mapping (z, y, x, 1) voxel indices (our array order) to LPS mm."""
        return self.affine_lps()[:, [2, 1, 0, 3]]

    def affine_ras(self) -> np.ndarray:
        """The same affine in NIfTI's RAS convention (x and y flipped)."""
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ self.affine_lps()

    def slice_position_mm(self, z_index: int) -> np.ndarray:
        """Position (LPS mm) of voxel [z_index, 0, 0]: ImagePositionPatient of that slice."""
        return np.asarray(self.origin_mm) + self.slice_axis * self.spacing_mm[0] * z_index

    def voxel_to_mm(self, z: float, y: float, x: float) -> np.ndarray:
        """Patient position (LPS mm) of a voxel centre."""
        return (self.affine_lps() @ np.array([x, y, z, 1.0]))[:3]

    @classmethod
    def from_affine_zyx(cls, affine: np.ndarray) -> VolumeGeometry:
        """The geometry of a [z, y, x] grid from its (z, y, x, 1) → LPS affine (orthogonal or not)."""
        columns = np.asarray(affine, dtype=np.float64)[:3, :3]
        spacing = np.linalg.norm(columns, axis=0)
        if np.any(spacing <= 0) or not np.all(np.isfinite(columns)):
            raise ValueError("degenerate affine: an axis has zero or non-finite length")
        slice_dir, col_dir, row_dir = (columns / spacing).T
        normal = np.cross(row_dir, col_dir)
        explicit = None if np.allclose(normal, slice_dir, atol=1e-9) else _as_triple(slice_dir)
        return cls(
            _as_triple(affine[:3, 3]),
            _as_triple(row_dir),
            _as_triple(col_dir),
            (float(spacing[0]), float(spacing[1]), float(spacing[2])),
            explicit,
        )


def _as_triple(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


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


def checked_affine(affine_lps: np.ndarray) -> np.ndarray:
    """``affine_lps`` as a float64 4×4 array; ValueError when it has another shape or is singular."""
    affine = np.asarray(affine_lps, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f"affine_lps must be 4×4, got shape {affine.shape}")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ValueError("affine_lps is singular")
    return affine
