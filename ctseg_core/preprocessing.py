"""The one preprocessing used by both training and inference, and its exact inverse.

Steps: crop the volume to a square box around the body (so the network's pixels go to anatomy,
and scans with different fields of view look alike), resize every slice of the box to the model
input size, then clip and scale HU to [0, 1] with the model's HU window. Stacking neighbouring
slices as channels (2.5D) happens per batch, from the same resized stack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from .windowing import MODEL_INPUT_WINDOW

#: HU above which a voxel counts as body (not air, not lung) for the crop box.
BODY_THRESHOLD_HU = -400
#: Margin around the body box, as a fraction of its side (mm-free, so any FOV behaves alike).
CROP_MARGIN = 0.04


@dataclass(frozen=True)
class InputSpec:
    """What the network sees: input size, HU window and neighbouring slices per side."""

    size: int = 160
    hu_low: float = MODEL_INPUT_WINDOW.low
    hu_high: float = MODEL_INPUT_WINDOW.high
    context: int = 1  # slices on each side: channels = 2 * context + 1

    @property
    def channels(self) -> int:
        return 2 * self.context + 1

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class CropBox:
    """A square in-plane box [y0, y0+side) × [x0, x0+side) on a grid of ``shape`` (may overhang)."""

    y0: int
    x0: int
    side: int
    shape: tuple[int, int]  # original (rows, columns)


def body_crop_box(hu: np.ndarray) -> CropBox:
    """Square box around the body on every slice (largest component of HU > threshold).

    The same box serves all slices, so the 3D shape is not distorted between slices.
    """
    rows, columns = hu.shape[-2:]
    footprint = (hu > BODY_THRESHOLD_HU).any(axis=0) if hu.ndim == 3 else hu > BODY_THRESHOLD_HU
    labels, count = ndimage.label(footprint)
    if count == 0:
        return CropBox(0, 0, max(rows, columns), (rows, columns))
    sizes = ndimage.sum_labels(footprint, labels, index=np.arange(1, count + 1))
    body = labels == int(np.argmax(sizes)) + 1
    ys, xs = np.nonzero(body.any(axis=1)), np.nonzero(body.any(axis=0))
    y_lo, y_hi, x_lo, x_hi = ys[0][0], ys[0][-1] + 1, xs[0][0], xs[0][-1] + 1
    side = int(np.ceil(max(y_hi - y_lo, x_hi - x_lo) * (1 + 2 * CROP_MARGIN)))
    side = max(side, 16)
    y0 = int(round((y_lo + y_hi - side) / 2))
    x0 = int(round((x_lo + x_hi - side) / 2))
    return CropBox(y0, x0, side, (rows, columns))


def _pad_crop(volume: np.ndarray, box: CropBox, fill: float) -> np.ndarray:
    """The box's pixels of every slice; outside the image they take ``fill``."""
    rows, columns = box.shape
    out = np.full((volume.shape[0], box.side, box.side), fill, dtype=volume.dtype)
    sy0, sx0 = max(box.y0, 0), max(box.x0, 0)
    sy1, sx1 = min(box.y0 + box.side, rows), min(box.x0 + box.side, columns)
    if sy1 > sy0 and sx1 > sx0:
        out[:, sy0 - box.y0 : sy1 - box.y0, sx0 - box.x0 : sx1 - box.x0] = volume[:, sy0:sy1, sx0:sx1]
    return out


def _resize_stack(stack: np.ndarray, side: int) -> np.ndarray:
    """Resize each slice of a [z, n, n] stack to side × side (linear, pixel areas aligned)."""
    factor = side / stack.shape[-1]
    return ndimage.zoom(stack, (1.0, factor, factor), order=1, mode="nearest", grid_mode=True)


def crop_and_resize(hu: np.ndarray, spec: InputSpec, box: CropBox | None = None) -> tuple[np.ndarray, CropBox]:
    """HU volume [z, y, x] → float32 HU stack [z, size, size] on the body box, and the box."""
    box = box or body_crop_box(hu)
    cropped = _pad_crop(hu, box, fill=-1000).astype(np.float32)
    return _resize_stack(cropped, spec.size), box


def crop_and_resize_mask(mask: np.ndarray, spec: InputSpec, box: CropBox) -> np.ndarray:
    """A mask through the same crop and resize, as float32 in [0, 1] (threshold 0.5 for labels)."""
    cropped = _pad_crop(mask.astype(np.float32), box, fill=0.0)
    return np.clip(_resize_stack(cropped, spec.size), 0.0, 1.0)


def normalise_hu(stack_hu: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Clip HU to the model window and scale to [0, 1] (float32)."""
    scale = np.float32(1.0 / (spec.hu_high - spec.hu_low))
    out = (stack_hu.astype(np.float32, copy=False) - np.float32(spec.hu_low)) * scale
    return np.clip(out, 0.0, 1.0, out=out)


def with_context(stack: np.ndarray, indices: np.ndarray, context: int) -> np.ndarray:
    """Network inputs [n, size, size, channels]: each slice with its neighbours (edges repeat)."""
    last = stack.shape[0] - 1
    offsets = np.arange(-context, context + 1)
    picks = np.clip(indices[:, None] + offsets[None, :], 0, last)
    return np.moveaxis(stack[picks], 1, -1)


def preprocess_volume(hu: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, CropBox]:
    """The full forward path for inference: crop, resize and normalise; [z, size, size] float32."""
    stack, box = crop_and_resize(hu, spec)
    return normalise_hu(stack, spec), box


def restore_to_grid(stack: np.ndarray, box: CropBox) -> np.ndarray:
    """Exact inverse of crop and resize: [z, size, size] → [z, rows, columns] (float32, 0 outside)."""
    rows, columns = box.shape
    resized = ndimage.zoom(
        stack.astype(np.float32, copy=False),
        (1.0, box.side / stack.shape[-1], box.side / stack.shape[-1]),
        order=1,
        mode="nearest",
        grid_mode=True,
    )
    out = np.zeros((stack.shape[0], rows, columns), dtype=np.float32)
    sy0, sx0 = max(box.y0, 0), max(box.x0, 0)
    sy1, sx1 = min(box.y0 + box.side, rows), min(box.x0 + box.side, columns)
    if sy1 > sy0 and sx1 > sx0:
        out[:, sy0:sy1, sx0:sx1] = resized[:, sy0 - box.y0 : sy1 - box.y0, sx0 - box.x0 : sx1 - box.x0]
    return out
