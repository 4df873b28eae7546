"""The exported graph gives TensorFlow's masks: Dice ≥ 0.9999 after the whole predict pipeline.

The bundled model run both ways on 10 phantoms and on the three IRCAD patients (when
../shared/data is there). This is the condition under which ``ctseg segment`` may run on
ONNX Runtime instead of TensorFlow (issue 22 §4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ctseg_core.metrics import dice
from ctseg_core.model.inference import Segmenter
from ctseg_core.synth.phantom import make_phantom

pytestmark = pytest.mark.slow  # imports TensorFlow and runs the bundled model twice

MIN_DICE = 0.9999
#: Largest |p_onnx − p_tensorflow| allowed on the CT grid (measured ≈ 1e-5; the export checks 1e-4 too).
MAX_PROBABILITY_DIFFERENCE = 1e-4
PHANTOM_SEEDS = range(300, 310)
IRCAD_PATIENTS = ("3Dircadb1.1", "3Dircadb1.7", "3Dircadb1.17")


@pytest.fixture(scope="module")
def both() -> tuple[Segmenter, Segmenter]:
    """The bundled model on TensorFlow and on its exported graph, 2 threads each."""
    tensorflow = Segmenter.load(threads=2, backend="tensorflow")
    graph = Segmenter.load(threads=2, backend="onnxruntime")
    assert (tensorflow.backend, graph.backend) == ("tensorflow", "onnxruntime")
    return tensorflow, graph


def _same_masks(both: tuple[Segmenter, Segmenter], hu: np.ndarray, spacing: tuple[float, float, float]) -> float:
    """Dice between the two engines' masks (after post-processing, on the CT grid); asserts the probabilities too."""
    tensorflow, graph = (s.predict(hu, spacing, return_probability=True) for s in both)
    assert tensorflow.probability is not None and graph.probability is not None
    difference = float(np.max(np.abs(tensorflow.probability - graph.probability)))
    score = dice(tensorflow.mask, graph.mask) if tensorflow.mask.any() or graph.mask.any() else 1.0
    print(f"{hu.shape}: Dice {score:.6f}, largest probability difference {difference:.2g}")  # shown with -s
    assert difference <= MAX_PROBABILITY_DIFFERENCE
    return score


def test_the_same_masks_on_ten_phantoms(both: tuple[Segmenter, Segmenter]) -> None:
    scores = {}
    for seed in PHANTOM_SEEDS:
        phantom = make_phantom(seed=seed, slices=24, size=160)  # the model's input size: the network dominates
        scores[seed] = _same_masks(both, phantom.hu, phantom.spacing_mm)
    assert min(scores.values()) >= MIN_DICE, scores


@pytest.mark.parametrize("name", IRCAD_PATIENTS)
def test_the_same_masks_on_the_ircad_patients(both: tuple[Segmenter, Segmenter], ircad_root: Path, name: str) -> None:
    from ctseg_core.io.loading import load_patient

    patient = load_patient(ircad_root / name, masks=[])
    assert _same_masks(both, patient.hu, patient.spacing_mm) >= MIN_DICE
