"""Partial, thick-slice scans made from a full scan (the test cases for thick and partial CT)."""

from __future__ import annotations

import numpy as np
import pytest

from ctseg_core.synth.variants import thick_partial_scan


def _scan() -> tuple[np.ndarray, np.ndarray]:
    hu = np.arange(60, dtype=np.int16)[:, None, None] * np.ones((1, 4, 4), np.int16)
    mask = np.zeros(hu.shape, dtype=bool)
    mask[20:50] = True  # the liver spans slices 20–49
    return hu, mask


def test_inferior_crop_starts_below_the_liver_and_averages_slabs() -> None:
    hu, mask = _scan()
    thick, thick_mask, spacing = thick_partial_scan(hu, mask, (1.25, 0.8, 0.8), "inferior", slices=6, thickness_mm=5.0)
    assert spacing == (5.0, 0.8, 0.8) and thick.shape == (6, 4, 4)
    np.testing.assert_array_equal(thick[:, 0, 0], np.rint([17.5, 21.5, 25.5, 29.5, 33.5, 37.5]).astype(np.int16))
    assert not thick_mask[0].any() and thick_mask[1:].all()  # slab 16–19 is outside, 20–23 inside


def test_dome_crop_ends_above_the_liver() -> None:
    hu, mask = _scan()
    thick, thick_mask, _ = thick_partial_scan(hu, mask, (1.25, 0.8, 0.8), "dome", slices=4, thickness_mm=5.0)
    assert thick[-1, 0, 0] == int(np.rint(np.mean([50, 51, 52, 53])))
    assert thick_mask[:-1].all() and not thick_mask[-1].any()


def test_bad_region_and_empty_mask_are_errors() -> None:
    hu, mask = _scan()
    with pytest.raises(ValueError, match="region"):
        thick_partial_scan(hu, mask, (1.25, 0.8, 0.8), "middle")
    with pytest.raises(ValueError, match="empty"):
        thick_partial_scan(hu, np.zeros_like(mask), (1.25, 0.8, 0.8))
