"""Mask editing tools: brush in mm, intensity masking, gap-free strokes, fills, interpolation, islands."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from ctseg_core.annotate import editing
from ctseg_core.annotate.editing import (
    disk_footprint,
    fill_holes_2d,
    flood_fill_2d,
    interpolate_all,
    interpolate_slices,
    keep_largest_component,
    paint,
    paint_stroke,
    remove_small_islands,
)


def _disk(shape: tuple[int, int], centre: tuple[int, int], radius: float) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2


def test_footprint_is_a_disk_in_mm_and_an_ellipse_in_pixels() -> None:
    square = disk_footprint(5.0, (1.0, 1.0))
    assert square.shape == (11, 11)
    assert square.sum() == pytest.approx(math.pi * 25, rel=0.1)
    np.testing.assert_array_equal(square, square.T)
    rows_fine = disk_footprint(5.0, (0.5, 1.0))  # rows twice as dense: twice as many rows cover 5 mm
    assert rows_fine.shape == (21, 11)
    assert rows_fine.sum() == pytest.approx(2 * math.pi * 25, rel=0.1)


def test_brush_smaller_than_a_pixel_paints_one_pixel() -> None:
    footprint = disk_footprint(0.2, (0.8, 0.8))
    assert footprint.shape == (1, 1) and footprint.all()


def test_paint_stamps_the_disk_and_erase_removes_it() -> None:
    label = np.zeros((3, 64, 64), dtype=bool)
    paint(label, 1, (30.4, 20.6), 4.0, (1.0, 1.0), True)
    expected = np.zeros_like(label)
    expected[1] = _disk((64, 64), (30, 21), 4.0)
    np.testing.assert_array_equal(label, expected)
    paint(label, 1, (30, 21), 2.0, (1.0, 1.0), False)
    assert not label[1, 30, 21] and label[1, 30, 25]


def test_paint_is_clipped_at_the_slice_border() -> None:
    label = np.zeros((1, 32, 32), dtype=bool)
    paint(label, 0, (0, 0), 5.0, (1.0, 1.0), True)
    assert label.sum() == _disk((32, 32), (0, 0), 5.0).sum()
    paint(label, 0, (-50, 100), 5.0, (1.0, 1.0), True)  # entirely outside: nothing, no error
    assert label.sum() == _disk((32, 32), (0, 0), 5.0).sum()


def test_paint_with_hu_range_changes_only_voxels_in_range() -> None:
    hu = np.full((1, 40, 40), -100, dtype=np.int16)
    hu[0, :, 20:] = 100  # right half "liver", left half "fat"
    label = np.zeros((1, 40, 40), dtype=bool)
    paint(label, 0, (20, 20), 8.0, (1.0, 1.0), True, hu=hu, hu_range=(0, 200))
    assert label[0, :, 20:].any() and not label[0, :, :20].any()
    label[0, :, :] = True
    paint(label, 0, (20, 20), 8.0, (1.0, 1.0), False, hu=hu, hu_range=(200, 0))  # limits in any order
    assert label[0, :, :20].all() and not label[0, 20, 20:27].any()


def test_hu_range_without_hu_is_refused() -> None:
    with pytest.raises(ValueError, match="HU volume"):
        paint(np.zeros((1, 8, 8), dtype=bool), 0, (4, 4), 2.0, (1.0, 1.0), True, hu_range=(0, 100))


def test_fast_stroke_leaves_no_gaps() -> None:
    label = np.zeros((2, 128, 128), dtype=bool)
    paint_stroke(label, 1, [(10, 10), (100, 120), (20, 110)], 3.0, (0.7, 0.7), True)
    _, count = ndimage.label(label[1], structure=ndimage.generate_binary_structure(2, 1))
    assert count == 1
    for start, end in [((10, 10), (100, 120)), ((100, 120), (20, 110))]:
        t = np.linspace(0, 1, 400)[:, None]
        line = np.rint(np.array(start) + t * (np.array(end) - np.array(start))).astype(int)
        assert label[1, line[:, 0], line[:, 1]].all()
    # The band is as wide as the brush: 3 mm at 0.7 mm pixels is 4 pixels either side of the line.
    assert label[1, 10 + 4, 10] and not label[1, 10 + 6, 10]
    assert not label[0].any()


def test_stroke_samples_at_most_half_the_radius_apart() -> None:
    centres = editing.stroke_centres([(0.0, 0.0), (0.0, 100.0)], step_px=2.5)
    steps = np.diff(np.array(centres)[:, 1])
    assert centres[0] == (0, 0) and centres[-1] == (0, 100)
    assert steps.max() <= 3 and steps.min() >= 1


def test_flood_fill_fills_the_connected_region_of_the_seed_only() -> None:
    hu = np.full((3, 30, 30), -500, dtype=np.int16)
    hu[1, 5:15, 5:15] = 80
    hu[1, 20:25, 20:25] = 80  # same HU, not connected to the seed
    hu[1, 15, 5] = 80  # diagonal contact only (15,5)-(16,6) would need 8-connectivity
    hu[1, 16, 6] = 80
    label = np.zeros((3, 30, 30), dtype=bool)
    filled = flood_fill_2d(label, 1, (7, 7), hu, (50, 150))
    assert filled == 101
    assert label[1, 5:15, 5:15].all() and label[1, 15, 5]
    assert not label[1, 20:25, 20:25].any() and not label[1, 16, 6]
    assert not label[0].any() and not label[2].any()
    assert flood_fill_2d(label, 1, (0, 0), hu, (50, 150)) == 0  # seed outside the HU range
    assert flood_fill_2d(label, 1, (-3, 40), hu, (50, 150)) == 0  # seed outside the image
    assert flood_fill_2d(label, 1, (7, 7), hu, (50, 150), value=False) == 101
    assert not label.any()


def test_flood_fill_on_a_phantom_liver_stays_inside_the_hu_range(tmp_path: Path) -> None:
    from ctseg_core.io.loading import load_patient
    from ctseg_core.synth.phantom import write_phantom

    patient = load_patient(write_phantom(tmp_path / "p", seed=4, slices=8, size=256), masks=["liver"])
    liver = patient.masks["liver"]
    z = int(np.argmax(liver.sum(axis=(1, 2))))
    seed = tuple(int(v) for v in np.argwhere(liver[z])[len(np.argwhere(liver[z])) // 2])
    label = np.zeros_like(liver)
    hu_range = (int(patient.hu[z][seed]) - 60, int(patient.hu[z][seed]) + 60)
    assert flood_fill_2d(label, z, seed, patient.hu, hu_range) > 0
    values = patient.hu[z][label[z]]
    assert values.min() >= hu_range[0] and values.max() <= hu_range[1]


def test_fill_holes_fills_enclosed_background_on_one_slice() -> None:
    label = np.zeros((2, 20, 20), dtype=bool)
    label[:, 4:16, 4:16] = True
    label[:, 8:12, 8:12] = False
    assert fill_holes_2d(label, 0) == 16
    assert label[0, 4:16, 4:16].all()
    assert not label[1, 8:12, 8:12].any()


def test_interpolation_grows_a_disk_smoothly_between_two_slices() -> None:
    label = np.zeros((5, 80, 80), dtype=bool)
    label[0] = _disk((80, 80), (40, 40), 10)
    label[4] = _disk((80, 80), (40, 40), 20)
    first, last = label[0].copy(), label[4].copy()
    assert interpolate_slices(label, 4, 0) == [1, 2, 3]
    np.testing.assert_array_equal(label[0], first)
    np.testing.assert_array_equal(label[4], last)
    areas = label.sum(axis=(1, 2))
    assert list(areas) == sorted(areas)
    for z, radius in zip((1, 2, 3), (12.5, 15.0, 17.5), strict=False):
        assert areas[z] == pytest.approx(math.pi * radius**2, rel=0.08)
        assert label[z, 40, 40]


def test_interpolation_moves_a_shape_between_positions() -> None:
    label = np.zeros((3, 40, 60), dtype=bool)
    label[0, 10:20, 5:15] = True
    label[2, 10:20, 25:35] = True
    assert interpolate_slices(label, 0, 2) == [1]
    columns = np.flatnonzero(label[1].any(axis=0))
    assert columns.min() == 15 and columns.max() == 24


def test_interpolation_needs_two_annotated_slices() -> None:
    label = np.zeros((4, 10, 10), dtype=bool)
    label[0, 2:5, 2:5] = True
    with pytest.raises(ValueError, match="annotated"):
        interpolate_slices(label, 0, 3)


def test_interpolate_all_fills_every_gap_and_keeps_drawn_slices() -> None:
    label = np.zeros((9, 50, 50), dtype=bool)
    for z in (1, 4, 8):
        label[z] = _disk((50, 50), (25, 25), 5 + z)
    drawn = label[[1, 4, 8]].copy()
    assert interpolate_all(label) == [2, 3, 5, 6, 7]
    np.testing.assert_array_equal(label[[1, 4, 8]], drawn)
    assert not label[0].any()
    assert all(label[z].any() for z in range(1, 9))


def test_remove_small_islands_uses_face_connectivity_in_3d() -> None:
    label = np.zeros((6, 30, 30), dtype=bool)
    label[1:5, 5:20, 5:20] = True  # the organ
    label[5, 25, 25] = label[5, 25, 26] = True  # a 2-voxel speck on another slice
    label[0, 4, 4] = True  # touches the organ only at a corner: an island of its own
    assert remove_small_islands(label, min_voxels=10) == [0, 5]
    assert label.sum() == 4 * 15 * 15
    assert remove_small_islands(label, min_voxels=10) == []
    assert remove_small_islands(np.zeros((2, 4, 4), dtype=bool), 5) == []


def test_keep_largest_component_drops_every_other_piece() -> None:
    label = np.zeros((5, 30, 30), dtype=bool)
    label[0:3, 0:10, 0:10] = True
    label[3:5, 20:30, 20:30] = True  # smaller: 2 slices
    assert keep_largest_component(label) == [3, 4]
    assert label.sum() == 300 and label[0:3, 0:10, 0:10].all()
    assert keep_largest_component(label) == []
    assert keep_largest_component(np.zeros((2, 4, 4), dtype=bool)) == []
