"""Where a batch's model workers get their segmenter: one loaded in this process, or a model process
each (``--workers N``), reopened when its process dies under a patient."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ctseg_core.batch.patient import PatientSegmenter
from ctseg_core.batch.rows import WorkerLostError
from ctseg_core.progress import CancelCheck, ProgressCallback

if TYPE_CHECKING:
    from ctseg_core.model.inference import Segmentation


@dataclass(frozen=True)
class SegmenterSource:
    """How one model worker of a batch opens its segmenter (a context manager: a process to close).

    ``lost``: the errors after which that segmenter is gone (its process died) and must be reopened;
    ``takes_cancel``: whether its ``predict`` takes ``should_cancel`` (stand-ins in tests may not).
    """

    open: Callable[[], AbstractContextManager[PatientSegmenter]]
    lost: tuple[type[BaseException], ...] = ()
    takes_cancel: bool = True


def shared_segmenter(segmenter: PatientSegmenter) -> SegmenterSource:
    """One segmenter already loaded in this process, shared by every worker (ONNX Runtime and
    TensorFlow run one model from several threads)."""
    takes_cancel = "should_cancel" in inspect.signature(segmenter.predict).parameters
    return SegmenterSource(lambda: nullcontext(segmenter), takes_cancel=takes_cancel)


def model_processes(
    model_path: Path | None, threads: int | None, workers: int = 1, loader: str | None = None
) -> SegmenterSource:
    """A model process per worker (:class:`~ctseg_core.engine.ModelProcess`): the network runs
    outside this process, and a process that dies costs one patient's row, not the batch.

    ``threads``: each process's intra-op threads (None: the cores shared among the ``workers``);
    ``loader``: the engine's ``"module:function"`` stand-in for ``Segmenter.load`` (tests).
    """
    from ctseg_core.engine import ModelProcessDied

    each = threads if threads is not None else max(1, (os.cpu_count() or 1) // workers)
    return SegmenterSource(lambda: _model_process(model_path, each, loader), lost=(ModelProcessDied,))


@contextmanager
def _model_process(model_path: Path | None, threads: int, loader: str | None) -> Iterator[PatientSegmenter]:
    from ctseg_core.engine import ModelProcess

    with ModelProcess(model_path, threads, loader=loader) as process:
        yield process.segmenter()


class ModelSlot:
    """One worker's segmenter, opened on first use and reopened after its process was lost; a
    lost process becomes that patient's :class:`WorkerLostError`."""

    def __init__(self, source: SegmenterSource, stop: CancelCheck | None = None) -> None:
        self.source = source
        self._stop = stop
        self._stack: ExitStack | None = None
        self._segmenter: PatientSegmenter | None = None

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float],
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> Segmentation:
        segmenter = self._open()
        cancel = self._cancel_check(should_cancel)
        try:
            if cancel is None:
                return segmenter.predict(hu, spacing_mm, progress=progress)
            return segmenter.predict(hu, spacing_mm, progress=progress, should_cancel=cancel)
        except self.source.lost as error:
            self.close()
            raise WorkerLostError(
                None, f"the model process died while segmenting this patient ({type(error).__name__}: {error})"
            ) from error

    def prepare(self) -> None:
        """Open the segmenter now (a model process loads while the first patient is read); a
        failure is left for the first patient's row to report."""
        try:
            self._open()
        except Exception:  # raised again, as that patient's error, by predict
            self.close()

    def _open(self) -> PatientSegmenter:
        if self._segmenter is None:
            stack = ExitStack()
            self._segmenter = stack.enter_context(self.source.open())
            self._stack = stack
        return self._segmenter

    def _cancel_check(self, should_cancel: CancelCheck | None) -> CancelCheck | None:
        """The caller's cancel, and the batch's own stop where the segmenter can take it."""
        if not self.source.takes_cancel:
            return None
        stop = self._stop
        if stop is None:
            return should_cancel
        return lambda: stop() or (should_cancel is not None and should_cancel())

    def close(self) -> None:
        """Close the segmenter (its process, if any); the next patient opens a new one."""
        stack, self._stack, self._segmenter = self._stack, None, None
        if stack is not None:
            stack.close()
