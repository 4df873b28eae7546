"""The segments of the edited label, each in its colour, over a plane view's composite slice.

With one segment the edited label is the composite's own layer (orange, as ever). With several,
this see-through image draws every visible segment in its table colour (a light fill and a solid
outline, as Slicer draws segments), and the composite's label layer keeps only the active segment's
outline in the edit colour, so the user sees which segment the brush paints. Display only.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from ctseg_core.annotate.segment_set import SegmentSet
from ctseg_core.display.planes import Plane
from ctseg_gui.plane_view.overlay_tables import outline

FILL_ALPHA, EDGE_ALPHA = 90, 255


def segments_rgba(segments: SegmentSet, plane: Plane, index: int) -> np.ndarray | None:
    """RGBA (rows, columns, 4) of the visible segments' slice ``index`` of ``plane``, in table order
    (a later row draws over an earlier one); None when there is nothing to draw."""
    rows = [row for row in segments.rows if row.visible]
    if len(segments) < 2 or not rows:
        return None
    first = plane.image(segments.masks[rows[0].value], index)
    rgba = np.zeros((*first.shape, 4), np.uint8)
    for row in rows:
        mask = np.ascontiguousarray(plane.image(segments.masks[row.value], index))
        if mask.any():
            rgba[mask] = (*row.color, FILL_ALPHA)
            rgba[outline(mask)] = (*row.color, EDGE_ALPHA)
    return rgba


def shows_segments(segments: SegmentSet) -> bool:
    """Whether :class:`SegmentLayer` draws the segments (several of them) rather than the label layer alone."""
    return len(segments) > 1


class SegmentLayer(pg.ImageItem):
    """The see-through image of the segments of the slice shown, above the composite slice."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.setZValue(5)
        self.hide()

    def draw(self, segments: SegmentSet | None, plane: Plane, index: int, rect: QRectF, shown: bool) -> None:
        """Draw ``segments`` on slice ``index`` over ``rect`` (mm); hidden when not ``shown`` or one segment."""
        rgba = None if segments is None or not shown else segments_rgba(segments, plane, index)
        if rgba is None:
            self.hide()
            return
        self.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.setRect(rect)
        self.show()
