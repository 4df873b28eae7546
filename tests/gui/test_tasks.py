"""Background tasks without Qt: scores, opening, the model cache and cancelling segmentation."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from ctseg_core.errors import Cancelled
from ctseg_core.metrics import compare, volume_ml
from ctseg_core.progress import never_cancel, no_progress
from ctseg_gui.tasks import Scores, SegmenterCache, load_ground_truth, open_patient, score, segment, start_slice

from .conftest import FakeSegmenter


def test_worst_slice_is_the_lowest_defined_dice_first_if_tied() -> None:
    assert Scores(per_slice_dice=np.array([np.nan, 0.9, 0.2, np.nan, 0.2, 1.0])).worst_slice() == 2
    assert Scores(per_slice_dice=np.array([np.nan, np.nan])).worst_slice() is None
    assert Scores().worst_slice() is None
    assert math.isnan(Scores().slice_dice(0))


def test_score_measures_volumes_alone_and_overlap_when_both_masks_exist() -> None:
    gt = np.zeros((3, 8, 8), bool)
    gt[1, 2:6, 2:6] = True
    pred = np.roll(gt, 1, axis=2)
    spacing = (2.0, 0.5, 0.5)
    alone = score(gt, None, spacing)
    assert alone.gt_volume_ml == pytest.approx(volume_ml(gt, spacing))
    assert alone.report is None and alone.prediction_volume_ml is None
    both = score(gt, pred, spacing)
    assert both.report == compare(pred, gt, spacing)
    assert both.slice_dice(1) == pytest.approx(both.report.dice)
    assert math.isnan(both.slice_dice(0))


def test_open_patient_loads_only_the_liver_and_starts_inside_it(small_phantom: Path) -> None:
    opened = open_patient(small_phantom, no_progress, never_cancel)
    assert opened.gt_name == "liver"
    assert set(opened.patient.masks) == {"liver"}
    assert {"liver", "spleen", "livertumor"} <= set(opened.patient.available_masks)
    assert opened.gt[opened.start_slice].any()
    assert opened.scores.gt_volume_ml > 0


def test_start_slice_without_mask_is_the_middle() -> None:
    assert start_slice(None, 9) == 4
    assert start_slice(np.zeros((9, 2, 2), bool), 9) == 4


def test_other_organs_load_lazily_and_rescore(small_phantom: Path) -> None:
    opened = open_patient(small_phantom, no_progress, never_cancel)
    truth = load_ground_truth(opened.patient, "spleen", opened.gt, no_progress, never_cancel)
    assert truth.name == "spleen" and truth.mask.any()
    assert truth.scores.report == compare(opened.gt, truth.mask, opened.patient.spacing_mm)


def test_segmenter_cache_loads_each_model_once_across_threads() -> None:
    loads: list[str | None] = []
    barrier = threading.Barrier(4)

    def loader(path: str | None) -> object:
        loads.append(path)
        return object()

    cache = SegmenterCache(loader)
    results: list[object] = []

    def ask() -> None:
        barrier.wait()
        results.append(cache.get(None))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [None] and len({id(r) for r in results}) == 1


def test_segment_stops_when_cancelled(small_phantom: Path, fake_segmenter: FakeSegmenter) -> None:
    opened = open_patient(small_phantom, no_progress, never_cancel)
    cache = SegmenterCache(lambda path: fake_segmenter)
    with pytest.raises(Cancelled):
        segment(cache, None, opened.patient, opened.gt, no_progress, lambda: True)
    outcome = segment(cache, None, opened.patient, opened.gt, no_progress, never_cancel)
    assert outcome.scores.report is not None and outcome.mask.shape == opened.patient.shape
