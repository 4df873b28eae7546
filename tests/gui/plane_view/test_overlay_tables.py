"""Overlay colour tables and code images: what each voxel class looks like on screen."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ctseg_core.display import palette
from ctseg_core.metrics import surface
from ctseg_gui.plane_view.overlay_tables import BOTH, EDGE_SHIFT, GT, NONE, PRED, code_image, colour_table, colourise
from ctseg_gui.state.overlay_settings import OverlaySettings, OverlayStyle


def _rgba(table: np.ndarray, fill: int, edge: int = NONE) -> tuple[int, ...]:
    return tuple(int(v) for v in table[fill | edge << EDGE_SHIFT])


def test_code_image_marks_gt_prediction_both_and_their_outlines() -> None:
    gt = np.array([[1, 1, 0, 0]], bool)
    pred = np.array([[0, 1, 1, 0]], bool)
    assert code_image(gt, pred, gt.shape).tolist() == [[GT, BOTH, PRED, NONE]]
    assert code_image(None, pred, gt.shape).tolist() == [[0, 2, 2, 0]]
    assert code_image(None, None, gt.shape).tolist() == [[0, 0, 0, 0]]
    square = np.zeros((5, 5), bool)
    square[1:4, 1:4] = True
    codes = code_image(square, None, square.shape, outlines=True)
    assert codes[2, 2] == GT and codes[1, 1] == GT | GT << EDGE_SHIFT and codes[0, 0] == NONE


def test_fill_colours_opacity_and_green_plus_magenta_overlap() -> None:
    table = colour_table(OverlaySettings(opacity=0.5, style=OverlayStyle.FILL))
    assert _rgba(table, NONE)[3] == 0
    assert _rgba(table, GT) == (*palette.GROUND_TRUTH, 128) and _rgba(table, PRED) == (*palette.PREDICTION, 128)
    assert _rgba(table, BOTH)[:3] == tuple(
        min(255, a + b) for a, b in zip(palette.GROUND_TRUTH, palette.PREDICTION, strict=False)
    )
    assert _rgba(table, GT, edge=GT) == (*palette.GROUND_TRUTH, 128)  # no outlines in this style


def test_outlines_are_opaque_and_drawn_over_the_fill() -> None:
    table = colour_table(OverlaySettings(opacity=0.3, style=OverlayStyle.FILL_OUTLINE))
    assert _rgba(table, BOTH, edge=PRED) == (*palette.PREDICTION, 255)
    assert _rgba(table, BOTH)[3] == round(0.3 * 255)
    outline_only = colour_table(OverlaySettings(style=OverlayStyle.OUTLINE))
    assert _rgba(outline_only, GT)[3] == 0 and _rgba(outline_only, GT, edge=GT) == (*palette.GROUND_TRUTH, 255)


def test_hidden_layer_is_transparent_and_overlap_takes_the_visible_colour() -> None:
    table = colour_table(OverlaySettings(show_gt=False))
    assert _rgba(table, GT)[3] == 0 and _rgba(table, GT, edge=GT)[3] == 0
    assert _rgba(table, BOTH)[:3] == palette.PREDICTION
    assert not colour_table(OverlaySettings(show_gt=False, show_prediction=False))[:, 3].any()


def test_compare_mode_fills_tp_fp_fn_without_outlines() -> None:
    table = colour_table(OverlaySettings(style=OverlayStyle.COMPARE))
    assert _rgba(table, BOTH)[:3] == palette.TRUE_POSITIVE
    assert _rgba(table, PRED)[:3] == palette.FALSE_POSITIVE
    assert _rgba(table, GT)[:3] == palette.FALSE_NEGATIVE
    assert _rgba(table, GT, edge=GT) == _rgba(table, GT)


def test_colourise_gives_rgba_bytes_per_pixel() -> None:
    table = colour_table(OverlaySettings(opacity=1.0, style=OverlayStyle.FILL))
    rgba = colourise(np.array([[NONE, GT], [PRED, BOTH]], np.uint8), table)
    assert rgba.shape == (2, 2, 4) and rgba.dtype == np.uint8
    assert rgba[0, 1].tolist() == [*palette.GROUND_TRUTH, 255]
    assert rgba[1, 0].tolist() == [*palette.PREDICTION, 255]
    assert rgba[0, 0, 3] == 0


def test_the_outline_drawn_is_the_surface_the_metrics_measure_distances_on() -> None:
    """One core rule for both: the mask minus its erosion by the face-connected cross (SLIVER07)."""
    rng = np.random.default_rng(4)
    for shape in [(9, 11), (2, 7), (1, 1), (5, 6, 7), (12, 30, 25)]:
        for fraction in (0.2, 0.6, 0.95):
            mask = rng.random(shape) < fraction
            eroded = ndimage.binary_erosion(mask, ndimage.generate_binary_structure(mask.ndim, 1), border_value=0)
            assert np.array_equal(surface(mask), mask & ~eroded), (shape, fraction)
    square = np.zeros((6, 6), bool)
    square[1:5, 1:5] = True
    codes = code_image(square, None, square.shape, outlines=True)
    assert np.array_equal(codes >> EDGE_SHIFT == GT, surface(square))


def test_outline_is_the_one_pixel_border_closed_at_the_image_edge() -> None:
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    edge = surface(mask)
    assert edge.sum() == 16 and not edge[2:5, 2:5].any()
    assert surface(np.ones((4, 4), bool)).sum() == 12  # the image edge counts as outside
    assert not surface(np.zeros((4, 4), bool)).any()


def test_styles_say_which_layers_they_draw() -> None:
    assert OverlayStyle.FILL.fills and not OverlayStyle.FILL.outlines
    assert OverlayStyle.OUTLINE.outlines and not OverlayStyle.OUTLINE.fills
    assert OverlayStyle.FILL_OUTLINE.fills and OverlayStyle.FILL_OUTLINE.outlines
    assert OverlayStyle.COMPARE.fills and not OverlayStyle.COMPARE.outlines


def test_the_bounding_box_outline_equals_the_core_surface() -> None:
    from ctseg_gui.plane_view.overlay_tables import outline

    rng = np.random.default_rng(3)
    for _ in range(40):
        mask = np.zeros((20, 30), bool)
        r, c = rng.integers(0, 20), rng.integers(0, 30)
        mask[max(r - rng.integers(0, 6), 0) : r + 1, max(c - rng.integers(0, 8), 0) : c + 1] = True
        mask[rng.integers(0, 20), rng.integers(0, 30)] = True
        assert np.array_equal(outline(mask), surface(mask))
        assert np.array_equal(outline(mask[::-1, ::2]), surface(mask[::-1, ::2]))
    assert not outline(np.zeros((5, 5), bool)).any()
    assert np.array_equal(outline(np.ones((4, 6), bool)), surface(np.ones((4, 6), bool)))
