"""Training augmentation: labels follow the image, nothing is mirrored, distractors stay off the liver."""

from __future__ import annotations

import numpy as np

from ctseg_core.model.augment import AugmentConfig, _paste_distractor, augment_sample

SIZE = 96


def _slice_with_liver() -> tuple[np.ndarray, np.ndarray]:
    """Three channels of a round body (0 HU) in air, with a 100 HU liver on the image left."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    body = (yy - 48) ** 2 + (xx - 48) ** 2 < 40**2
    liver = (yy - 48) ** 2 + (xx - 32) ** 2 < 14**2
    hu = np.where(body, 0.0, -1000.0).astype(np.float32)
    hu[liver] = 100.0
    return np.repeat(hu[..., None], 3, axis=-1), liver


def test_distractor_never_touches_the_liver_or_the_air() -> None:
    hu, liver = _slice_with_liver()
    air = hu[..., 1] < -500
    for seed in range(20):
        out = hu.copy()
        _paste_distractor(out, liver, np.random.default_rng(seed), AugmentConfig())
        assert np.array_equal(out[liver], hu[liver])
        assert np.array_equal(out[air], hu[air])
        assert np.array_equal(out[..., 0], out[..., 2])  # all channels alike
    changed = [not np.array_equal(hu, _pasted(hu, liver, seed)) for seed in range(20)]
    assert sum(changed) >= 15


def _pasted(hu: np.ndarray, liver: np.ndarray, seed: int) -> np.ndarray:
    out = hu.copy()
    _paste_distractor(out, liver, np.random.default_rng(seed), AugmentConfig())
    return out


def test_distractor_touches_the_liver() -> None:
    """The mass is placed against the liver, where the real confusions happen."""
    from scipy import ndimage

    hu, liver = _slice_with_liver()
    ring = ndimage.binary_dilation(liver, iterations=3) & ~liver
    touching = sum(bool(np.any(_pasted(hu, liver, seed)[ring, 1] != hu[ring, 1])) for seed in range(20))
    assert touching >= 15


def test_augmented_mask_follows_the_image_and_keeps_sides() -> None:
    hu, liver = _slice_with_liver()
    config = AugmentConfig(noise_hu=(0.0, 0.0), blur_probability=0.0, distractor_probability=1.0)
    for seed in range(10):
        out, mask = augment_sample(hu, liver.astype(np.float32), np.random.default_rng(seed), config)
        assert out.shape == hu.shape and mask.shape == liver.shape
        assert set(np.unique(mask)) <= {0.0, 1.0}
        # Small rotations and scaling only: the liver stays on the image left (no flip).
        assert np.nonzero(mask)[1].mean() < SIZE / 2
        # The labelled liver is still brighter than the pasted masses' range.
        assert np.median(out[mask > 0, 1]) > np.median(out[(mask == 0) & (out[..., 1] > -500), 1])
