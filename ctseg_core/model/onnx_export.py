"""Exporting a trained Keras model to the ONNX graph that inference runs (``X.keras`` → ``X.onnx``).

The trainer and the fine-tuner call :func:`export_graph` right after saving a model, so every
model ctseg makes, the user's own included, gets its graph. The conversion is Keras 3's own
(``model.export(format="onnx")``, through tf2onnx); the graph records the SHA-256 of the ``.keras``
file (see :mod:`ctseg_core.model.onnx_graph`) and is checked against the Keras model on a small
batch before it is written, so a graph that computes anything else is never put in place.
Imports TensorFlow (it reads the Keras model).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ctseg_core.errors import ModelError
from ctseg_core.model.onnx_graph import (
    GRAPH_SUFFIX,
    SOURCE_HASH_KEY,
    SOURCE_NAME_KEY,
    ExportedGraph,
    file_sha256,
    graph_path,
)

#: Largest |p_onnx − p_keras| accepted on the check batch (measured on the bundled model: ≈ 3e-6).
MAX_PROBABILITY_DIFFERENCE = 1e-4
#: Slices in the check batch (random inputs in the normalised range [0, 1]).
CHECK_SLICES = 2
#: Name of the graph's input (the Keras model's input is called ``ct``).
INPUT_NAME = "ct"


def export_graph(model_path: str | Path, model: Any = None) -> Path:
    """Write ``X.onnx`` beside ``X.keras`` from the saved model; the graph's path.

    ``model``: the Keras model already in memory with exactly the saved weights (skips reading
    the file again); None reads ``model_path``. ModelError when the converter is missing, the
    conversion fails, or the graph disagrees with the Keras model; the target is written
    atomically, so an old graph stays whole (and, its hash no longer matching, unused).
    """
    from ctseg_core.io.atomic import atomic_path

    model_path = Path(model_path)
    onnx = _import_converter(model_path)
    source_hash = file_sha256(model_path)
    model = model if model is not None else _load_keras(model_path)
    with tempfile.TemporaryDirectory(prefix="ctseg-export-") as work:
        raw = Path(work) / f"graph{GRAPH_SUFFIX}"
        _convert(model, raw, model_path)
        proto = onnx.load(str(raw))
    onnx.helper.set_model_props(proto, {SOURCE_HASH_KEY: source_hash, SOURCE_NAME_KEY: model_path.name})
    target = graph_path(model_path)
    with atomic_path(target, suffix=GRAPH_SUFFIX) as temporary:
        onnx.save(proto, str(temporary))
        _check_against_keras(model, temporary, model_path)
    return target


def _load_keras(model_path: Path) -> Any:
    from ctseg_core.model.tf_runtime import import_tensorflow

    import_tensorflow()
    import keras

    try:
        return keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # Keras raises many types for damaged files
        raise ModelError(model_path, f"cannot export the graph: Keras cannot read the model ({exc})") from exc


def _import_converter(model_path: Path) -> Any:
    """``onnx`` (and a check that ``tf2onnx``, which Keras converts with, is there): a clear error if not."""
    try:
        import onnx
        import tf2onnx  # noqa: F401  (Keras imports it by name during the export)
    except ImportError as exc:
        raise ModelError(
            model_path, f"cannot export the inference graph: {exc.name} is not installed (pip install onnx tf2onnx)"
        ) from exc
    return onnx


@contextlib.contextmanager
def _quiet_converter() -> Iterator[None]:
    """tf2onnx logs every rewrite at INFO and warns about NumPy 2: keep the trainer's log readable."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _convert(model: Any, out: Path, model_path: Path) -> None:
    """Keras 3's ONNX export of the inference call (batch axis free), into ``out``."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *tuple(model.input_shape)[1:]), tf.float32, name=INPUT_NAME)
    try:
        with _quiet_converter():
            model.export(str(out), format="onnx", verbose=False, input_signature=[spec])
    except Exception as exc:  # the converter raises many types
        raise ModelError(model_path, f"cannot export the inference graph ({exc.__class__.__name__}: {exc})") from exc


def _check_against_keras(model: Any, graph_file: Path, model_path: Path) -> None:
    """Refuse a graph whose probabilities differ from the Keras model's on a small random batch."""
    shape = (CHECK_SLICES, *tuple(model.input_shape)[1:])
    batch = np.random.default_rng(0).uniform(0.0, 1.0, shape).astype(np.float32)
    expected = np.asarray(model(batch, training=False))
    got = ExportedGraph.load(graph_file, threads=None)(batch)
    difference = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    if not difference <= MAX_PROBABILITY_DIFFERENCE:
        raise ModelError(
            model_path,
            f"the exported graph disagrees with the Keras model (largest probability difference {difference:.2g},"
            f" shapes {got.shape} and {expected.shape}); not written",
        )
