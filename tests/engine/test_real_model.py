"""The bundled model through the model process: the same masks as in this process, cancel within 0.5 s,
and no runtime imported here."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ctseg_core.engine import ModelProcess
from ctseg_core.errors import Cancelled
from ctseg_core.io.loading import load_patient
from ctseg_core.synth.phantom import write_phantom

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def patient_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("engine") / "p", seed=4, slices=40, size=256)


def test_the_model_process_gives_the_masks_of_the_model_in_this_process(patient_folder: Path) -> None:
    from ctseg_core.model.inference import Segmenter

    tensorflow_before = "tensorflow" in sys.modules  # an earlier test in this process may have imported it
    patient = load_patient(patient_folder)
    here = Segmenter.load(backend="onnxruntime").predict(patient.hu, patient.spacing_mm, return_uncertainty=True)
    with ModelProcess(threads=2) as process:
        segmenter = process.segmenter()
        assert segmenter.backend == "onnxruntime" and segmenter.card is not None
        there = segmenter.predict(patient.hu, patient.spacing_mm, return_uncertainty=True)
    np.testing.assert_array_equal(there.mask, here.mask)
    np.testing.assert_array_equal(there.uncertainty, here.uncertainty)
    assert there.quality is not None and here.quality is not None
    assert there.quality.estimated_dice == pytest.approx(here.quality.estimated_dice)
    assert set(there.timings) == set(here.timings)
    assert ("tensorflow" in sys.modules) == tensorflow_before  # neither engine imported it here


def test_cancel_on_the_real_model_takes_effect_within_half_a_second(patient_folder: Path) -> None:
    patient = load_patient(patient_folder)
    with ModelProcess(threads=2) as process:
        segmenter = process.segmenter()
        asked: list[float] = []
        with pytest.raises(Cancelled):
            segmenter.predict(
                patient.hu,
                patient.spacing_mm,
                progress=lambda done, total, stage: asked.append(time.monotonic()) if done else None,
                should_cancel=lambda: bool(asked),
            )
        assert time.monotonic() - asked[0] < 0.5
        assert segmenter.predict(patient.hu[:4], patient.spacing_mm).mask.shape == patient.hu[:4].shape
