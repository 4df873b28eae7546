"""What the window does for the controllers inside it (annotator, label files, autosave, opening,
segmentation): a narrow protocol, so they depend on these few services and not on ``MainWindow``."""

from __future__ import annotations

from typing import Protocol

#: How long a status message stays (ms); 0 keeps it until the next one.
STATUS_MS = 6000


class WindowServices(Protocol):
    """Status line, error reports and the status bar's job progress; implemented by ``MainWindow``."""

    #: False in scripted runs (screenshots): skip questions such as the offer to restore an autosave.
    ask_questions: bool

    def show_status(self, message: str, timeout_ms: int = STATUS_MS) -> None:
        """A short message in the status bar, which goes away after ``timeout_ms``."""

    def report_error(self, title: str, error: BaseException) -> None:
        """Tell the user that ``title`` failed and why (the core's message, never a traceback)."""

    def show_job_progress(self, done: int, total: int, stage: str) -> None:
        """The status bar's stage and progress for a job that has started (``total`` 0: busy)."""
