"""Incremental Dice of an edited label equals the full recomputation after every edit."""

from __future__ import annotations

import math

import numpy as np

from ctseg_core.annotate.live_dice import OverlapCounts
from ctseg_core.metrics import dice


def test_counts_follow_edits_exactly() -> None:
    rng = np.random.default_rng(0)
    reference = rng.random((6, 32, 32)) > 0.6
    label = np.zeros_like(reference)
    counts = OverlapCounts(label, reference)
    assert counts.volume_dice() == dice(label, reference) == 0.0
    for _ in range(20):
        z = int(rng.integers(6))
        label[z] ^= rng.random((32, 32)) > 0.8
        counts.update(label, [z])
        assert math.isclose(counts.volume_dice(), dice(label, reference))
        for every in range(6):  # the slice Dice comes from the counts: every slice, not just the edited one
            assert math.isclose(counts.slice_dice(every), dice(label[every], reference[every]))


def test_both_empty_is_undefined() -> None:
    empty = np.zeros((2, 4, 4), bool)
    assert math.isnan(OverlapCounts(empty, empty).volume_dice())
