"""Sagittal slices from the background copy are the same pixels as the strided view."""

from __future__ import annotations

import gc

import numpy as np

from ctseg_core.display.planes import Plane
from ctseg_gui.plane_view.sagittal_copies import SagittalCopies


def test_sagittal_copy_matches_the_strided_view_and_is_made_once() -> None:
    rng = np.random.default_rng(0)
    volume = rng.integers(-1000, 1000, (7, 9, 11)).astype(np.int16)
    copies = SagittalCopies()
    first = copies.image(volume, 3)  # before the copy exists: the strided view
    assert np.array_equal(first, Plane.SAGITTAL.image(volume, 3))
    copies.wait()
    assert copies.held() == 1
    for index in range(volume.shape[2]):
        image = copies.image(volume, index)
        assert image.flags.c_contiguous
        assert np.array_equal(image, Plane.SAGITTAL.image(volume, index))
    assert copies.held() == 1  # the same volume is copied once


def test_a_new_volume_gets_its_own_copy_and_a_dead_one_is_dropped() -> None:
    copies = SagittalCopies()
    old = np.zeros((4, 5, 6), bool)
    copies.image(old, 0)
    copies.wait()
    new = np.ones((4, 5, 6), bool)
    assert copies.image(new, 2).all()  # not the old copy's pixels
    copies.wait()
    assert copies.image(new, 2).all()
    del old
    gc.collect()
    assert copies.held() == 1


def test_volumes_past_the_budget_are_read_strided() -> None:
    copies = SagittalCopies(budget_bytes=100)
    volume = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    assert np.array_equal(copies.image(volume, 1), Plane.SAGITTAL.image(volume, 1))
    copies.wait()
    assert copies.held() == 0
