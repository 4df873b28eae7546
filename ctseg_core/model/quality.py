"""How far to trust a segmentation: an estimate of its Dice, and where the model was unsure.

The network's own probabilities say a lot about its errors: a confident liver has a thin band of
probabilities between 0 and 1 at its border, a doubtful one a thick band, islands the
post-processing had to remove, and a soft Dice (the Dice the model "expects" between its
probabilities and its own mask) well below 1. These signals are computed on the network grid
(≈ 160² per slice, a few milliseconds a volume) and mapped to an estimated Dice by a linear model
calibrated on held-out data only (``benchmarks/calibrate_quality.py``); the coefficients live in
the model card's ``quality`` section, because they belong to one model. A card without them
falls back to the soft Dice, which is uncalibrated and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Below this estimated Dice the scan is flagged "check this scan" (unless the card says otherwise).
DEFAULT_CHECK_BELOW = 0.90
#: A mask with more than this share on the first and last slices runs off the scan: "check this scan".
PARTIAL_END_FRACTION = 0.05
#: Probabilities in (BAND_LOW, BAND_HIGH) are "the model was unsure here".
BAND_LOW, BAND_HIGH = 0.1, 0.9
#: Feature names, in the order the card's weights use them.
FEATURES = ("soft_dice", "band_fraction", "removed_fraction", "end_fraction")


@dataclass(frozen=True)
class ScanQuality:
    """The quality estimate of one segmentation."""

    estimated_dice: float
    check_scan: bool  # the user should review this scan: estimate below the threshold, no liver, or a partial scan
    threshold: float
    calibrated: bool  # False: no calibration in the card, the estimate is the raw soft Dice
    reasons: tuple[str, ...]
    features: dict[str, float]
    slice_uncertainty: np.ndarray = field(repr=False)  # float32 [z]: uncertain area per axial slice (network px)

    def most_uncertain_slices(self, count: int | None = None) -> list[int]:
        """Axial slices by decreasing uncertainty, only those with any (the ones to look at first)."""
        ranked = np.argsort(-self.slice_uncertainty, kind="stable")
        order = [int(k) for k in ranked if self.slice_uncertainty[k] > 0]
        return order[:count] if count is not None else order

    def next_uncertain_slice(self, current: int) -> int | None:
        """The next slice to look at after ``current`` in that order (wrapping round), None if none."""
        order = self.most_uncertain_slices()
        if not order:
            return None
        if current in order:
            return order[(order.index(current) + 1) % len(order)]
        return order[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimated_dice": round(self.estimated_dice, 4),
            "check_scan": self.check_scan,
            "threshold": self.threshold,
            "calibrated": self.calibrated,
            "reasons": list(self.reasons),
            "features": {k: round(v, 5) for k, v in self.features.items()},
        }


def voxel_uncertainty(probability: np.ndarray) -> np.ndarray:
    """Binary entropy in bits (0 = certain, 1 = p of ½), float32, same shape."""
    p = np.clip(probability.astype(np.float32, copy=False), 1e-6, 1 - 1e-6)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return entropy.astype(np.float32, copy=False)


def in_unsure_band(probability: np.ndarray) -> np.ndarray:
    """Voxels where the model was unsure: p in (BAND_LOW, BAND_HIGH)."""
    return (probability > BAND_LOW) & (probability < BAND_HIGH)


def quality_features(probability: np.ndarray, kept: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """The model's own signals, on the network grid: probabilities [z, n, n] and the kept mask.

    - soft_dice: 2 Σ p·m / (Σ p + Σ m), with m the post-processed mask;
    - band_fraction: voxels with p in (0.1, 0.9), per mask voxel (a thick unsure border);
    - removed_fraction: above-threshold voxels the post-processing dropped, per mask voxel;
    - end_fraction: share of the mask on the first and last slices (a liver cut by the scan's
      range: the volume there is only partly seen).
    """
    p = probability.astype(np.float32, copy=False)
    m = kept.astype(bool, copy=False)
    mask_voxels = float(m.sum())
    if mask_voxels == 0:
        return {"soft_dice": 0.0, "band_fraction": 1.0, "removed_fraction": 0.0, "end_fraction": 0.0}
    soft = 2.0 * float(p[m].sum()) / (float(p.sum()) + mask_voxels)
    band = float(in_unsure_band(p).sum()) / mask_voxels
    removed = float(((p >= threshold) & ~m).sum()) / mask_voxels
    ends = float(m[0].sum() + (m[-1].sum() if m.shape[0] > 1 else 0)) / mask_voxels
    return {"soft_dice": soft, "band_fraction": band, "removed_fraction": removed, "end_fraction": ends}


def estimate_quality(
    probability: np.ndarray,
    kept: np.ndarray,
    calibration: Mapping[str, Any] | None = None,
    threshold: float = 0.5,
    entropy: np.ndarray | None = None,
) -> ScanQuality:
    """Estimated Dice, flag and per-slice uncertainty of a segmentation (network-grid inputs).

    ``calibration`` is the model card's ``quality`` section: ``{"intercept": a, "weights":
    {feature: w}, "check_below": t}``; the estimate is ``clip(a + Σ w·feature, 0, 1)``.
    ``entropy``: ``voxel_uncertainty(probability)`` when the caller has it already.
    """
    features = quality_features(probability, kept, threshold)
    calibrated = bool(calibration and "weights" in calibration)
    if calibration and calibrated:
        weights = calibration["weights"]
        value = float(calibration.get("intercept", 0.0)) + sum(
            float(weights.get(name, 0.0)) * features[name] for name in FEATURES
        )
    else:
        value = features["soft_dice"]
    estimated = float(np.clip(value, 0.0, 1.0))
    check_below = float((calibration or {}).get("check_below", DEFAULT_CHECK_BELOW))
    reasons: list[str] = []
    if not kept.any():
        reasons.append("no liver found")
    elif estimated < check_below:
        reasons.append(f"estimated Dice {estimated:.2f} is below {check_below:.2f}")
    partial = features["end_fraction"] > PARTIAL_END_FRACTION  # 0 for an empty mask
    if partial:  # measured: such scans lose 0.04-0.36 Dice on held-out folds, with confident probabilities
        reasons.append("the liver runs off the first or last slice: the scan covers only part of it")
    entropy = voxel_uncertainty(probability) if entropy is None else entropy
    # near-certain voxels add nothing
    per_slice = np.where(in_unsure_band(probability), entropy, 0.0).sum(axis=(1, 2)).astype(np.float32)
    return ScanQuality(
        estimated_dice=estimated,
        check_scan=estimated < check_below or not kept.any() or partial,
        threshold=check_below,
        calibrated=calibrated,
        reasons=tuple(reasons),
        features=features,
        slice_uncertainty=per_slice,
    )
