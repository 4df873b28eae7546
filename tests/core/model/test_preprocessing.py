"""Shared preprocessing: the body crop, resizing there and back, windowing, 2.5D context."""

from __future__ import annotations

import numpy as np
import pytest

from ctseg_core.metrics import dice
from ctseg_core.model.postprocess import fill_holes, largest_component, postprocess
from ctseg_core.model.preprocessing import (
    InputSpec,
    body_crop_box,
    crop_and_resize,
    crop_and_resize_mask,
    normalise_hu,
    restore_to_grid,
    with_context,
)
from ctseg_core.synth.phantom import make_phantom


@pytest.mark.parametrize("size", [256, 512, 768])
@pytest.mark.slow
def test_mask_there_and_back_keeps_dice_above_098(size: int) -> None:
    phantom = make_phantom(seed=7, slices=12, size=size)
    spec = InputSpec(size=160)
    _, box = crop_and_resize(phantom.hu, spec)
    small = crop_and_resize_mask(phantom.masks["liver"], spec, box)
    back = restore_to_grid(small, box) >= 0.5
    assert back.shape == phantom.hu.shape
    assert dice(back, phantom.masks["liver"]) >= 0.98


def test_crop_box_is_square_centred_and_holds_the_body_with_a_margin() -> None:
    hu = np.full((3, 200, 300), -1000, np.int16)
    hu[:, 60:140, 100:260] = 40  # a body 80 rows × 160 columns, off centre
    hu[1, 5, 5] = 500  # a speck of noise in a corner is not the body
    box = body_crop_box(hu)
    assert box.side >= 160 and box.side <= 160 * 1.5  # square, sized by the longer side plus a margin
    assert box.y0 < 60 and box.y0 + box.side > 140  # holds every body row
    assert box.x0 < 100 and box.x0 + box.side > 260  # and every body column
    assert abs((box.y0 + box.side / 2) - 100) <= 1 and abs((box.x0 + box.side / 2) - 180) <= 1  # centred on it
    assert box.x0 > 5 or box.y0 > 5  # the speck did not stretch the box


def test_crop_may_overhang_the_image_and_still_inverts() -> None:
    hu = np.full((2, 64, 64), -1000, np.int16)
    hu[:, 0:64, 20:40] = 50  # a tall body touching the top and bottom edges
    spec = InputSpec(size=32)
    _stack, box = crop_and_resize(hu, spec)
    assert box.x0 < 20 and box.side >= 64
    mask = hu > 0
    back = restore_to_grid(crop_and_resize_mask(mask, spec, box), box) >= 0.5
    assert dice(back, mask) > 0.95


def test_normalise_clips_to_the_window() -> None:
    spec = InputSpec(hu_low=-100, hu_high=300)
    out = normalise_hu(np.array([-1000, -100, 100, 300, 2000], np.float32), spec)
    np.testing.assert_allclose(out, [0, 0, 0.5, 1, 1])


def test_context_stacks_neighbours_and_repeats_edges() -> None:
    stack = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 2, 2), np.float32)
    out = with_context(stack, np.array([0, 3]), context=1)
    assert out.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(out[0, 0, 0], [0, 0, 1])
    np.testing.assert_array_equal(out[1, 0, 0], [2, 3, 3])


def test_postprocess_keeps_the_largest_component_and_fills_holes() -> None:
    probability = np.zeros((5, 20, 20), np.float32)
    probability[1:4, 2:12, 2:12] = 0.9
    probability[2, 6, 6] = 0.1  # hole
    probability[2, 16:18, 16:18] = 0.8  # island
    mask = postprocess(probability, 0.5)
    assert mask[2, 6, 6] and not mask[2, 16, 16]
    assert largest_component(np.zeros((2, 2, 2), bool)).sum() == 0
    ring = np.zeros((1, 5, 5), bool)
    ring[0, 1:4, 1:4] = True
    ring[0, 2, 2] = False
    assert fill_holes(ring)[0, 2, 2]


def test_context_at_a_physical_distance_interpolates_between_slices() -> None:
    """Neighbours 1.6 mm away on a 5 mm scan lie 0.32 slices away: a linear mix of two slices."""
    stack = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    spec = InputSpec(context=1, context_mm=1.6)
    step = spec.context_step(5.0)
    assert step == pytest.approx(0.32)
    inputs = with_context(stack, np.array([0, 2, 4]), 1, step)
    assert inputs.shape == (3, 2, 2, 3)
    np.testing.assert_allclose(inputs[1, 0, 0], [1.68, 2.0, 2.32], atol=1e-5)
    np.testing.assert_allclose(inputs[0, 0, 0], [0.0, 0.0, 0.32], atol=1e-5)  # edges repeat
    np.testing.assert_allclose(inputs[2, 0, 0], [3.68, 4.0, 4.0], atol=1e-5)
    # On the training spacing (and with no context_mm) it is the plain slice pick of before.
    assert spec.context_step(1.6) == pytest.approx(1.0)
    assert InputSpec(context_mm=None).context_step(5.0) == 1.0
    np.testing.assert_array_equal(with_context(stack, np.array([2]), 1, 1.0)[0, 0, 0], [1, 2, 3])
    # Thin slices: 1.6 mm is two 0.8 mm slices away.
    np.testing.assert_allclose(with_context(stack, np.array([2]), 1, spec.context_step(0.8))[0, 0, 0], [0, 2, 4])
