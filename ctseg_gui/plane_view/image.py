"""What a plane view draws: the layers of the slice shown and the one composite image made of them.

Each layer keeps its slice (the windowed CT as grey levels, the ground-truth / prediction code
image, the edited label's code image, the uncertainty bands), so a window change, a brush
stroke or a colour change recomputes only its own layer; then one gather from the composite
table (:func:`~ctseg_gui.plane_view.overlay_tables.composite`) makes the opaque image on screen. Display only:
the slices are numpy views of the state's volumes, the uncertainty comes from the core.
"""

from __future__ import annotations

import dataclasses
import functools
import sys

import numpy as np
from PySide6.QtCore import QRectF

from ctseg_core.display.windowing import Window, apply_window
from ctseg_gui.plane_view.items import Layer, SliceImage
from ctseg_gui.plane_view.overlay_tables import (
    code_image,
    colour_table,
    composite,
    composite_over,
    composite_table,
    label_code,
    label_table,
    uncertainty_band,
    uncertainty_table,
)
from ctseg_gui.state.overlay_settings import OverlaySettings

#: RGBA channels in the byte order of the view's pixels (see :func:`view_tables`).
SCREEN_ORDER = [2, 1, 0, 3] if sys.byteorder == "little" else [3, 0, 1, 2]
#: Every int16 value, at the index of its uint16 bit pattern (how slices index the grey table).
ALL_HU = np.arange(65536, dtype=np.uint16).view(np.int16)


def windowed(grey_table: np.ndarray, hu: np.ndarray) -> np.ndarray:
    """The grey levels (uint8) of an int16 HU slice, by one gather from the window's 65536-entry table."""
    return np.take(grey_table, hu.view(np.uint16))  # a view of any strides: same item size


@functools.lru_cache(maxsize=8)
def view_tables(settings: OverlaySettings) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Overlay, label, uncertainty and composite tables of ``settings`` (shared by the three views).

    The composite table's entries are in B, G, R, A byte order: on a little-endian machine that is
    Qt's native 32-bit pixel (``QImage.Format_RGB32``), which it scales onto the screen about three
    times faster than RGBX (0.10 against 0.29 ms for a 512² slice, measured).
    """
    overlay, label, uncertainty = colour_table(settings), label_table(settings), uncertainty_table(settings)
    screen = np.ascontiguousarray(composite_table(overlay, label, uncertainty)[:, SCREEN_ORDER])
    return overlay, label, uncertainty, screen


class PlaneImage:
    """The layers of one view's slice and :attr:`item`, the image item that shows them composited."""

    def __init__(self) -> None:
        self.item = SliceImage()
        self.grey_table = np.zeros(65536, np.uint8)
        self.grey: np.ndarray | None = None  # the windowed CT of the slice shown
        self._base: np.ndarray | None = None  # grey | overlay code << 8, when made ahead of time (set_base)
        self.overlay = Layer()  # ground truth and prediction
        self.label = Layer()  # the edited label
        self.uncertainty = Layer()  # the model's uncertainty
        self.label.hide()
        self.uncertainty.hide()

    def reset(self, rect: QRectF, rows: int, columns: int) -> None:
        """A new patient: a black image of the new shape over ``rect`` (mm), no layers yet."""
        self.item.setImage(np.zeros((rows, columns, 4), np.uint8), autoLevels=False)  # the shape first:
        self.item.setRect(rect)  # setRect scales by it
        self.grey = self._base = None
        for layer in (self.overlay, self.label, self.uncertainty):
            layer.set(None, None)

    def set_window(self, window: Window) -> None:
        """Map every int16 value through the core's window once; slices are then one gather."""
        self.grey_table = apply_window(ALL_HU, window)

    def update_ct(self, hu: np.ndarray) -> None:
        self.detach()
        self.grey = windowed(self.grey_table, hu)

    def detach(self) -> None:
        """Copy the layers that are views of a base index out of it (one layer is about to be recomputed):
        a view would keep a whole plane of indices alive after the window or the masks changed."""
        if self._base is not None:
            self.grey = None if self.grey is None else self.grey.copy()
            if self.overlay.code is not None:
                self.overlay.set(self.overlay.code.copy(), self.overlay.table)
            self._base = None

    def set_base(self, base: np.ndarray, settings: OverlaySettings) -> None:
        """A slice's grey levels and overlay code at once, as one base index made ahead of time
        (:mod:`~ctseg_gui.plane_view.slice_cache`): the layers become views of its two bytes, so no pixel
        is computed here."""
        pair = base.view(np.uint8).reshape(*base.shape, 2)
        low, high = (0, 1) if sys.byteorder == "little" else (1, 0)
        self.grey = pair[..., low]
        self.overlay.set(pair[..., high], view_tables(settings)[0])
        self._base = base

    def update_overlays(
        self,
        gt: np.ndarray | None,
        prediction: np.ndarray | None,
        uncertainty: np.ndarray | None,
        shape: tuple[int, int],
        settings: OverlaySettings,
    ) -> None:
        """Code images of a slice's ground truth and prediction, and its uncertainty bands when shown."""
        self.detach()
        self.overlay.set(code_image(gt, prediction, shape, outlines=settings.style.outlines), view_tables(settings)[0])
        self.update_uncertainty(uncertainty, settings)

    def update_uncertainty(self, uncertainty: np.ndarray | None, settings: OverlaySettings) -> None:
        """The uncertainty bands of a slice when the layer is shown."""
        band_table = view_tables(settings)[2]
        if band_table is not None and uncertainty is not None:
            self.uncertainty.set(uncertainty_band(uncertainty), band_table)
            self.uncertainty.show()
        else:
            self.uncertainty.set(None, None)
            self.uncertainty.hide()

    def update_label(self, label: np.ndarray | None, settings: OverlaySettings, outline_only: bool = False) -> bool:
        """The edited label's code image of a slice (None or hidden: no layer), its outline alone when
        the segments are drawn beside it; False if nothing changed."""
        if label is None or not settings.show_label:
            changed = self.label.isVisible()
            self.label.hide()
            self.label.set(None, None)
            return changed
        code = label_code(label, outlines=True)
        self.label.set(code & 2 if outline_only else code, view_tables(settings)[1])
        self.label.show()
        return True

    def compose(self, settings: OverlaySettings) -> None:
        """Draw the slice: the grey levels and every shown layer, in one gather from the composite table."""
        grey, code = self.grey, self.overlay.code
        if grey is None or code is None:
            return
        label = self.label.code if self.label.isVisible() else None
        band = self.uncertainty.code if self.uncertainty.isVisible() else None
        if band is None and settings.show_uncertainty:  # on, but nothing to show: the table without bands
            settings = dataclasses.replace(settings, show_uncertainty=False)
        table = view_tables(settings)[3]
        if self._base is not None:
            image = composite_over(self._base, label, band, table)
        else:
            image = composite(grey, code, label, band, table)
        self.item.setImage(image, autoLevels=False)
