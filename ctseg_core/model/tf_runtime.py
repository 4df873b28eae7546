"""Lazy TensorFlow import with the thread settings measured fastest here.

Importing TensorFlow costs ≈ 3 s and 600 MB, so nothing in ctseg imports it until a model is
loaded or trained. Threads must be set before the first op: intra 2 / inter 1 was fastest on
2 cores (and oneDNN stays on: disabling it was 3–4× slower).
"""

from __future__ import annotations

import operator
import os
import time
from typing import Any

from ctseg_core.errors import InvalidArgumentError

_import_seconds: float | None = None


def check_threads(threads: Any, what: str = "threads") -> int | None:
    """``threads`` when it is None (all cores) or a whole number ≥ 1; InvalidArgumentError otherwise.

    TensorFlow aborts the whole process (SIGABRT, no Python error) on a thread count below 1,
    so it is checked here, before TensorFlow ever sees it.
    """
    if threads is None:
        return None
    try:
        count = operator.index(threads) if not isinstance(threads, bool) else 0
    except TypeError:
        count = 0
    if count < 1:
        raise InvalidArgumentError(None, f"{what} must be a whole number ≥ 1 (or unset for all cores), got {threads!r}")
    return count


def intra_op_threads(threads: int | None) -> int:
    """The intra-op thread count for ``threads`` (None: all cores, at most 8); shared by both runtimes."""
    return check_threads(threads) or min(os.cpu_count() or 2, 8)


def import_tensorflow(intra_threads: int | None = None, inter_threads: int = 1) -> Any:
    """Import TensorFlow once, configure its thread pools, and return the module."""
    global _import_seconds
    check_threads(intra_threads, "intra-op threads")
    check_threads(inter_threads, "inter-op threads")
    if _import_seconds is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        started = time.perf_counter()
        import tensorflow as tf

        intra = intra_op_threads(intra_threads)
        try:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
            tf.config.threading.set_inter_op_parallelism_threads(inter_threads)
        except RuntimeError:
            pass  # already initialised by the host program: keep its settings
        _import_seconds = time.perf_counter() - started
    import tensorflow as tf

    return tf


def import_seconds() -> float:
    """Seconds the first TensorFlow import took in this process (0 before it happened)."""
    return _import_seconds or 0.0
