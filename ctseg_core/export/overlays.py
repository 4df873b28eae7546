"""Drawing masks over windowed CT for exported pictures: colours, square pixels, blending.

Shared by the slice movie and the HTML report so both show a mask in the same colour as the
viewer does (ground truth green, prediction magenta, edited label orange) and both keep the
physical aspect: CT pixels are rarely square in the coronal and sagittal planes (2.5 mm
slices against 0.7 mm pixels), so images are resampled to square pixels before anything is
drawn, and outlines stay one output pixel wide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
from scipy import ndimage

from ctseg_core.display import palette
from ctseg_core.display.palette import RGB

OverlayStyle = Literal["fill", "outline", "fill+outline"]


def check_volume_inputs(
    hu: np.ndarray, masks: Mapping[str, np.ndarray], spacing_mm: Sequence[float], kind: str = "mask"
) -> None:
    """The CT is a non-empty [z, y, x] volume, every mask on its grid, spacing three positive mm.

    Shared by the movie and the report, whose pictures both assume it. ``kind`` names the masks
    in the message ("overlay", "mask").
    """
    if hu.ndim != 3 or hu.shape[0] == 0:
        raise ValueError(f"hu must be a non-empty 3D [z, y, x] volume, got shape {hu.shape}")
    for name, mask in masks.items():
        if np.shape(mask) != hu.shape:
            raise ValueError(f"{kind} {name!r} has shape {np.shape(mask)}, the CT {hu.shape}")
    if len(spacing_mm) != 3 or min(spacing_mm) <= 0:
        raise ValueError(f"spacing_mm must be three positive (dz, dy, dx) values, got {tuple(spacing_mm)}")


def overlay_colours(names: Iterable[str], colours: Mapping[str, RGB] | None = None) -> dict[str, RGB]:
    """Colour of each overlay: the caller's choice, else the viewer's, else the next spare one."""
    chosen: dict[str, RGB] = {}
    spare = iter(palette.SPARE * 4)
    for name in names:
        if colours is not None and name in colours:
            chosen[name] = tuple(int(c) for c in colours[name])  # type: ignore[assignment]  # an RGB triple
        elif name.lower() in palette.NAMED:
            chosen[name] = palette.NAMED[name.lower()]
        else:
            chosen[name] = next(spare)
    return chosen


def square_pixel_shape(shape: Sequence[int], pixel_mm: Sequence[float]) -> tuple[int, int]:
    """(rows, columns) that show an image of ``shape`` with ``pixel_mm`` (row, column) spacing
    at its physical aspect, with square pixels as fine as the finer of the two spacings."""
    rows, cols = int(shape[0]), int(shape[1])
    row_mm, col_mm = float(pixel_mm[0]), float(pixel_mm[1])
    if not (row_mm > 0 and col_mm > 0):
        raise ValueError(f"pixel spacing must be positive, got {tuple(pixel_mm)}")
    step = min(row_mm, col_mm)
    return max(1, round(rows * row_mm / step)), max(1, round(cols * col_mm / step))


def resample_nearest(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resampling of a 2D array to ``shape`` (pixel centres aligned)."""
    rows = np.minimum((np.arange(shape[0]) + 0.5) * image.shape[0] / shape[0], image.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(shape[1]) + 0.5) * image.shape[1] / shape[1], image.shape[1] - 1).astype(int)
    return image[np.ix_(rows, cols)]


def resample_grey(grey: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of a uint8 grey image to ``shape`` (smooth CT, no blocky slices)."""
    if grey.shape == shape:
        return grey
    from PIL import Image

    resized = Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8)).resize(
        (shape[1], shape[0]), Image.Resampling.BILINEAR
    )
    return np.asarray(resized)


def outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of a 2D mask with a background 4-neighbour: a one-pixel contour."""
    if not mask.any():
        return mask
    return mask & ~ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(2, 1), border_value=0)


def composite(
    grey: np.ndarray,
    masks: Mapping[str, np.ndarray],
    colours: Mapping[str, RGB],
    pixel_mm: Sequence[float],
    *,
    opacity: float = 0.35,
    style: OverlayStyle = "fill+outline",
) -> np.ndarray:
    """RGB uint8 picture of one CT plane at physical aspect with the masks drawn on it.

    ``grey`` is the windowed plane (uint8, rows × columns), ``masks`` 2D bool arrays of the
    same shape, ``pixel_mm`` the (row, column) spacing. Fills blend ``opacity`` of the colour;
    outlines are drawn opaque, one output pixel wide, after every fill, in mapping order.
    """
    if style not in ("fill", "outline", "fill+outline"):
        raise ValueError(f"style must be 'fill', 'outline' or 'fill+outline', got {style!r}")
    shape = square_pixel_shape(grey.shape, pixel_mm)
    picture = np.repeat(resample_grey(grey, shape)[..., None], 3, axis=2).astype(np.float32)
    resampled = {name: resample_nearest(np.asarray(mask) > 0, shape) for name, mask in masks.items()}
    if style != "outline":
        for name, mask in resampled.items():
            colour = np.asarray(colours[name], dtype=np.float32)
            picture[mask] = (1.0 - opacity) * picture[mask] + opacity * colour
    if style != "fill":
        for name, mask in resampled.items():
            picture[outline(mask)] = np.asarray(colours[name], dtype=np.float32)
    return np.clip(np.round(picture), 0, 255).astype(np.uint8)
