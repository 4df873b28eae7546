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

    def depth(self, shape: tuple[int, ...]) -> int:
        """Number of slices of this plane in a volume of ``shape`` (z, y, x)."""
        return int(shape[self.axis])

    def image(self, volume: np.ndarray, index: int) -> np.ndarray:
        """The slice ``index`` of a [z, y, x] array, in screen order (a view, not a copy)."""
        if self is Plane.AXIAL:
            return volume[index]
        if self is Plane.CORONAL:
            return volume[::-1, index, :]
        return volume[::-1, :, index]

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
