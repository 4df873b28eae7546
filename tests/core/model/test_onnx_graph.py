"""The exported ONNX graph: where it lives, when it is used (current) or not (stale), and that the
``ctseg segment`` path on it never imports TensorFlow. These tests run without TensorFlow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ctseg_core import errors
from ctseg_core.model.card import card_path
from ctseg_core.model.inference import BACKEND_ENV, Segmenter, chosen_backend, default_model_path
from ctseg_core.model.onnx_graph import (
    SOURCE_HASH_KEY,
    copy_graph,
    file_sha256,
    graph_path,
    load_current_graph,
)
from ctseg_core.synth.phantom import write_phantom

#: Modules that must stay out of a process segmenting on the exported graph.
HEAVY = ("tensorflow", "keras", "tf2onnx", "onnx")


@pytest.fixture
def bundled_copy(tmp_path: Path) -> Path:
    """The bundled model, its card and its graph, copied (so they can be altered)."""
    source = default_model_path()
    model = tmp_path / "liver_unet.keras"
    for path, target in ((source, model), (card_path(source), card_path(model)), (graph_path(source), None)):
        shutil.copyfile(path, target or graph_path(model))
    return model


@pytest.fixture
def no_backend_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)


def _retouched(model: Path) -> None:
    """Change the model file's bytes, keeping it a readable Keras archive (to the hash, a retrained model)."""
    with zipfile.ZipFile(model, "a") as archive:
        archive.writestr("retrained.txt", "new weights")


def test_the_graph_sits_beside_its_model_under_the_same_stem() -> None:
    assert graph_path(Path("/m/liver_unet.keras")) == Path("/m/liver_unet.onnx")
    assert graph_path(Path("/m/liver_unet.v2.keras")) == Path("/m/liver_unet.v2.onnx")


def test_the_bundled_graph_is_current() -> None:
    """The shipped liver_unet.onnx was exported from the shipped liver_unet.keras (re-export after retraining)."""
    model = default_model_path()
    graph, reason = load_current_graph(model, threads=2)
    assert graph is not None, reason
    assert graph.source_sha256 == file_sha256(model)
    meta = graph.session.get_modelmeta().custom_metadata_map
    assert meta[SOURCE_HASH_KEY] == file_sha256(model)
    assert graph.input_shape == (None, 160, 160, 3)


def test_the_graph_is_chosen_by_default(bundled_copy: Path, no_backend_env: None) -> None:
    segmenter = Segmenter.load(bundled_copy, threads=2)
    assert segmenter.backend == "onnxruntime"
    assert segmenter.backend_reason == "exported graph liver_unet.onnx"
    hu = np.full((3, 96, 96), -1000, np.int16)
    hu[:, 20:70, 20:70] = 60
    probability = segmenter.predict(hu, return_probability=True).probability
    assert probability is not None and probability.shape == hu.shape
    assert probability.min() >= 0.0 and probability.max() <= 1.0


def test_a_stale_graph_is_never_used(bundled_copy: Path, no_backend_env: None) -> None:
    _retouched(bundled_copy)
    graph, reason = load_current_graph(bundled_copy)
    assert graph is None
    assert "stale" in reason and "liver_unet.onnx" in reason
    with pytest.raises(errors.ModelError, match=r"ONNX Runtime was asked for, but liver_unet.onnx .*\(stale"):
        Segmenter.load(bundled_copy, backend="onnxruntime")


def test_a_missing_or_unreadable_graph_is_reported(bundled_copy: Path, no_backend_env: None) -> None:
    graph_path(bundled_copy).unlink()
    assert load_current_graph(bundled_copy) == (None, "no exported graph liver_unet.onnx beside the model")
    with pytest.raises(errors.ModelError, match="no exported graph"):
        Segmenter.load(bundled_copy, backend="onnxruntime")
    graph_path(bundled_copy).write_bytes(b"not a graph")
    graph, reason = load_current_graph(bundled_copy)
    assert graph is None and "cannot read the exported graph" in reason


def test_the_backend_can_be_forced_by_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert chosen_backend() is None
    assert chosen_backend("TensorFlow") == "tensorflow"
    monkeypatch.setenv(BACKEND_ENV, "onnxruntime")
    assert chosen_backend() == "onnxruntime"
    assert chosen_backend("auto") is None  # the argument wins over the environment
    monkeypatch.setenv(BACKEND_ENV, "torch")
    with pytest.raises(errors.InvalidArgumentError, match=BACKEND_ENV):
        chosen_backend()
    with pytest.raises(errors.InvalidArgumentError, match="backend must be one of"):
        Segmenter.load(backend="tvm")


def test_copy_graph_goes_with_a_registered_copy(bundled_copy: Path, tmp_path: Path) -> None:
    registered = tmp_path / "models" / "mine.keras"
    registered.parent.mkdir()
    shutil.copyfile(bundled_copy, registered)
    shutil.copyfile(card_path(bundled_copy), card_path(registered))
    assert copy_graph(bundled_copy, registered) == graph_path(registered)
    graph, reason = load_current_graph(registered)
    assert graph is not None, reason
    graph_path(bundled_copy).unlink()
    assert copy_graph(bundled_copy, registered) is None
    assert not graph_path(registered).exists()  # no old graph beside a model that has none


def test_exporting_without_the_converter_is_a_clear_error(bundled_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ctseg_core.model.onnx_export import export_graph

    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(errors.ModelError, match=r"tf2onnx is not installed \(pip install onnx tf2onnx\)"):
        export_graph(bundled_copy)


def test_segment_on_the_graph_never_imports_tensorflow(tmp_path: Path) -> None:
    """The whole ``ctseg segment`` path (CLI, loading, card, network, post-processing, quality, writing)."""
    patient = write_phantom(tmp_path / "patient", seed=7, slices=6, size=160)
    argv = ["segment", str(patient), "--out", str(tmp_path / "out"), "--json", "--threads", "2"]
    script = (
        "import json, sys\n"
        "from ctseg_core.cli import main\n"
        f"status = main({argv!r})\n"
        f"print(json.dumps({{'status': status, 'heavy': [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != BACKEND_ENV}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    row, outcome = json.loads(lines[-2]), json.loads(lines[-1])
    assert outcome == {"status": 0, "heavy": []}
    assert "error" not in row and row["estimated_dice"] is not None
    assert any((tmp_path / "out").rglob("*")), "no mask written"
