"""Mask overlays as code images and colour tables: display only, no segmentation logic.

What the user chose to see is :class:`~ctseg_gui.state.overlay_settings.OverlaySettings`; the colours
are the core's palette (:mod:`ctseg_core.display.palette`), the same in every picture.

A slice's overlay is one small uint8 *code image*: bits 0–1 say which masks cover a voxel
(0 none, 1 ground truth only, 2 prediction only, 3 both), bits 2–3 the same for the masks'
one-voxel outlines (``ctseg_core.metrics.surface`` of the slice: the same boundary the surface
distances are measured on). A 16-entry RGBA table turns it into the image drawn: changing slice costs
a few bit operations and one gather, and toggling a layer, the style or the opacity only swaps
the table. Fill and outline share one image because each extra RGBA layer costs ≈ 0.7 ms to
paint (and an indexed QImage about three times that, as Qt converts it on every paint). Colours
follow image fusion's green/magenta (MATLAB ``imfuse``): where the masks overlap they add to white.
Compare mode instead names the overlap classes: true positive, false positive, false negative.

The label being edited is a third layer in orange (its own code image: bit 0 fill, bit 1 outline),
and the model's per-voxel uncertainty a fourth, a heat map in 16 bands of the core's uint8
entropy volume (transparent where the model was certain).

On screen the layers are one opaque image per view (:func:`composite`): the CT grey level and the
three codes are packed into one index (bits 0–7 grey, 8–11 overlay code, 12–13 label code, 14–17
uncertainty band) and one gather from a table of every index's blended colour (:func:`composite_table`,
rebuilt only when a colour table changes) gives the pixels, instead of three RGBA images gathered,
uploaded and alpha-blended by Qt on every paint (most of what a crosshair move cost).
"""

from __future__ import annotations

import numpy as np

from ctseg_core.display import palette
from ctseg_core.metrics import surface
from ctseg_gui.state.overlay_settings import OverlaySettings, OverlayStyle

NONE, GT, PRED, BOTH = 0, 1, 2, 3
EDGE_SHIFT = 2  # outline codes sit in bits 2–3

LABEL_FILL, LABEL_EDGE = 1, 2

#: Bit positions of the composite index (see the module docstring).
CODE_SHIFT, LABEL_SHIFT, BAND_SHIFT = 8, 12, 14
#: The uint8 uncertainty (0 certain … 255 p = ½) is shown in 16 bands of 16 values (value >> 4).
UNCERTAINTY_BAND_BITS = 4
UNCERTAINTY_BANDS = 1 << UNCERTAINTY_BAND_BITS


def _add(*colours: tuple[int, int, int]) -> tuple[int, int, int]:
    """Additive mix, clipped: green + magenta gives white, as light would."""
    red, green, blue = (min(255, sum(c[i] for c in colours)) for i in range(3))
    return (red, green, blue)


def _layer_colours(settings: OverlaySettings, compare: bool) -> dict[int, tuple[int, int, int] | None]:
    """RGB of codes GT, PRED and BOTH; None where the layers covering it are hidden."""
    show_gt, show_pred = settings.show_gt, settings.show_prediction
    if compare:
        return {
            GT: palette.FALSE_NEGATIVE if show_gt else None,
            PRED: palette.FALSE_POSITIVE if show_pred else None,
            BOTH: palette.TRUE_POSITIVE if (show_gt or show_pred) else None,
        }
    gt = palette.GROUND_TRUTH if show_gt else None
    pred = palette.PREDICTION if show_pred else None
    visible = [c for c in (gt, pred) if c is not None]
    return {GT: gt, PRED: pred, BOTH: _add(*visible) if visible else None}


def colour_table(settings: OverlaySettings) -> np.ndarray:
    """RGBA table (16, 4) uint8 indexed by the overlay code; hidden layers are transparent.

    An outline (opaque, so a boundary stays readable over bright tissue) wins over the fill
    (``settings.opacity``) beneath it. Compare mode fills TP / FP / FN instead of the sources.
    """
    style = settings.style
    fill = _layer_colours(settings, compare=style is OverlayStyle.COMPARE)
    edge = _layer_colours(settings, compare=False)
    fill_alpha = round(255 * min(max(settings.opacity, 0.0), 1.0))
    table = np.zeros((16, 4), np.uint8)
    for code in range(16):
        edge_rgb = edge.get(code >> EDGE_SHIFT) if style.outlines else None
        fill_rgb = fill.get(code & BOTH) if style.fills else None
        if edge_rgb is not None:
            table[code] = (*edge_rgb, 255)
        elif fill_rgb is not None:
            table[code] = (*fill_rgb, fill_alpha)
    return table


def colourise(code: np.ndarray, table: np.ndarray) -> np.ndarray:
    """RGBA image (rows, columns, 4) uint8 of an unsigned index image, by one 32-bit gather."""
    packed = np.ascontiguousarray(table, np.uint8).view(np.uint32).ravel()
    return np.take(packed, code).view(np.uint8).reshape(*code.shape, 4)


def _outline_box(mask: np.ndarray) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The mask's bounding box (with a one-voxel margin inside the slice) and the surface within it."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(mask.any(axis=0))
    r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, mask.shape[0])
    c0, c1 = max(int(columns[0]) - 1, 0), min(int(columns[-1]) + 2, mask.shape[1])
    box = (slice(r0, r1), slice(c0, c1))
    return box, surface(mask[box])


def outline(mask: np.ndarray) -> np.ndarray:
    """``ctseg_core.metrics.surface`` of a 2D bool slice, computed on the mask's bounding box only.

    Same result (border voxels count as surface, and the box keeps a one-voxel background margin
    inside the slice), but a liver covering a tenth of a slice costs a tenth: the plane views
    outline three masks on each of three planes per crosshair move.
    """
    result = np.zeros(mask.shape, bool)
    found = _outline_box(mask)
    if found is not None:
        box, edge = found
        result[box] = edge
    return result


def _add_outline(code: np.ndarray, mask: np.ndarray, shift: int) -> None:
    """Set bit ``shift`` of ``code`` on the mask's outline, touching only its bounding box."""
    found = _outline_box(mask)
    if found is not None:
        box, edge = found
        code[box] |= edge.view(np.uint8) << shift


def code_image(
    gt: np.ndarray | None, prediction: np.ndarray | None, shape: tuple[int, int], outlines: bool = False
) -> np.ndarray:
    """uint8 code image of one slice from two bool slices (either may be None; views of any strides)."""
    gt = None if gt is None else np.ascontiguousarray(gt)
    prediction = None if prediction is None else np.ascontiguousarray(prediction)
    code = np.zeros(shape, np.uint8) if gt is None else gt.view(np.uint8).copy()
    if prediction is not None:
        code |= prediction.view(np.uint8) << 1
    if outlines:
        if gt is not None:
            _add_outline(code, gt, EDGE_SHIFT)
        if prediction is not None:
            _add_outline(code, prediction, EDGE_SHIFT + 1)
    return code


def label_table(settings: OverlaySettings) -> np.ndarray:
    """RGBA table (4, 4) uint8 of the edited label's code image (bit 0 fill, bit 1 outline).

    It follows the style of the other layers, except that compare mode, whose fills name the
    GT/prediction classes, shows the label as an outline only.
    """
    table = np.zeros((4, 4), np.uint8)
    if not settings.show_label:
        return table
    style = settings.style
    if style.fills and style is not OverlayStyle.COMPARE:
        fill_alpha = round(255 * min(max(settings.opacity, 0.0), 1.0))
        table[LABEL_FILL] = table[LABEL_FILL | LABEL_EDGE] = (*palette.EDITED_LABEL, fill_alpha)
    if style.outlines or style is OverlayStyle.COMPARE:
        table[LABEL_EDGE] = table[LABEL_FILL | LABEL_EDGE] = (*palette.EDITED_LABEL, 255)
    return table


def label_code(label: np.ndarray, outlines: bool) -> np.ndarray:
    """uint8 code image of one slice of the edited label: fill bit, and outline bit when asked."""
    label = np.ascontiguousarray(label)
    code = label.view(np.uint8).copy()
    if outlines:
        _add_outline(code, label, 1)
    return code


def uncertainty_table(settings: OverlaySettings) -> np.ndarray | None:
    """RGBA table (16, 4) uint8 of the uncertainty bands, or None when the layer is hidden.

    Band 0 (entropy below 1/16 of its maximum) stays transparent, so certain tissue shows plain CT;
    the others run from red to yellow and from faint to nearly opaque as the model grows unsure.
    """
    if not settings.show_uncertainty:
        return None
    table = np.zeros((UNCERTAINTY_BANDS, 4), np.uint8)
    low, high = (np.asarray(rgb, np.float32) for rgb in palette.UNCERTAINTY)
    for band in range(1, UNCERTAINTY_BANDS):
        t = (band - 1) / (UNCERTAINTY_BANDS - 2)
        table[band, :3] = np.rint(low + (high - low) * t)
        table[band, 3] = round(255 * (0.35 + 0.5 * t))
    return table


