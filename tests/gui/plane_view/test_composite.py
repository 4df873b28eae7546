"""The composite a plane view draws: CT grey, uncertainty heat map, mask overlay and label blended as Qt
would paint the layers one over another, in every overlay style, from one table lookup."""

from __future__ import annotations

import numpy as np
import pytest

from ctseg_core.display import palette
from ctseg_gui.plane_view.overlay_tables import (
    BOTH,
    EDGE_SHIFT,
    GT,
    LABEL_EDGE,
    LABEL_FILL,
    NONE,
    PRED,
    UNCERTAINTY_BANDS,
    colour_table,
    composite,
    composite_table,
    label_table,
    uncertainty_band,
    uncertainty_table,
)
from ctseg_gui.state.overlay_settings import OverlaySettings, OverlayStyle


def _over(below: np.ndarray, rgba: np.ndarray) -> np.ndarray:
    """One layer painted over another, non-premultiplied: src · a + dst · (1 − a)."""
    alpha = rgba[3] / 255.0
    return below * (1 - alpha) + rgba[:3].astype(float) * alpha


def _expected(grey: int, code: int, label: int, band: int | None, settings: OverlaySettings) -> list[int]:
    colour = np.full(3, float(grey))
    bands = uncertainty_table(settings)
    if band is not None and bands is not None:
        colour = _over(colour, bands[band])
    colour = _over(colour, colour_table(settings)[code])
    colour = _over(colour, label_table(settings)[label])
    return [*np.rint(colour).astype(int).tolist(), 255]


@pytest.mark.parametrize("style", list(OverlayStyle))
@pytest.mark.parametrize("show_uncertainty", [False, True])
def test_every_pixel_is_the_layers_blended_in_order(style: OverlayStyle, show_uncertainty: bool) -> None:
    settings = OverlaySettings(style=style, opacity=0.4, show_uncertainty=show_uncertainty)
    rng = np.random.default_rng(0)
    shape = (9, 11)
    grey = rng.integers(0, 256, shape).astype(np.uint8)
    code = rng.integers(0, 16, shape).astype(np.uint8)
    label = rng.integers(0, 4, shape).astype(np.uint8)
    band = rng.integers(0, UNCERTAINTY_BANDS, shape).astype(np.uint8) if show_uncertainty else None
    table = composite_table(colour_table(settings), label_table(settings), uncertainty_table(settings))
    image = composite(grey, code, label, band, table)
    assert image.shape == (*shape, 4) and image.dtype == np.uint8
    for (r, c), g in np.ndenumerate(grey):
        b = None if band is None else int(band[r, c])
        expected = _expected(int(g), int(code[r, c]), int(label[r, c]), b, settings)
        assert np.abs(image[r, c].astype(int) - expected).max() <= 1, (style, r, c)


def test_outlines_are_opaque_and_compare_names_the_classes() -> None:
    grey = np.full((1, 4), 100, np.uint8)
    none = np.zeros((1, 4), np.uint8)
    outline = OverlaySettings(style=OverlayStyle.OUTLINE)
    table = composite_table(colour_table(outline), label_table(outline), None)
    edges = np.array([[GT << EDGE_SHIFT | GT, PRED << EDGE_SHIFT, BOTH, NONE]], np.uint8)
    image = composite(grey, edges, none, None, table)
    assert image[0, 0, :3].tolist() == list(palette.GROUND_TRUTH)  # an outline hides the CT beneath
    assert image[0, 2, :3].tolist() == [100, 100, 100]  # outline style: no fill
    compare = OverlaySettings(style=OverlayStyle.COMPARE, opacity=1.0)
    table = composite_table(colour_table(compare), label_table(compare), None)
    image = composite(grey, np.array([[BOTH, PRED, GT, NONE]], np.uint8), none, None, table)
    assert [tuple(p[:3]) for p in image[0]] == [
        palette.TRUE_POSITIVE,
        palette.FALSE_POSITIVE,
        palette.FALSE_NEGATIVE,
        (100, 100, 100),
    ]


def test_the_label_is_drawn_on_top() -> None:
    settings = OverlaySettings(opacity=1.0)
    table = composite_table(colour_table(settings), label_table(settings), uncertainty_table(settings))
    grey = np.zeros((1, 3), np.uint8)
    image = composite(
        grey, np.full((1, 3), BOTH, np.uint8), np.array([[LABEL_FILL, LABEL_EDGE, 0]], np.uint8), None, table
    )
    assert image[0, 0, :3].tolist() == list(palette.EDITED_LABEL) and image[0, 1, :3].tolist() == list(
        palette.EDITED_LABEL
    )
    hidden = OverlaySettings(show_label=False)
    table = composite_table(colour_table(hidden), label_table(hidden), None)
    image = composite(grey, np.zeros((1, 3), np.uint8), np.array([[LABEL_FILL, LABEL_EDGE, 0]], np.uint8), None, table)
    assert (image[0, :, :3] == 0).all()  # a hidden label leaves the CT alone


def test_uncertainty_bands_are_clear_when_certain_and_hotter_when_unsure() -> None:
    assert uncertainty_table(OverlaySettings()) is None  # off by default
    table = uncertainty_table(OverlaySettings(show_uncertainty=True))
    assert table is not None and table.shape == (UNCERTAINTY_BANDS, 4)
    assert table[0, 3] == 0  # certain: transparent
    assert (np.diff(table[1:, 3].astype(int)) > 0).all()  # more opaque as the model grows unsure
    assert tuple(table[1, :3]) == palette.UNCERTAINTY[0] and tuple(table[-1, :3]) == palette.UNCERTAINTY[1]
    values = np.array([0, 15, 16, 128, 255], np.uint8)
    assert uncertainty_band(values).tolist() == [0, 0, 1, 8, 15]
