"""Training augmentation that keeps anatomy plausible, applied in HU before normalisation.

Geometry: small rotations, scaling, shifts and a smooth elastic warp (no left-right flip: the
liver is always on the patient's right). Intensity, to survive other scanners and contrast
phases: a global HU offset, a contrast change, a liver-only enhancement shift (portal vs late
phase), blur (kernel, thickness) and noise (dose).

Distractors: the liver masks of 3D-IRCADb-01 include the tumours, so a network trained on them
learns "a hypodense mass against the liver is liver" and swallows extrahepatic masses (a renal
or adrenal tumour, a full stomach). Distractors paste textured masses just outside the liver,
behind it (the liver occludes them, so its contour and the label stay exact), labelled
background: the network must use the liver's capsule, not the mass's intensity.
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
    distractor_probability: float = 0.0
    distractor_hu: tuple[float, float] = (-10.0, 90.0)
    distractor_radius_fraction: tuple[float, float] = (0.05, 0.22)  # of the grid size


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
    if rng.random() < config.distractor_probability:
        _paste_distractor(out, liver, rng, config)
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


def _paste_distractor(hu: np.ndarray, liver: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> None:
    """Paint one textured elliptic mass outside the liver, touching it where there is one.

    The mass lies behind the liver (only non-liver body pixels change), in every channel
    alike, so the label needs no change and the liver's own edge stays as scanned.
    """
    size = hu.shape[0]
    body = hu[..., hu.shape[-1] // 2] > -500.0
    radius = rng.uniform(*config.distractor_radius_fraction) * size
    if liver.any():
        ys, xs = np.nonzero(liver ^ ndimage.binary_erosion(liver))
        i = rng.integers(len(ys))
        cy, cx = np.nonzero(liver)
        direction = np.array([ys[i] - cy.mean(), xs[i] - cx.mean()])
        direction /= max(float(np.hypot(*direction)), 1e-6)
        centre = np.array([ys[i], xs[i]]) + direction * radius * rng.uniform(0.2, 1.0)
    else:
        ys, xs = np.nonzero(body)
        if not len(ys):
            return
        i = rng.integers(len(ys))
        centre = np.array([ys[i], xs[i]], dtype=float)
    angle = rng.uniform(0, np.pi)
    ratio = rng.uniform(0.6, 1.0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = yy - centre[0], xx - centre[1]
    u = (dy * np.cos(angle) + dx * np.sin(angle)) / radius
    v = (-dy * np.sin(angle) + dx * np.cos(angle)) / (radius * ratio)
    distance = np.sqrt(u * u + v * v)
    # Soft edge over ~1.5 pixels, like a scanned boundary; zero on the liver and outside the body.
    alpha = np.clip((1.0 - distance) * radius / 1.5, 0.0, 1.0) * (body & ~liver)
    if not alpha.any():
        return
    texture = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (size, size)).astype(np.float32), rng.uniform(1.0, 3.0))
    texture *= rng.uniform(5.0, 20.0) / max(float(texture.std()), 1e-6)
    value = np.float32(rng.uniform(*config.distractor_hu)) + texture
    for c in range(hu.shape[-1]):
        hu[..., c] = hu[..., c] * (1.0 - alpha) + value * alpha
