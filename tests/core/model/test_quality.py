"""The quality estimate: the model's own signals, the calibrated estimate, the flag and the slice order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ctseg_core.errors import ModelError
from ctseg_core.model.card import read_card
from ctseg_core.model.quality import estimate_quality, quality_features, voxel_uncertainty


def _ball(shape: tuple[int, int, int], radius: float) -> np.ndarray:
    z, y, x = np.indices(shape)
    centre = (np.array(shape) - 1) / 2
    return ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) <= radius**2


def test_a_confident_mask_scores_high_and_a_doubtful_one_low() -> None:
    mask = _ball((20, 40, 40), 12)
    sure = np.where(mask, 0.99, 0.01).astype(np.float32)
    unsure = np.where(mask, 0.6, 0.35).astype(np.float32)
    good, bad = quality_features(sure, mask), quality_features(unsure, mask)
    assert good["soft_dice"] > 0.95 and good["band_fraction"] == 0.0
    assert bad["soft_dice"] < good["soft_dice"] and bad["band_fraction"] > 1.0
    assert estimate_quality(sure, mask).estimated_dice > estimate_quality(unsure, mask).estimated_dice


def test_calibration_from_the_card_is_applied_and_clipped() -> None:
    mask = _ball((20, 40, 40), 12)
    p = np.where(mask, 0.9, 0.05).astype(np.float32)
    features = quality_features(p, mask)
    calibration = {"intercept": 0.1, "weights": {"soft_dice": 0.8, "band_fraction": -0.5}, "check_below": 0.95}
    quality = estimate_quality(p, mask, calibration)
    expected = 0.1 + 0.8 * features["soft_dice"] - 0.5 * features["band_fraction"]
    assert quality.calibrated and quality.estimated_dice == pytest.approx(min(max(expected, 0), 1))
    assert quality.threshold == 0.95 and quality.check_scan == (quality.estimated_dice < 0.95)
    assert estimate_quality(p, mask, {"intercept": 5.0, "weights": {}}).estimated_dice == 1.0
    uncalibrated = estimate_quality(p, mask, {})
    assert not uncalibrated.calibrated and uncalibrated.estimated_dice == pytest.approx(features["soft_dice"])


def test_an_empty_result_and_a_liver_cut_by_the_scan_are_flagged_with_reasons() -> None:
    nothing = estimate_quality(np.full((5, 8, 8), 0.2, np.float32), np.zeros((5, 8, 8), bool))
    assert nothing.check_scan and "no liver found" in nothing.reasons
    mask = np.zeros((6, 20, 20), bool)
    mask[:, 5:15, 5:15] = True  # runs off both ends
    cut = estimate_quality(np.where(mask, 0.97, 0.02).astype(np.float32), mask)
    assert any("covers only part" in reason for reason in cut.reasons)
    assert cut.check_scan and cut.estimated_dice > cut.threshold  # flagged although the model is confident
    inside = np.zeros((8, 20, 20), bool)
    inside[1:7, 5:15, 5:15] = True  # the whole liver within the scan
    whole = estimate_quality(np.where(inside, 0.97, 0.02).astype(np.float32), inside)
    assert not whole.check_scan and not whole.reasons


def test_slices_are_ranked_by_uncertain_area_and_the_walk_wraps() -> None:
    p = np.zeros((6, 10, 10), np.float32)
    p[1, :2] = 0.5  # 20 voxels at p = ½
    p[4, :5] = 0.5  # 50 voxels
    p[3, :1] = 0.3  # 10 voxels, less uncertain each
    quality = estimate_quality(p, p > 0.4)
    assert quality.most_uncertain_slices() == [4, 1, 3]
    assert quality.next_uncertain_slice(0) == 4
    assert [quality.next_uncertain_slice(k) for k in (4, 1, 3)] == [1, 3, 4]
    assert voxel_uncertainty(np.array([0.5, 0.0, 1.0])).tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-4)


def test_a_card_with_a_bad_quality_section_is_refused_by_name(tmp_path: Path) -> None:
    bundled = Path(__file__).parents[3] / "resources" / "models" / "liver_unet.card.json"
    data = json.loads(bundled.read_text())
    data["quality"] = {"intercept": 0.1, "weights": {"cheer": 1.0}}
    (tmp_path / "m.card.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"quality.weights.cheer"):
        read_card(tmp_path / "m.keras")


def test_segmentation_carries_the_estimate_and_the_uncertainty_map(tiny_model: Path) -> None:
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.synth.phantom import make_phantom

    segmenter = Segmenter.load(tiny_model, threads=2)
    volume = make_phantom(seed=5, slices=8, size=128)
    result = segmenter.predict(volume.hu, volume.spacing_mm, return_uncertainty=True)
    assert result.quality is not None and 0.0 <= result.quality.estimated_dice <= 1.0
    assert result.quality.slice_uncertainty.shape == (8,)
    assert result.uncertainty is not None and result.uncertainty.shape == volume.hu.shape
    assert result.uncertainty.dtype == np.uint8
    assert "quality" in result.timings
    assert segmenter.predict(volume.hu, volume.spacing_mm).uncertainty is None
