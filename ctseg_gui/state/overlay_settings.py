"""What the user chose to see of the masks: which layers, in which style, how opaque.

Part of the viewer state (:attr:`~ctseg_gui.state.viewer.ViewerState.overlay`); the plane views turn it
into colour tables (:mod:`~ctseg_gui.plane_view.overlay_tables`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
    show_label: bool = True
    opacity: float = 0.3
    style: OverlayStyle = OverlayStyle.FILL_OUTLINE
    show_uncertainty: bool = False