def uncertainty_band(uncertainty: np.ndarray) -> np.ndarray:
    """The band (0–15) of each uint8 uncertainty value: the index into :func:`uncertainty_table`."""
    return np.ascontiguousarray(uncertainty) >> (8 - UNCERTAINTY_BAND_BITS)


def composite_table(overlay: np.ndarray, label: np.ndarray, uncertainty: np.ndarray | None) -> np.ndarray:
    """RGBA table (n, 4) uint8, opaque: the colour of every composite index (see :func:`composite`).

    The layers are blended bottom to top as Qt would paint them (``src · a + dst · (1 − a)``): the
    CT grey level, the uncertainty heat map, the ground-truth / prediction overlay, the edited label.
    ``overlay`` is :func:`colour_table`, ``label`` :func:`label_table`, ``uncertainty``
    :func:`uncertainty_table` or None (hidden: the index then has no band bits, 16384 entries).
    """
    bands = 1 if uncertainty is None else UNCERTAINTY_BANDS
    # axes: band, label code, overlay code, grey level, channel (C order = the index's bit order)
    colour = np.repeat(np.arange(256, dtype=np.float32)[:, None], 3, axis=1).reshape(1, 1, 1, 256, 3)

    def over(below: np.ndarray, table: np.ndarray, axis: int) -> np.ndarray:
        shape = [1, 1, 1, 1, 4]
        shape[axis] = len(table)
        rgba = table.astype(np.float32).reshape(shape)
        alpha = rgba[..., 3:] / 255.0
        return below * (1.0 - alpha) + rgba[..., :3] * alpha

    if uncertainty is not None:
        colour = over(colour, uncertainty, 0)
    colour = over(colour, overlay, 2)
    colour = over(colour, label, 1)
    rgba = np.empty((bands, len(label), len(overlay), 256, 4), np.uint8)
    rgba[..., :3] = np.rint(np.broadcast_to(colour, (*rgba.shape[:4], 3)))
    rgba[..., 3] = 255
    return rgba.reshape(-1, 4)


def composite(
    grey: np.ndarray,
    code: np.ndarray,
    label: np.ndarray | None,
    band: np.ndarray | None,
    table: np.ndarray,
) -> np.ndarray:
    """Opaque RGBA image (rows, columns, 4) uint8 of one view: every layer in one gather.

    ``grey`` is the windowed CT (uint8), ``code`` :func:`code_image`, ``label`` :func:`label_code`
    (None: no label), ``band`` :func:`uncertainty_band` (None: the layer is hidden, and ``table``
    was built without it), ``table`` :func:`composite_table`.
    """
    index = base_index(grey, code, np.uint16 if band is None else np.uint32)
    return _with_layers(index, label, band, table)


def base_index(grey: np.ndarray, code: np.ndarray, dtype: type = np.uint16) -> np.ndarray:
    """A new composite index of the grey levels and the overlay code alone: grey | code << 8."""
    index: np.ndarray = code.astype(dtype)
    np.left_shift(index, CODE_SHIFT, out=index)
    np.bitwise_or(index, grey, out=index)
    return index


def composite_over(
    base: np.ndarray, label: np.ndarray | None, band: np.ndarray | None, table: np.ndarray
) -> np.ndarray:
    """:func:`composite` from a slice's base index (uint16 grey | code << 8, left unchanged), e.g. made ahead
    of time (:mod:`~ctseg_gui.plane_view.slice_cache`): only the label and the uncertainty are added."""
    if band is not None:
        index = base.astype(np.uint32)
    elif label is not None:
        index = base.copy()
    else:
        index = base
    return _with_layers(index, label, band, table)


def _with_layers(index: np.ndarray, label: np.ndarray | None, band: np.ndarray | None, table: np.ndarray) -> np.ndarray:
    """Add the label and uncertainty bits to ``index`` (in place) and gather the colours."""
    for layer, shift in ((label, LABEL_SHIFT), (band, BAND_SHIFT)):
        if layer is not None:
            np.bitwise_or(index, np.left_shift(layer.astype(index.dtype), shift), out=index)
    return colourise(index, table)
