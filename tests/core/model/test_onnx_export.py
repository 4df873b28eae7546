"""Exporting a Keras model to its ONNX graph, as the trainer and the fine-tuner do after saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ctseg_core import errors
from ctseg_core.model import onnx_export
from ctseg_core.model.card import ModelCard, write_card
from ctseg_core.model.inference import Segmenter
from ctseg_core.model.onnx_graph import file_sha256, graph_path, load_current_graph
from ctseg_core.model.preprocessing import InputSpec

pytestmark = pytest.mark.slow  # imports TensorFlow


@pytest.fixture(scope="module")
def fresh_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A freshly built (untrained) small U-Net saved as a .keras file with its card, and the Keras model."""
    from ctseg_core.model.tf_runtime import import_tensorflow
    from ctseg_core.model.unet import UNetConfig, build_unet

    import_tensorflow(2)
    config = UNetConfig(input_size=32, depth=2, base_filters=4)
    model = build_unet(config)
    path = tmp_path_factory.mktemp("fresh") / "fresh.keras"
    model.save(str(path))
    write_card(ModelCard(input=InputSpec(size=32), architecture=config.to_dict()), path)
    return path, model


def test_export_writes_a_current_graph_that_computes_what_keras_does(fresh_model: tuple[Path, object]) -> None:
    path, model = fresh_model
    written = onnx_export.export_graph(path)
    assert written == graph_path(path) and written.is_file()
    graph, reason = load_current_graph(path, threads=2)
    assert graph is not None, reason
    assert graph.source_sha256 == file_sha256(path)
    batch = np.random.default_rng(1).uniform(0, 1, (5, 32, 32, 3)).astype(np.float32)  # any batch size
    expected = np.asarray(model(batch, training=False))  # type: ignore[operator]
    assert np.max(np.abs(graph(batch) - expected)) < 1e-5
    assert Segmenter.load(path, backend=None).backend == "onnxruntime"
    assert not list(path.parent.glob(".*")), "a temporary file was left behind"


def test_a_graph_that_disagrees_is_not_written(
    fresh_model: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, model = fresh_model
    copy = tmp_path / "copy.keras"
    copy.write_bytes(path.read_bytes())
    graph_path(copy).write_bytes(b"the previous graph")
    monkeypatch.setattr(onnx_export, "MAX_PROBABILITY_DIFFERENCE", -1.0)
    with pytest.raises(errors.ModelError, match="disagrees with the Keras model"):
        onnx_export.export_graph(copy, model)
    assert graph_path(copy).read_bytes() == b"the previous graph"  # the old file whole, never half a new one
    assert not list(tmp_path.glob(".*"))


def test_the_trainer_ships_its_model_with_a_current_graph(tiny_model: Path) -> None:
    graph, reason = load_current_graph(tiny_model)
    assert graph is not None, reason
    assert Segmenter.load(tiny_model).backend == "onnxruntime"
