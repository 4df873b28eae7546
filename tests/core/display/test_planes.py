"""The planes' screen order, their inverse maps and letters: one definition for every picture."""

from __future__ import annotations

import numpy as np
import pytest

from ctseg_core.display.planes import Plane


@pytest.mark.parametrize("plane", list(Plane))
def test_pixel_and_voxel_are_inverse_and_agree_with_the_image(plane: Plane) -> None:
    volume = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    for voxel in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        index = voxel[plane.axis]
        row, column = plane.pixel(volume.shape, voxel)
        assert plane.voxel(volume.shape, index, row, column) == voxel
        assert plane.image(volume, index)[row, column] == volume[voxel]
    assert plane.image(volume, 0).shape == plane.image_shape(volume.shape)


def test_superior_is_at_the_top_of_coronal_and_sagittal_images() -> None:
    volume = np.zeros((4, 5, 6))
    volume[-1] = 1  # the last z is the most superior in the canonical grid
    for plane in (Plane.CORONAL, Plane.SAGITTAL):
        assert plane.image(volume, 0)[0].all() and plane.letters[0] == "S"
    assert Plane.AXIAL.letters == ("A", "P", "R", "L")


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_section_is_the_unflipped_slice_and_writes_through(axis: int) -> None:
    volume = np.zeros((4, 5, 6))
    plane = Plane.along(axis)
    assert plane.axis == axis
    plane.section(volume, 1)[0, 0] = 7
    assert volume.sum() == 7 and np.take(volume, 1, axis=axis)[0, 0] == 7


def test_an_axis_outside_the_volume_is_refused() -> None:
    with pytest.raises(ValueError, match="axis must be 0"):
        Plane.along(3)
