"""The client's side: :class:`ModelProcess` starts, feeds, watches and restarts the model process.

A request waits on the pipe and on the child's sentinel at once, a few milliseconds at a time,
without holding the GIL: that wait is all the GUI thread competes with while a model runs. Cancel
sets a shared Event the child's ``should_cancel`` reads between batches; the waiting call raises
``Cancelled`` within :data:`CANCEL_GRACE_S` even when the batch in the network takes longer (the
child's late answer is read and dropped before the next request).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.machinery
import multiprocessing
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ctseg_core.engine.messages import FINE_TUNE, LOAD, PREDICT, STOP, Progress, Reply, Request
from ctseg_core.engine.server import serve
from ctseg_core.engine.shared_array import SharedArray
from ctseg_core.errors import Cancelled, CtsegError
from ctseg_core.progress import CancelCheck, ProgressCallback

#: How often a waiting call looks at the pipe, the child's life and the caller's cancel flag.
POLL_S = 0.02
#: After the caller cancels, how long to wait for the child's own "cancelled" before raising anyway.
CANCEL_GRACE_S = 0.3
#: How long ``close`` waits for the child to stop by itself before terminating it.
STOP_TIMEOUT_S = 5.0

_SPAWN = multiprocessing.get_context("spawn")


class ModelProcessDied(CtsegError):
    """The model process stopped during a request (killed, out of memory, a crash in its runtime)."""

    def __init__(self, exitcode: int | None = None) -> None:
        how = f" (exit code {exitcode})" if exitcode else ""
        if exitcode is not None and exitcode < 0:
            how = f" (killed by signal {-exitcode})"
        super().__init__(None, f"the model process stopped{how}; it was restarted: run it again")
        self.exitcode = exitcode


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _child_skips_parent_main() -> Iterator[None]:
    """While a child spawns, ``__main__`` looks like a package's ``__main__``, which spawn never re-runs.

    Else the child runs the parent's script again (``ctseg``'s entry point, a benchmark) and fails
    outright where there is none (``python - < script``); the model process needs only the engine.
    """
    main = sys.modules["__main__"]
    with _MAIN_LOCK:
        saved = getattr(main, "__spec__", None)
        main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
        try:
            yield
        finally:
            main.__spec__ = saved


class _Child:
    """One spawned model process, its end of the pipe and its cancel flag."""

    def __init__(
        self, model_path: str | None, threads: int | None, preload: bool, loader: str | None, nice: int
    ) -> None:
        self.conn, child_conn = _SPAWN.Pipe()
        self.cancel = _SPAWN.Event()
        self.process: SpawnProcess = _SPAWN.Process(
            target=serve,
            args=(child_conn, self.cancel, model_path, threads, preload, loader, nice),
            name="ctseg-model",
            daemon=True,
        )
        with _child_skips_parent_main():
            self.process.start()
        child_conn.close()  # else the child's death never reaches this end as EOF
        self.stale = False  # a reply to a request the caller gave up on is still to come

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Ask the child to stop, then terminate and kill it if it does not; always reaped."""
        self.cancel.set()
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(Request(STOP))
        self.process.join(timeout_s)
        for ending in (self.process.terminate, self.process.kill):
            if self.process.exitcode is not None:
                break
            ending()
            self.process.join(2.0)
        self.conn.close()


