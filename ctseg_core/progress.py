"""Progress and cancel hooks shared by every long job (loading, inference, saving, training).

The core knows nothing of threads: a job calls ``progress(done, total, stage)`` and polls
``should_cancel()``; the GUI wraps these in Qt signals, the CLI in a tqdm bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ctseg_core.errors import Cancelled


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int, stage: str) -> None: ...


CancelCheck = Callable[[], bool]


def no_progress(done: int, total: int, stage: str) -> None:
    """Default progress hook: report nothing."""


def never_cancel() -> bool:
    """Default cancel hook: never cancel."""
    return False


def raise_if_cancelled(should_cancel: CancelCheck | None) -> None:
    """Raise :class:`Cancelled` when the caller asked to stop."""
    if should_cancel is not None and should_cancel():
        raise Cancelled("cancelled by the user")
