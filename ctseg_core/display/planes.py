"""The three viewing planes of a canonical ``[z, y, x]`` volume, as 2-D images in screen order.

Display only, no Qt. Every plane's image has row 0 at the top and column 0 on the left:

- axial ``hu[z]``: rows y (anterior at the top), columns x (patient right on the left);
- coronal ``hu[:, y, :]``: rows z reversed (superior at the top), columns x (right on the left);
- sagittal ``hu[:, :, x]``: rows z reversed (superior at the top), columns y (anterior on the left).

The images are numpy views (no copy); a plane maps its (row, column) back to the (z, y, x) voxel.
"""

from __future__ import annotations

import enum

import numpy as np

Voxel = tuple[int, int, int]  # (z, y, x)


class Plane(enum.Enum):
    """A viewing plane; the value is its name in menus and on the command line."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"

    @property
    def axis(self) -> int:
        """The volume axis the plane's slice index runs along (0 z, 1 y, 2 x)."""
        return _AXES[self]

    @property
    def title(self) -> str:
        return self.value.capitalize()

    @property
    def letters(self) -> tuple[str, str, str, str]:
        """Patient directions at the (top, bottom, left, right) of the plane's images."""
        return _LETTERS[self]

    @classmethod
    def along(cls, axis: int) -> Plane:
        """The plane whose slices run along volume ``axis`` (0 z, 1 y, 2 x)."""
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0 (axial), 1 (coronal) or 2 (sagittal), got {axis}")
        return (cls.AXIAL, cls.CORONAL, cls.SAGITTAL)[axis]

    def section(self, volume: np.ndarray, index: int) -> np.ndarray:
        """Slice ``index`` in the volume's own axis order (no screen flip): a view for editing.

        Rows and columns are the two other voxel axes in order (axial [y, x], coronal [z, x], sagittal
        [z, y]), so a point of the section is (row, column) = those voxel coordinates. :meth:`image` is
        the same slice turned to screen order.
        """
        return volume[(slice(None),) * self.axis + (index,)]

    def depth(self, shape: tuple[int, ...]) -> int:
        """Number of slices of this plane in a volume of ``shape`` (z, y, x)."""
        return int(shape[self.axis])

    def image(self, volume: np.ndarray, index: int) -> np.ndarray:
        """The slice ``index`` of a [z, y, x] array, in screen order (a view, not a copy)."""
        cut = self.section(volume, index)
        return cut if self is Plane.AXIAL else cut[::-1]

    def image_shape(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(rows, columns) of the plane's images."""
        z, y, x = shape[:3]
        return {Plane.AXIAL: (y, x), Plane.CORONAL: (z, x), Plane.SAGITTAL: (z, y)}[self]

    def pixel_mm(self, spacing_mm: tuple[float, float, float]) -> tuple[float, float]:
        """(row height, column width) in mm of a plane pixel, from the volume's (dz, dy, dx)."""
        dz, dy, dx = spacing_mm
        return {Plane.AXIAL: (dy, dx), Plane.CORONAL: (dz, dx), Plane.SAGITTAL: (dz, dy)}[self]

    def voxel(self, shape: tuple[int, ...], index: int, row: int, column: int) -> Voxel:
        """The (z, y, x) voxel at (row, column) of slice ``index``."""
        depth = shape[0]
        if self is Plane.AXIAL:
            return (index, row, column)
        if self is Plane.CORONAL:
            return (depth - 1 - row, index, column)
        return (depth - 1 - row, column, index)

    def pixel(self, shape: tuple[int, ...], voxel: Voxel) -> tuple[int, int]:
        """(row, column) of a (z, y, x) voxel in this plane's images (the inverse of :meth:`voxel`)."""
        z, y, x = voxel
        depth = shape[0]
        if self is Plane.AXIAL:
            return (y, x)
        if self is Plane.CORONAL:
            return (depth - 1 - z, x)
        return (depth - 1 - z, y)

    def screen_axes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """((axis, sign) of increasing column, (axis, sign) of increasing row) in [z, y, x] voxel axes."""
        return {Plane.AXIAL: ((2, 1), (1, 1)), Plane.CORONAL: ((2, 1), (0, -1)), Plane.SAGITTAL: ((1, 1), (0, -1))}[
            self
        ]


_AXES = {Plane.AXIAL: 0, Plane.CORONAL: 1, Plane.SAGITTAL: 2}
_LETTERS = {
    Plane.AXIAL: ("A", "P", "R", "L"),
    Plane.CORONAL: ("S", "I", "R", "L"),
    Plane.SAGITTAL: ("S", "I", "A", "P"),
}
