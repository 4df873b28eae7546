"""A minimal event without Qt: callbacks connected to it run, in order, each time it is emitted.

The editing session (:mod:`ctseg_core.annotate.session`) announces its changes through these, as
napari's evented models do; the GUI forwards them as Qt signals, a script connects plain functions.
Callbacks run synchronously on the emitting thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Event(Generic[P]):
    """``Event[[list[int]]]`` passes a list of slices to each callback; ``Event[[]]`` passes nothing."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[P, object]] = []

    def connect(self, callback: Callable[P, object]) -> None:
        """Call ``callback`` with the arguments of every later :meth:`emit`."""
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[P, object]) -> None:
        """Stop calling ``callback`` (``ValueError`` if it was never connected)."""
        self._callbacks.remove(callback)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every connected callback; one connected or disconnected meanwhile counts from the next emit."""
        for callback in list(self._callbacks):
            callback(*args, **kwargs)
