"""Training augmentation that keeps anatomy plausible, applied in HU before normalisation.

Geometry: small rotations, scaling, shifts and a smooth elastic warp (no left-right flip: the
liver is always on the patient's right). Intensity, to survive other scanners and contrast
phases: a global HU offset, a contrast change, a liver-only enhancement shift (portal vs late
phase), blur (kernel, thickness) and noise (dose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of every random change (uniform between the bounds)."""

    rotation_deg: float = 12.0
    scale: tuple[float, float] = (0.85, 1.15)
    shift_fraction: float = 0.06
    elastic_pixels: float = 4.0
    hu_offset: float = 35.0
    contrast: tuple[float, float] = (0.85, 1.15)
    liver_shift: tuple[float, float] = (-35.0, 45.0)
    noise_hu: tuple[float, float] = (0.0, 25.0)
    blur_probability: float = 0.25
    blur_sigma: tuple[float, float] = (0.3, 1.0)


def _coordinates(size: int, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Sampling coordinates (2, size, size) of a random affine plus elastic warp."""
    angle = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg))
    scale = rng.uniform(*config.scale)
    shift = rng.uniform(-config.shift_fraction, config.shift_fraction, size=2) * size
    centre = (size - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32), indexing="ij")
    y, x = yy - centre, xx - centre
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    src_y = cos * y - sin * x + centre + shift[0]
    src_x = sin * y + cos * x + centre + shift[1]
    if config.elastic_pixels > 0:
        coarse = rng.normal(0.0, config.elastic_pixels, size=(2, 6, 6)).astype(np.float32)
        field = ndimage.zoom(coarse, (1, size / 6, size / 6), order=3, grid_mode=True, mode="nearest")
        src_y += field[0]
        src_x += field[1]
    return np.stack([src_y, src_x])


def augment_sample(
    hu: np.ndarray, mask: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """One training sample: HU channels [size, size, c] and mask [size, size] → augmented copies."""
    size = hu.shape[0]
    coords = _coordinates(size, rng, config)
    out = np.empty_like(hu, dtype=np.float32)
    for c in range(hu.shape[-1]):
        out[..., c] = ndimage.map_coordinates(hu[..., c], coords, order=1, mode="constant", cval=-1000.0)
    warped_mask = ndimage.map_coordinates(mask.astype(np.float32), coords, order=1, mode="constant", cval=0.0)
    liver = ndimage.map_coordinates(mask.astype(np.float32), coords, order=0, mode="constant") > 0.5
    if liver.any():
        # Enhancement of the liver differs between contrast phases; shift all channels alike.
        out[liver] += np.float32(rng.uniform(*config.liver_shift))
    out = (out - 40.0) * np.float32(rng.uniform(*config.contrast)) + 40.0
    out += np.float32(rng.uniform(-config.hu_offset, config.hu_offset))
    if rng.random() < config.blur_probability:
        sigma = rng.uniform(*config.blur_sigma)
        for c in range(out.shape[-1]):
            out[..., c] = ndimage.gaussian_filter(out[..., c], sigma)
    noise = rng.uniform(*config.noise_hu)
    if noise > 0:
        out += rng.normal(0.0, noise, size=out.shape).astype(np.float32)
    return out, (warped_mask > 0.5).astype(np.float32)