class ModelProcess:
    """A model in a spawned child process: ``start()`` returns at once, the child loads the model meanwhile.

    ``model_path``: the model to preload (None: the bundled one); others load on first use.
    ``threads``: intra-op threads for the runtime (None: all cores). ``preload``: load the model at
    start (False for a process that only fine-tunes). ``loader``: ``"module:function"`` taking
    ``(path, threads)`` and returning a segmenter, instead of ``Segmenter.load`` (stand-in models).
    ``nice``: added to the child's niceness, so that an interactive process wins the CPU when it needs it.
    One request runs at a time; a child that dies is reaped and restarted, and the waiting call raises
    :class:`ModelProcessDied`. A context manager; the child also stops when this process exits.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int | None = None,
        *,
        preload: bool = True,
        loader: str | None = None,
        nice: int = 0,
    ) -> None:
        self.model_path = str(model_path) if model_path is not None else None
        self.threads, self.preload, self.loader, self.nice = threads, preload, loader, nice
        self._child: _Child | None = None
        self._request_lock = threading.Lock()  # one request at a time
        self._life_lock = threading.RLock()  # starting, restarting and closing the child
        self.restarts = 0
        atexit.register(_close_at_exit, weakref.ref(self))

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.process.pid if child is not None else None

    def is_alive(self) -> bool:
        child = self._child
        return child is not None and child.process.is_alive()

    def start(self) -> ModelProcess:
        """Spawn the child unless it runs (non-blocking: the model loads in the background)."""
        with self._life_lock:
            if self._child is not None and not self._child.process.is_alive():
                self._reap()
            if self._child is None:
                self._child = _Child(self.model_path, self.threads, self.preload, self.loader, self.nice)
        return self

    def close(self) -> None:
        """Stop the child and reap it (no zombie). Safe to call twice, and from another thread."""
        with self._life_lock:
            child, self._child = self._child, None
        if child is not None:
            child.stop()

    def __enter__(self) -> ModelProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _reap(self) -> int | None:
        """Join a dead child and forget it; its exit code."""
        child, self._child = self._child, None
        if child is None:
            return None
        child.stop(timeout_s=0.0)
        return child.process.exitcode

    # ---------------------------------------------------------------- requests

    def segmenter(self, model_path: str | Path | None = None) -> RemoteSegmenter:
        """A segmenter for ``model_path`` (None: this process's model), once the child has loaded it.

        Waits for the load; raises its error (a ModelError for a missing or damaged file).
        """
        path = str(model_path) if model_path is not None else self.model_path
        return RemoteSegmenter(self, path, self.request(Request(LOAD, {"model_path": path})))

    def fine_tune(
        self,
        *args: Any,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        **kwargs: Any,
    ) -> Any:
        """``ctseg_core.model.finetune.fine_tune(*args, **kwargs)`` run in the child (TensorFlow stays there)."""
        return self.request(Request(FINE_TUNE, {"args": args, "kwargs": kwargs}), progress, should_cancel)

    def request(
        self, request: Request, progress: ProgressCallback | None = None, should_cancel: CancelCheck | None = None
    ) -> Any:
        """Send one request and wait for its reply, relaying progress and cancel; its value, or its error."""
        with self._request_lock:
            child = self._ready_child()
            child.cancel.clear()
            try:
                child.conn.send(request)
            except OSError:  # the child died as the request left
                raise self._died(child) from None
            return self._await(child, progress, should_cancel)

    def _ready_child(self) -> _Child:
        """The running child, its stale reply read; a child that died while idle is replaced silently."""
        self.start()
        child = self._child
        assert child is not None
        if child.stale:
            try:
                while not isinstance(self._next_message(child), Reply):
                    pass
                child.stale = False
            except ModelProcessDied:
                self.start()
                child = self._child
                assert child is not None
        return child

    def _await(self, child: _Child, progress: ProgressCallback | None, should_cancel: CancelCheck | None) -> Any:
        cancelled_at: float | None = None
        while True:
            if cancelled_at is None and should_cancel is not None and should_cancel():
                child.cancel.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                child.stale = True
                raise Cancelled("cancelled by the user")
            message = self._next_message(child, POLL_S)
            if isinstance(message, Progress):
                if progress is not None and cancelled_at is None:
                    progress(message.done, message.total, message.stage)
            elif isinstance(message, Reply):
                if message.error is not None:
                    raise message.error.rebuild()
                return message.value

    def _next_message(self, child: _Child, timeout_s: float | None = None) -> Progress | Reply | None:
        """The child's next message, None after ``timeout_s`` (None: wait); ModelProcessDied if it died."""
        try:
            ready = wait([child.conn, child.process.sentinel], timeout_s)
        except (OSError, ValueError):  # closed meanwhile (``close`` from another thread)
            raise self._died(child) from None
        if child.conn in ready:
            try:
                message: Progress | Reply = child.conn.recv()
                return message
            except (EOFError, OSError):
                pass
        elif not ready:
            return None
        raise self._died(child)

    def _died(self, child: _Child) -> ModelProcessDied:
        """Reap the dead child, start a fresh one, and the error to raise."""
        with self._life_lock:
            if self._child is child:
                exitcode = self._reap()
                self.restarts += 1
                self.start()
            else:
                exitcode = child.process.exitcode
        return ModelProcessDied(exitcode)


class RemoteSegmenter:
    """``Segmenter`` as seen from the client: same ``predict`` signature and result, run in the child."""

    def __init__(self, process: ModelProcess, model_path: str | None, described: dict[str, Any]) -> None:
        self.process, self.model_path = process, model_path
        self.card = described.get("card")
        self.path = described.get("path")
        self.backend: str = described.get("backend") or ""
        self.backend_reason: str = described.get("backend_reason") or ""
        self.load_seconds: float = described.get("load_seconds") or 0.0
        self.import_seconds: float = described.get("import_seconds") or 0.0

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float] | None = None,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        return_probability: bool = False,
        return_uncertainty: bool = False,
    ) -> Any:
        """Like ``Segmenter.predict``: a ``Segmentation`` (mask, and probability / uncertainty when asked)."""
        from ctseg_core.model.inference import Segmentation

        wanted: dict[str, Any] = {"mask": bool, "probability": np.float32 if return_probability else None}
        wanted["uncertainty"] = np.uint8 if return_uncertainty else None
        shared: list[SharedArray] = []
        try:
            volume = SharedArray.copy_of(np.ascontiguousarray(hu))
            shared.append(volume)
            outputs = {name: SharedArray.empty(hu.shape, kind) for name, kind in wanted.items() if kind is not None}
            shared.extend(outputs.values())
            options = {
                "spacing_mm": spacing_mm,
                "return_probability": return_probability,
                "return_uncertainty": return_uncertainty,
            }
            arguments: dict[str, Any] = {
                "model_path": self.model_path,
                "hu": volume.ref,
                "outputs": {},
                "options": options,
            }
            arguments["outputs"] = {name: array.ref for name, array in outputs.items()}
            value = self.process.request(Request(PREDICT, arguments), progress, should_cancel)
            arrays = {name: outputs[name].array.copy() for name in value["written"]}
        finally:
            for array in shared:
                array.release()
        return Segmentation(
            arrays["mask"], arrays.get("probability"), value["timings"], value["quality"], arrays.get("uncertainty")
        )


def _close_at_exit(ref: weakref.ref[ModelProcess]) -> None:
    process = ref()
    if process is not None:
        process.close()
