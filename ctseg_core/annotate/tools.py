"""The annotator's tools and settings, as values: which tool a click uses, brush sizes, HU masking.

No Qt: the editing session (:mod:`ctseg_core.annotate.session`) holds one of each; the GUI shows
them (the enum values are the labels the user reads).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

DEFAULT_BRUSH_MM = 5.0
DEFAULT_MIN_ISLAND_ML = 1.0
#: Brush radii the ``[`` and ``]`` keys step through (mm).
BRUSH_STEPS_MM = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)
MIN_BRUSH_MM, MAX_BRUSH_MM = BRUSH_STEPS_MM[0], BRUSH_STEPS_MM[-1]


class Tool(enum.Enum):
    """What a left click on the image does; the value is the label shown to the user."""

    NAVIGATE = "Navigate"
    BRUSH = "Brush"
    ERASER = "Eraser"
    FLOOD = "Flood fill"

    @property
    def paints(self) -> bool:
        """Brush and eraser: left drag paints a stroke (and the view does not pan)."""
        return self in (Tool.BRUSH, Tool.ERASER)

    @property
    def edits(self) -> bool:
        return self is not Tool.NAVIGATE


@dataclass(frozen=True)
class HuLimit:
    """Intensity masking (3D Slicer's "masking by intensity"): only voxels in [lo, hi] HU change.

    The brush obeys it when ``enabled``; flood fill always fills the connected region in [lo, hi].
    """

    enabled: bool = False
    lo: int = -100
    hi: int = 300

    @property
    def range(self) -> tuple[float, float]:
        return (float(min(self.lo, self.hi)), float(max(self.lo, self.hi)))


def clamp_brush(radius_mm: float) -> float:
    """A brush radius in [MIN_BRUSH_MM, MAX_BRUSH_MM] mm, to 0.1 mm."""
    return round(min(max(float(radius_mm), MIN_BRUSH_MM), MAX_BRUSH_MM), 1)


def next_brush(radius_mm: float, steps: int) -> float:
    """The next larger (``steps`` > 0) or smaller (< 0) radius of :data:`BRUSH_STEPS_MM` (mm)."""
    if steps > 0:
        return next((r for r in BRUSH_STEPS_MM if r > radius_mm + 1e-6), MAX_BRUSH_MM)
    if steps < 0:
        return next((r for r in reversed(BRUSH_STEPS_MM) if r < radius_mm - 1e-6), MIN_BRUSH_MM)
    return radius_mm


def island_min_voxels(min_ml: float, spacing_mm: tuple[float, float, float]) -> int:
    """Voxels in ``min_ml`` millilitres at ``spacing_mm`` (dz, dy, dx), rounded up, at least 1.

    "Remove islands under 1 mL" then removes the same anatomy on any voxel size: a piece is kept
    only when it has at least this many voxels.
    """
    dz, dy, dx = spacing_mm
    return max(1, math.ceil(min_ml * 1000.0 / (dz * dy * dx)))
