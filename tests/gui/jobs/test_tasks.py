"""Background tasks without Qt: scores (the core's, as the viewer uses them), opening, the model cache
and cancelling segmentation."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ctseg_core.errors import Cancelled
from ctseg_core.metrics import compare
from ctseg_core.progress import never_cancel, no_progress
from ctseg_gui.jobs.patients import load_ground_truth, open_patient
from ctseg_gui.jobs.segmentation import SegmenterCache, segment
from gui.conftest import FakeSegmenter


def test_open_patient_loads_only_the_liver_and_starts_inside_it(small_phantom: Path) -> None:
    opened = open_patient(small_phantom, no_progress, never_cancel)
    assert opened.gt_name == "liver"
    assert set(opened.patient.masks) == {"liver"}
    assert {"liver", "spleen", "livertumor"} <= set(opened.patient.available_masks)
    assert opened.gt[opened.start_slice].any()
    assert opened.scores.gt_volume_ml > 0


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
