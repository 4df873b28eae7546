"""One canonical voxel order for every scan, and the exact way back to how the scan was stored.

Scans arrive in every orientation: columns or rows flipped, slices in either order, coronal or
sagittal acquisitions, RAS NIfTI. ctseg brings each volume to one **canonical** order by axis
permutation and flips only (no resampling), so the viewer, the model, the metrics and the editor
all see the same thing whatever the file said:

- arrays are indexed ``[z, y, x]``;
- ``z`` (slices) runs **inferior → superior**, ``y`` (rows) **anterior → posterior**, ``x``
  (columns) **patient right → left**. Shown with row 0 at the top and column 0 on the left, that is
  the radiological convention: anterior at the top, the patient's right on the screen's left.
  In nibabel's axis codes (for x, y, z) the canonical grid is ``('L', 'P', 'S')`` in LPS.

The permutation and flips are found with nibabel's orientation utilities (``io_orientation``,
``ornt_transform``, ``apply_orientation``, ``inv_ornt_aff``): each stored axis goes to the patient
axis it is closest to. A :class:`Reorientation` records them and maps arrays both ways, exactly
(views, no interpolation), so every writer can put a mask back on the stored pixels.

Oblique grids (axes rotated off the patient axes) keep their exact affine: they are reordered to
the nearest canonical orientation, and :func:`obliquity_degrees` says by how much they are off, for
the loader's warning. Gantry tilt (sheared stacks) is handled by the DICOM series reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel.affines import obliquity
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

from ctseg_core.geometry import VolumeGeometry

#: For array axes (z, y, x): z along LPS axis 2 (S), y along 1 (P), x along 0 (L), all positive.
CANONICAL_ORNT = np.array([[2.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
#: Axes closer than this to a patient axis are not called oblique (degrees).
OBLIQUE_TOLERANCE_DEG = 0.1

_LETTERS_LPS = (("R", "L"), ("A", "P"), ("I", "S"))


@dataclass(frozen=True)
class Reorientation:
    """How a stored [a0, a1, a2] array becomes the canonical [z, y, x] one, and back.

    ``ornt`` is nibabel's orientation transform: for each stored axis, the canonical axis it becomes
    and 1 (kept) or -1 (flipped); ``source_shape`` is the stored array's shape.
    """

    ornt: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
    source_shape: tuple[int, int, int]

    @property
    def is_identity(self) -> bool:
        return self.ornt == ((0, 1), (1, 1), (2, 1))

    def _inverse(self) -> np.ndarray:
        """The transform from canonical back to stored: canonical axis t is stored axis a (same flip)."""
        inverse = np.zeros((3, 2))
        for axis, (target, flip) in enumerate(self.ornt):
            inverse[target] = (axis, flip)
        return inverse

    def to_canonical(self, array: np.ndarray) -> np.ndarray:
        """The stored array (leading three axes) in canonical order; a view, no copy."""
        if self.is_identity:
            return array
        return apply_orientation(array, np.asarray(self.ornt, dtype=np.float64))

    def to_source(self, array: np.ndarray) -> np.ndarray:
        """A canonical array back in the stored order, exactly; a view, no copy."""
        if self.is_identity:
            return array
        return apply_orientation(array, self._inverse())

    def canonical_affine(self, source_affine_zyx: np.ndarray) -> np.ndarray:
        """The (z, y, x, 1) → LPS affine of the canonical grid, from the stored grid's."""
        if self.is_identity:
            return np.asarray(source_affine_zyx, dtype=np.float64)
        return source_affine_zyx @ inv_ornt_aff(np.asarray(self.ornt, dtype=np.float64), self.source_shape)


def reorientation_for(source_affine_zyx: np.ndarray, source_shape: tuple[int, int, int]) -> Reorientation:
    """The permutation and flips that bring a stored grid (its (a0, a1, a2, 1) → LPS affine) to canonical."""
    start = io_orientation(source_affine_zyx)
    transform = ornt_transform(start, CANONICAL_ORNT)
    ornt = tuple((int(target), int(flip)) for target, flip in transform)
    return Reorientation(ornt, tuple(int(n) for n in source_shape))  # type: ignore[arg-type]  # 3 of each


def canonicalise(
    source_geometry: VolumeGeometry, source_shape: tuple[int, int, int]
) -> tuple[Reorientation, VolumeGeometry]:
    """The reorientation of a stored grid and the geometry of its canonical grid."""
    affine = source_geometry.affine_zyx()
    reorientation = reorientation_for(affine, source_shape)
    if reorientation.is_identity:
        return reorientation, source_geometry
    return reorientation, VolumeGeometry.from_affine_zyx(reorientation.canonical_affine(affine))


def obliquity_degrees(geometry: VolumeGeometry) -> float:
    """Largest angle (degrees) between a grid axis and the patient axis it is closest to."""
    return float(np.degrees(np.max(np.abs(obliquity(geometry.affine_lps())))))


def oblique_warnings(geometry: VolumeGeometry) -> list[str]:
    """A warning for grids whose axes are off the patient axes (shown in the nearest orientation)."""
    angle = obliquity_degrees(geometry)
    if angle <= OBLIQUE_TOLERANCE_DEG:
        return []
    return [
        f"oblique acquisition: the image axes are {angle:.1f}° off the patient axes; shown in the nearest "
        "canonical orientation without resampling, with the exact geometry kept for positions and saved masks"
    ]


def direction_letter(direction: np.ndarray) -> str:
    """Patient-side letter (DICOM LPS: R/L, A/P, I/S) of the axis an LPS vector mostly points along."""
    vector = np.asarray(direction, dtype=np.float64)
    axis = int(np.argmax(np.abs(vector)))
    return _LETTERS_LPS[axis][int(vector[axis] > 0)]


def orientation_label(geometry: VolumeGeometry) -> str:
    """The stored axes as patient letters, e.g. 'LPS' (x, y, z), for info and the README's examples."""
    affine = geometry.affine_lps()
    return "".join(direction_letter(affine[:3, axis]) for axis in range(3))


def stored_orientation_note(geometry: VolumeGeometry, reorientation: Reorientation) -> str:
    """One line for the user: how the scan was stored and whether ctseg reordered it for display."""
    label = orientation_label(geometry)
    if reorientation.is_identity:
        return f"stored {label} (canonical)"
    return f"stored {label}, shown reoriented to LPS"
