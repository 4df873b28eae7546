"""The model process's side: load the model, then serve requests one at a time until told to stop.

Runs in a spawned child (:class:`~ctseg_core.engine.client.ModelProcess`). Whatever the work
imports (ONNX Runtime, TensorFlow for a model without a current exported graph or for
fine-tuning) is imported here, never in the client. Cancel is a shared Event the client sets.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from ctseg_core.engine.messages import FINE_TUNE, LOAD, PREDICT, STOP, Progress, RemoteError, Reply, Request
from ctseg_core.engine.shared_array import SharedArray, SharedArrayRef

log = logging.getLogger(__name__)


class EventLike(Protocol):
    def is_set(self) -> bool: ...


Loader = Callable[[Path | None, int | None], Any]


def load_with_segmenter(model_path: Path | None, threads: int | None) -> Any:
    """The default loader: ``Segmenter.load``, which honours CTSEG_INFERENCE_BACKEND as everywhere."""
    from ctseg_core.model.inference import Segmenter

    return Segmenter.load(model_path, threads)


def named_loader(spec: str | None) -> Loader:
    """``"module:function"`` (tests and benchmarks use a stand-in model), else ``Segmenter.load``."""
    if not spec:
        return load_with_segmenter
    module, _, name = spec.partition(":")
    loader: Loader = getattr(importlib.import_module(module), name)
    return loader


class ModelServer:
    """The child's state: its loaded models by path, the pipe, and the cancel flag."""

    def __init__(self, conn: Connection, cancel: EventLike, threads: int | None, loader: Loader) -> None:
        self.conn, self.cancel, self.threads, self.loader = conn, cancel, threads, loader
        self.models: dict[str | None, Any] = {}

    def segmenter(self, model_path: str | None) -> Any:
        key = str(model_path) if model_path else None
        if key not in self.models:
            self.models[key] = self.loader(Path(key) if key else None, self.threads)
        return self.models[key]

    def progress(self, done: int, total: int, stage: str) -> None:
        self.conn.send(Progress(done, total, stage))

    def serve(self) -> None:
        """Answer requests until STOP or the client's end of the pipe closes."""
        while True:
            try:
                request: Request = self.conn.recv()
            except (EOFError, OSError):
                return
            if request.kind == STOP:
                return
            try:
                reply = Reply(value=self.handle(request))
            except BaseException as error:  # every failure goes back to the waiting client
                log.debug("request %s failed", request.kind, exc_info=error)
                reply = Reply(error=RemoteError.of(error))
            try:
                self.conn.send(reply)
            except OSError:  # the client is gone (it exited, or was killed): so is the work
                return

    def handle(self, request: Request) -> Any:
        handlers: dict[str, Callable[..., Any]] = {LOAD: self.load, PREDICT: self.predict, FINE_TUNE: self.fine_tune}
        if request.kind not in handlers:
            raise ValueError(f"unknown request {request.kind!r}")
        return handlers[request.kind](**request.arguments)

    def load(self, model_path: str | None) -> dict[str, Any]:
        """Load (once) and describe the model: what the client's RemoteSegmenter shows."""
        segmenter = self.segmenter(model_path)
        described = ("card", "path", "backend", "backend_reason", "load_seconds", "import_seconds")
        return {name: getattr(segmenter, name, None) for name in described}

    def predict(
        self,
        model_path: str | None,
        hu: SharedArrayRef,
        outputs: dict[str, SharedArrayRef],
        options: dict[str, Any],
    ) -> dict[str, Any]:
        """Run ``predict`` on the shared volume and write its arrays into the client's segments."""
        segmenter = self.segmenter(model_path)
        volume = SharedArray.attach(hu)
        try:
            result = segmenter.predict(
                volume.array, progress=self.progress, should_cancel=self.cancel.is_set, **options
            )
        finally:
            volume.release()
        for name, ref in outputs.items():
            value = getattr(result, name, None)
            if value is not None:
                with SharedArray.attach(ref) as target:
                    target.array[...] = value
        written = [name for name in outputs if getattr(result, name, None) is not None]
        return {"timings": dict(result.timings), "quality": result.quality, "written": written}

    def fine_tune(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from ctseg_core.model.finetune import fine_tune

        hooks = {"progress": self.progress, "should_cancel": self.cancel.is_set}
        return fine_tune(*args, **{**kwargs, **hooks})


def serve(
    conn: Connection,
    cancel: EventLike,
    model_path: str | None,
    threads: int | None,
    preload: bool,
    loader: str | None,
    nice: int = 0,
) -> None:
    """The child's entry point: preload the model (its error is kept for the first request), then serve."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the client's to handle; it stops the child
    if nice:
        os.nice(nice)
    server = ModelServer(conn, cancel, threads, named_loader(loader))
    if preload:
        try:
            server.segmenter(model_path)
        except Exception as error:  # the first request that needs this model loads it again and says why
            log.debug("preloading %s failed: %s", model_path, error)
    server.serve()
