"""HU windowing for display: presets, a fast HU → uint8 mapping and drag-to-window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Window:
    """A display window in Hounsfield units: ``width`` HU wide, centred on ``level`` HU."""

    width: float
    level: float

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ValueError(f"window width must be positive, got {self.width}")

    @property
    def low(self) -> float:
        """HU shown as black."""
        return self.level - self.width / 2.0

    @property
    def high(self) -> float:
        """HU shown as white."""
        return self.level + self.width / 2.0


# The HU window the network sees. Preprocessing imports it from here, so the
# "Model input" display preset and the network input can never drift apart.
MODEL_INPUT_WINDOW = Window(width=600.0, level=50.0)

PRESETS: dict[str, Window] = {
    "Abdomen": Window(width=400.0, level=40.0),
    "Liver": Window(width=150.0, level=90.0),
    "Bone": Window(width=1800.0, level=400.0),
    "Lung": Window(width=1500.0, level=-600.0),
    "Model input": MODEL_INPUT_WINDOW,
}

#: Two windows whose width and level each differ by less than this (HU) are the same window.
PRESET_TOLERANCE_HU = 0.5


def preset_name(window: Window, presets: Mapping[str, Window] = PRESETS) -> str | None:
    """The name of the preset ``window`` equals (width and level each within half a HU), else None.

    Spin boxes and drags produce windows rounded to whole HU, so an exact comparison would miss
    a preset the user typed in; a window that is no preset is a custom one.
    """
    for name, preset in presets.items():
        if (
            abs(preset.width - window.width) < PRESET_TOLERANCE_HU
            and abs(preset.level - window.level) < PRESET_TOLERANCE_HU
        ):
            return name
    return None


# Fraction of the current width that one pixel of drag changes width or level by.
DRAG_GAIN = 0.005


def _to_uint8(hu: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linear map low → 0, high → 255, rounded half to even and clipped."""
    return np.clip(np.round((hu - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)


@lru_cache(maxsize=32)
def _int16_lut(width: float, level: float) -> np.ndarray:
    """65536-entry table indexed by the uint16 bit pattern of an int16 HU value."""
    window = Window(width, level)
    hu = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.float64)
    lut = _to_uint8(hu, window.low, window.high)
    lut.flags.writeable = False
    return lut


def apply_window(hu: np.ndarray, window: Window) -> np.ndarray:
    """Map HU to uint8 grey levels: ``window.low`` and below → 0, ``window.high`` and above → 255.

    int16 input (the usual CT dtype) goes through a cached lookup table, well under 2 ms
    for a 512×512 slice; any other dtype is computed in float64 with the same rounding.
    Works on arrays of any shape.
    """
    hu = np.asarray(hu)
    if hu.dtype == np.int16:
        return _int16_lut(float(window.width), float(window.level))[hu.view(np.uint16)]
    return _to_uint8(hu.astype(np.float64), window.low, window.high)


def window_from_drag(window: Window, dx_pixels: float, dy_pixels: float) -> Window:
    """Window after a right-button drag, as in ITK-SNAP / 3D Slicer.

    Pass the window at the press and the total pointer displacement since then (widget
    pixels, y pointing down), so the result does not depend on the event rate. Dragging
    right widens the window, left narrows it; dragging down lowers the level (brighter
    image), up raises it, like VTK's image interactor style. Each pixel changes width and
    level by ``DRAG_GAIN`` × the current width, so narrow windows adjust finely and wide
    ones quickly. The width never goes below 1 HU.
    """
    step = window.width * DRAG_GAIN
    return Window(
        width=max(1.0, window.width + dx_pixels * step),
        level=window.level - dy_pixels * step,
    )
