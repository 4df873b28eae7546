"""The network as an exported ONNX graph, run by ONNX Runtime: inference without TensorFlow.

TensorFlow stays the engine that trains and fine-tunes; the trainer exports every model it saves
(:func:`ctseg_core.model.onnx_export.export_graph`) to ``X.onnx`` beside ``X.keras``. Measured on
2 cores (``benchmarks/bench_cold_start.py``): ONNX Runtime imports in a fraction of TensorFlow's
seconds and runs the bundled U-Net faster a slice, with the same masks. The graph records the
SHA-256 of the ``.keras`` file it was made from; a graph whose hash is not the model file's is
stale (the model was retrained or replaced) and is never used: inference falls back to TensorFlow.

This module never imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ctseg_core.errors import ModelError

GRAPH_SUFFIX = ".onnx"
#: Metadata key (the graph's ``metadata_props``) holding the SHA-256 of the source ``.keras`` file.
SOURCE_HASH_KEY = "ctseg.source_sha256"
#: Metadata key naming the source file, for people reading the graph.
SOURCE_NAME_KEY = "ctseg.source_name"

_import_seconds: float | None = None


def graph_path(model_path: str | Path) -> Path:
    """The exported graph of a model file: ``liver_unet.keras`` → ``liver_unet.onnx`` (same folder, same stem)."""
    return Path(model_path).with_suffix(GRAPH_SUFFIX)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (≈ 20 ms for the bundled 8 MB model)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_onnxruntime() -> Any:
    """Import ONNX Runtime once (quietly) and return the module; ImportError when it is not installed."""
    global _import_seconds
    started = time.perf_counter()
    import onnxruntime

    if _import_seconds is None:
        _import_seconds = time.perf_counter() - started
        onnxruntime.set_default_logger_severity(3)  # errors only: no "unused initializer" chatter
    return onnxruntime


def import_seconds() -> float:
    """Seconds the first ONNX Runtime import took in this process (0 before it happened)."""
    return _import_seconds or 0.0


class ExportedGraph:
    """An ONNX Runtime session of a model's exported graph; called like the network: [n, h, w, c] → [n, h, w, 1]."""

    def __init__(self, session: Any, path: Path, source_sha256: str) -> None:
        self.session = session
        self.path = path
        self.source_sha256 = source_sha256
        self._input_name = session.get_inputs()[0].name

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None) -> ExportedGraph:
        """A session on ``path`` with the thread settings TensorFlow uses (``tf_runtime.intra_op_threads``).

        ModelError when ONNX Runtime is missing or cannot read the file.
        """
        from ctseg_core.model.tf_runtime import intra_op_threads

        path = Path(path)
        intra = intra_op_threads(threads)
        try:
            ort = import_onnxruntime()
        except ImportError as exc:
            raise ModelError(path, "ONNX Runtime is not installed (pip install onnxruntime)") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # Idle pool threads sleep instead of spinning: on 2 shared cores spinning takes CPU from the GUI
        # thread and the next patient's loading, and it bought no speed here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own exception types for unreadable graphs
            raise ModelError(path, f"cannot read the exported graph ({exc.__class__.__name__})") from exc
        recorded = session.get_modelmeta().custom_metadata_map.get(SOURCE_HASH_KEY, "")
        return cls(session, path, recorded)

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        """The graph's input shape, None for a free dimension (the batch)."""
        return tuple(d if isinstance(d, int) else None for d in self.session.get_inputs()[0].shape)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities [n, h, w, 1] for a float32 batch [n, h, w, c] (any n ≥ 1: the batch axis is free)."""
        inputs = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run(None, {self._input_name: inputs})[0]


def load_current_graph(model_path: Path, threads: int | None = None) -> tuple[ExportedGraph | None, str]:
    """The exported graph of ``model_path`` when it is current, else None; and in words why (or why not).

    Current: ``X.onnx`` sits beside ``X.keras``, ONNX Runtime reads it, and the SHA-256 it records is
    the model file's. A graph that fails any of these is left unused (inference falls back to TensorFlow).
    """
    path = graph_path(model_path)
    if not path.is_file():
        return None, f"no exported graph {path.name} beside the model"
    try:
        graph = ExportedGraph.load(path, threads)
    except ModelError as exc:
        return None, f"{path.name}: {exc.problem}"
    if graph.source_sha256 != file_sha256(model_path):
        why = "records no source model" if not graph.source_sha256 else "was exported from another version"
        return None, f"{path.name} {why} of {Path(model_path).name} (stale: re-export it)"
    return graph, f"exported graph {path.name}"


def copy_graph(model_path: str | Path, destination: str | Path) -> Path | None:
    """Copy a model's exported graph beside ``destination`` (a copy of the model file), atomically.

    For registering a model under a new name: the copy's bytes are the model's, so the recorded
    hash still matches. A graph already beside ``destination`` is removed when the source has none,
    so an old graph never sits beside a new model. Returns the copied graph, or None.
    """
    from ctseg_core.io.atomic import atomic_path

    source, target = graph_path(model_path), graph_path(destination)
    if not source.is_file():
        if target.is_file():
            os.unlink(target)
        return None
    with atomic_path(target, suffix=GRAPH_SUFFIX) as temporary:
        shutil.copyfile(source, temporary)
    return target
