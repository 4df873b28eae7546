"""Mask overlays as code images and colour tables: display only, no segmentation logic.

A slice's overlay is a small uint8 *code image* (0 none, 1 ground truth only, 2 prediction only,
3 both) looked up in a 4-entry RGBA table: changing slice costs two bit operations and one
gather, and toggling a layer or changing opacity only swaps the table. (An RGBA image draws
about four times faster than the same image as an indexed QImage, which Qt converts on every
paint.) Colours follow the green/magenta false-colour convention of image fusion
(MATLAB ``imfuse``): where ground truth and prediction overlap their colours add to white.
Compare mode instead names the overlap classes: true positive, false positive, false negative.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

NONE, GT, PRED, BOTH = 0, 1, 2, 3

GT_RGB = (40, 220, 60)
PRED_RGB = (255, 40, 255)
TP_RGB = (255, 215, 0)
FP_RGB = (255, 60, 60)
FN_RGB = (0, 190, 255)


class OverlayStyle(enum.Enum):
    """How masks are drawn over the CT; the value is the label shown to the user."""

    FILL = "Fill"
    OUTLINE = "Outline"
    FILL_OUTLINE = "Fill + outline"
    COMPARE = "Compare TP / FP / FN"

    @property
    def fills(self) -> bool:
        return self is not OverlayStyle.OUTLINE

    @property
    def outlines(self) -> bool:
        return self in (OverlayStyle.OUTLINE, OverlayStyle.FILL_OUTLINE)


@dataclass(frozen=True)
class OverlaySettings:
    """What the user chose to see: which layers, how, and how opaque the fill is (0–1)."""

    show_gt: bool = True
    show_prediction: bool = True
    opacity: float = 0.4
    style: OverlayStyle = OverlayStyle.FILL_OUTLINE


def _add(*colours: tuple[int, int, int]) -> tuple[int, int, int]:
    """Additive mix, clipped: green + magenta gives white, as light would."""
    return tuple(min(255, sum(c[i] for c in colours)) for i in range(3))  # type: ignore[return-value]


def colour_table(settings: OverlaySettings, outline: bool = False) -> np.ndarray:
    """RGBA table (4, 4) uint8 indexed by the overlay code; hidden layers are transparent.

    The fill uses ``settings.opacity``; outlines are opaque so a boundary stays readable over
    bright tissue. In compare mode the fill names TP / FP / FN instead of the two sources.
    """
    show_gt, show_pred = settings.show_gt, settings.show_prediction
    if settings.style is OverlayStyle.COMPARE and not outline:
        rgb = {GT: FN_RGB if show_gt else None, PRED: FP_RGB if show_pred else None}
        rgb[BOTH] = TP_RGB if (show_gt or show_pred) else None
    else:
        gt = GT_RGB if show_gt else None
        pred = PRED_RGB if show_pred else None
        visible = [c for c in (gt, pred) if c is not None]
        rgb = {GT: gt, PRED: pred, BOTH: _add(*visible) if visible else None}
    alpha = 255 if outline else round(255 * min(max(settings.opacity, 0.0), 1.0))
    table = np.zeros((4, 4), np.uint8)
    for code, colour in rgb.items():
        if colour is not None:
            table[code] = (*colour, alpha)
    return table


def colourise(code: np.ndarray, table: np.ndarray) -> np.ndarray:
    """RGBA image (rows, columns, 4) uint8 of a code image, by one 32-bit gather."""
    packed = np.ascontiguousarray(table, np.uint8).view(np.uint32).ravel()
    return np.take(packed, code).view(np.uint8).reshape(*code.shape, 4)


def code_image(gt: np.ndarray | None, prediction: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """uint8 code image of one slice from two bool slices (either may be None)."""
    code = np.zeros(shape, np.uint8) if gt is None else gt.view(np.uint8).copy()
    if prediction is not None:
        code |= prediction.view(np.uint8) << 1
    return code


def outline(mask: np.ndarray) -> np.ndarray:
    """One-pixel inner boundary of a 2D bool mask (4-connected; the image edge closes it)."""
    inner = mask.copy()
    inner[[0, -1]] = False
    inner[:, [0, -1]] = False
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner
