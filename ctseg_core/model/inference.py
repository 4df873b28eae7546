"""Segmenting a CT volume with a trained model: batched, with progress and cancel.

``Segmenter.load`` reads the model card and picks the engine that runs the network: the model's
exported ONNX graph in ONNX Runtime when a current one sits beside it (``X.onnx``, see
:mod:`ctseg_core.model.onnx_graph`; TensorFlow is then never imported), else TensorFlow (imported
lazily, ≈ 3 s). ``predict`` runs the shared preprocessing, the network in batches of slices,
post-processing on the network's grid, and the exact inverse back to the CT grid. It knows
nothing of threads: the GUI runs it on a worker and the CLI in the foreground.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ctseg_core.errors import CtsegError, InvalidArgumentError, ModelError
from ctseg_core.io.hu_checks import hu_offset_problem
from ctseg_core.model.card import ModelCard, read_card
from ctseg_core.model.postprocess import postprocess
from ctseg_core.model.preprocessing import preprocess_volume, restore_mask_to_grid, restore_to_grid, with_context
from ctseg_core.model.quality import ScanQuality, estimate_quality, voxel_uncertainty
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

BUNDLED_MODEL_NAME = "liver_unet.keras"
BATCH_SLICES = 16
ONNXRUNTIME, TENSORFLOW = "onnxruntime", "tensorflow"
BACKENDS = (ONNXRUNTIME, TENSORFLOW)
#: Environment variable forcing the engine ("onnxruntime" or "tensorflow"; unset or "auto": choose).
BACKEND_ENV = "CTSEG_INFERENCE_BACKEND"


def default_model_path() -> Path:
    """The bundled model (``resources/models`` in the repository, ``ctseg_resources`` when installed)."""
    from importlib.resources import files

    return Path(str(files("ctseg_resources").joinpath("models", BUNDLED_MODEL_NAME)))


def chosen_backend(backend: str | None = None) -> str | None:
    """The engine asked for: ``backend``, else ``$CTSEG_INFERENCE_BACKEND``; None (or "auto"): choose per model."""
    value = backend if backend is not None else os.environ.get(BACKEND_ENV, "")
    value = value.strip().lower()
    if value in ("", "auto"):
        return None
    if value not in BACKENDS:
        where = "backend" if backend is not None else BACKEND_ENV
        raise InvalidArgumentError(None, f"{where} must be one of {', '.join(BACKENDS)} or auto, got {value!r}")
    return value


def check_model_file(path: Path) -> None:
    """A ModelError naming ``path`` when it cannot be a Keras model, before TensorFlow is imported.

    A ``.keras`` file is a zip archive holding ``config.json``; Keras itself reports anything
    else as "File not found", which sends the user looking for a file that is right there.
    """
    import zipfile

    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ModelError(path, f"cannot read the model file ({exc.strerror or exc})") from exc
    if path.suffix.lower() != ".keras":
        return
    problem = None
    try:
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                problem = "the archive holds no config.json"
    except (zipfile.BadZipFile, OSError, EOFError):
        problem = "a .keras file is a zip archive, and this one is not a readable zip"
    if problem:
        raise ModelError(path, f"model file is corrupt: not a readable Keras model ({problem})")


def _keras_problem(exc: Exception) -> str:
    """The first line of a Keras load error, without its misleading "File not found"."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if "file not found" in text.lower():
        text = "the file exists but Keras cannot read it as a model"
    text = text if len(text) <= 200 else text[:197] + "…"
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def with_hu_check(quality: ScanQuality, hu: np.ndarray) -> ScanQuality:
    """The quality estimate flagged "check this scan" when the input's values are not HU (HU + 1024 stored
    without RescaleIntercept): the network's confidence says nothing about a scan it was never shown."""
    problem = hu_offset_problem(hu)
    if problem is None:
        return quality
    return dataclasses.replace(quality, check_scan=True, reasons=(*quality.reasons, problem))


#: What Keras says when its safe mode refuses to deserialise Python code (a Lambda layer, a function).
SAFE_MODE_MARKERS = ("safe_mode", "arbitrary code execution")


def keras_load_problem(exc: Exception) -> str:
    """Why Keras did not load a model, said for the user: a model holding code (refused by safe mode,
    never run) is not a corrupt file, and the user should not go looking for damage that is not there."""
    text = str(exc)
    if any(marker in text for marker in SAFE_MODE_MARKERS):
        return (
            "holds Python code (a Lambda layer or a function saved in the model), which could run anything on "
            "this machine: not loaded (Keras safe mode). ctseg loads only models made of standard layers"
        )
    return f"model file is corrupt: not a readable Keras model ({_keras_problem(exc)})"


@dataclass
class Segmentation:
    """A model's output on the CT grid."""

    mask: np.ndarray  # bool [z, y, x], post-processed
    probability: np.ndarray | None = None  # float32 [z, y, x], only when asked for (a full-grid float map)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    quality: ScanQuality | None = None  # estimated Dice, "check this scan", per-slice uncertainty
    uncertainty: np.ndarray | None = None  # uint8 [z, y, x], 0 certain … 255 p = ½; only when asked for


class Segmenter:
    """A loaded model and its card; ``predict`` maps HU volumes to liver masks.

    ``model`` is a Keras model (run by TensorFlow) or an :class:`ExportedGraph` (run by ONNX
    Runtime); ``backend`` says which, ``backend_reason`` why.
    """

    def __init__(
        self, model: Any, card: ModelCard, path: Path, load_seconds: float = 0.0, backend_reason: str = ""
    ) -> None:
        self.model = model
        self.card = card
        self.path = path
        self.load_seconds = load_seconds
        self.backend_reason = backend_reason
        self._forward: Any = None

    @property
    def backend(self) -> str:
        """The engine running the network: "onnxruntime" or "tensorflow"."""
        from ctseg_core.model.onnx_graph import ExportedGraph

        return ONNXRUNTIME if isinstance(self.model, ExportedGraph) else TENSORFLOW

    @property
    def import_seconds(self) -> float:
        """Seconds this process spent importing the engine (the first import only)."""
        if self.backend == ONNXRUNTIME:
            from ctseg_core.model.onnx_graph import import_seconds
        else:
            from ctseg_core.model.tf_runtime import import_seconds
        return import_seconds()

    def _run_batch(self, batch: np.ndarray) -> np.ndarray:
        """The network on one batch: probabilities [n, size, size]."""
        if self.backend == ONNXRUNTIME:
            return self.model(batch)[..., 0]
        return self._run_tensorflow(batch)

    def _run_tensorflow(self, batch: np.ndarray) -> np.ndarray:
        """The Keras model as a compiled graph with a fixed batch size.

        Measured on 2 cores: 30 % faster than eager calls, and memory stays flat (eager calls
        grew the process by ≈ 600 MB). The last batch is padded so the graph never retraces.
        """
        if self._forward is None:
            import tensorflow as tf

            model = self.model
            self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        count = batch.shape[0]
        if count < BATCH_SLICES:
            padding = np.zeros((BATCH_SLICES - count, *batch.shape[1:]), dtype=batch.dtype)
            batch = np.concatenate([batch, padding])
        return self._forward(batch).numpy()[:count, ..., 0]

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        threads: int | None = None,
        warm: bool = True,
        backend: str | None = None,
    ) -> Segmenter:
        """Load a model file (default: the bundled one) with its model card (``X.keras`` → ``X.card.json``).

        ``threads``: intra-op threads, None for all cores, else ≥ 1 (InvalidArgumentError).
        ``warm``: trace TensorFlow's inference graph now; False where the Keras model itself is
        wanted (its weights, to fine-tune from), so unless ``backend`` says otherwise it is then
        loaded with TensorFlow, untraced.
        ``backend``: "onnxruntime", "tensorflow", or None for ``$CTSEG_INFERENCE_BACKEND``, else
        the exported graph when it is current and TensorFlow otherwise. Asking for ONNX Runtime
        without a current graph is a ModelError saying why.
        """
        from ctseg_core.model.tf_runtime import check_threads

        check_threads(threads)
        choice = chosen_backend(backend)
        path = Path(model_path) if model_path is not None else default_model_path()
        if path.is_dir():
            raise ModelError(path, "is a folder, not a model file")
        if not path.is_file():
            raise ModelError(path, "model file not found")
        card = read_card(path)
        check_model_file(path)
        if choice is None and not warm:
            choice, reason = TENSORFLOW, "the Keras model is wanted (warm=False)"
        else:
            reason = "asked for" if choice == TENSORFLOW else ""
        if choice != TENSORFLOW:
            from ctseg_core.model.onnx_graph import import_onnxruntime

            with contextlib.suppress(ImportError):  # then the graph is not used, and the reason says why
                import_onnxruntime()  # timed apart (``import_seconds``), as TensorFlow's import is
            started = time.perf_counter()
            segmenter = cls._load_graph(path, card, threads, choice == ONNXRUNTIME)
            if isinstance(segmenter, Segmenter):
                segmenter.load_seconds = time.perf_counter() - started
                return segmenter
            reason = segmenter
        return cls._load_keras(path, card, threads, warm, reason)

    @classmethod
    def _load_graph(cls, path: Path, card: ModelCard, threads: int | None, required: bool) -> Segmenter | str:
        """A segmenter on the model's current exported graph, else why not (a ModelError if ``required``)."""
        from ctseg_core.model.onnx_graph import load_current_graph

        graph, reason = load_current_graph(path, threads)
        expected = (None, card.input.size, card.input.size, card.input.channels)
        if graph is not None and graph.input_shape != expected:
            reason = f"{graph.path.name} takes input {graph.input_shape[1:]}, the card says {expected[1:]}"
            graph = None
        if graph is None:
            if required:
                raise ModelError(path, f"ONNX Runtime was asked for, but {reason}")
            return reason
        return cls(graph, card, path, backend_reason=reason)

    @classmethod
    def _load_keras(cls, path: Path, card: ModelCard, threads: int | None, warm: bool, reason: str) -> Segmenter:
        """A segmenter on the Keras model, run by TensorFlow (imported here)."""
        from ctseg_core.model.tf_runtime import import_tensorflow

        import_tensorflow(threads)
        import keras

        started = time.perf_counter()
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as exc:  # Keras raises many types for damaged files
            raise ModelError(path, keras_load_problem(exc)) from exc
        expected = (None, card.input.size, card.input.size, card.input.channels)
        if tuple(model.input_shape) != expected:
            raise ModelError(
                path,
                f"model card does not match the model: card says input {expected[1:]}, "
                f"model takes {tuple(model.input_shape)[1:]}",
            )
        segmenter = cls(model, card, path, backend_reason=reason)
        if warm:
            segmenter.warm_up()
        segmenter.load_seconds = time.perf_counter() - started
        return segmenter

    def warm_up(self) -> None:
        """Trace TensorFlow's network graph now, on one blank batch (ONNX Runtime needs no tracing).

        Tracing holds the GIL for ≈ 0.1–0.3 s; doing it at load time (the GUI preloads models
        in the background) keeps it out of the first segmentation, so the window never stalls.
        """
        if self.backend == ONNXRUNTIME:
            return
        spec = self.card.input
        self._run_batch(np.zeros((1, spec.size, spec.size, spec.channels), dtype=np.float32))

    def predict_stack(
        self,
        stack: np.ndarray,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        slice_spacing_mm: float | None = None,
    ) -> np.ndarray:
        """Network probabilities [z, size, size] for a preprocessed stack (batched).

        ``slice_spacing_mm`` places the 2.5D neighbours at the card's ``context_mm`` (see InputSpec).
        """
        step = self.card.input.context_step(slice_spacing_mm)
        total = stack.shape[0]
        out = np.empty(stack.shape, dtype=np.float32)
        if progress:
            progress(0, total, "segmenting")
        for start in range(0, total, BATCH_SLICES):
            raise_if_cancelled(should_cancel)
            indices = np.arange(start, min(start + BATCH_SLICES, total))
            batch = with_context(stack, indices, self.card.input.context, step)
            out[indices] = self._run_batch(batch)
            if progress:
                progress(int(indices[-1]) + 1, total, "segmenting")
        return out

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float] | None = None,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        return_probability: bool = False,
        return_uncertainty: bool = False,
    ) -> Segmentation:
        """Liver mask (and, if asked, the probability on the CT grid) for an int16 HU volume [z, y, x].

        ``spacing_mm`` (z, y, x): the slice spacing places the 2.5D neighbours, the in-plane spacing makes
        the crop square in millimetres (non-square pixels are not stretched).

        The probability map is float32 on the full grid (4 bytes a voxel: 130 MB for 130 × 512²),
        so it is only made when ``return_probability`` is set; ``return_uncertainty`` adds the
        per-voxel uncertainty (entropy, uint8) on the grid for the viewer's overlay. The quality
        estimate is always made (milliseconds, on the network grid).
        """
        if hu.ndim != 3 or hu.shape[0] == 0 or min(hu.shape[1:]) < 2:
            raise CtsegError(None, f"cannot segment a volume of shape {hu.shape}: need [slices ≥ 1, rows, columns]")
        try:
            return self._predict(hu, spacing_mm, progress, should_cancel, return_probability, return_uncertainty)
        except MemoryError as exc:  # one home for "out of memory", as the loader says it
            from ctseg_core.io.memory_budget import out_of_memory

            raise out_of_memory(None, "segmenting", hu.shape) from exc

    def _predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float] | None,
        progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
        return_probability: bool,
        return_uncertainty: bool,
    ) -> Segmentation:
        threshold = self.card.threshold
        timings: dict[str, float] = {}
        started = time.perf_counter()
        stack, box = preprocess_volume(hu, self.card.input, (spacing_mm[1], spacing_mm[2]) if spacing_mm else None)
        timings["preprocess"] = time.perf_counter() - started
        started = time.perf_counter()
        small = self.predict_stack(stack, progress, should_cancel, spacing_mm[0] if spacing_mm else None)
        timings["network"] = time.perf_counter() - started
        raise_if_cancelled(should_cancel)
        started = time.perf_counter()
        keep = postprocess(small, threshold)
        gated = small.copy()
        gated[~keep & (small >= threshold)] = 0.0  # other islands
        gated[keep & (small < threshold)] = 1.0  # filled holes
        probability = restore_to_grid(small, box) if return_probability else None
        mask = np.zeros(hu.shape, dtype=bool)
        liver_slices = np.nonzero(keep.any(axis=(1, 2)))[0]
        if liver_slices.size:  # only slices near the kept liver can hold mask voxels
            z0, z1 = max(int(liver_slices[0]) - 1, 0), int(liver_slices[-1]) + 2
            restore_mask_to_grid(gated[z0:z1], box, threshold, mask, start=z0)
        timings["postprocess"] = time.perf_counter() - started
        started = time.perf_counter()
        entropy = voxel_uncertainty(small)  # once, for the per-slice ranking and the overlay
        quality = with_hu_check(estimate_quality(small, keep, self.card.quality, threshold, entropy), hu)
        uncertainty = None
        if return_uncertainty:
            on_grid = restore_to_grid(entropy, box)
            uncertainty = np.rint(np.clip(on_grid, 0.0, 1.0) * 255).astype(np.uint8)
        timings["quality"] = time.perf_counter() - started
        return Segmentation(mask, probability, timings, quality, uncertainty)
