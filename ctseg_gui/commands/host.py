"""What the window offers the command controllers inside it: one narrow protocol, so that they depend on
these few things and never on ``MainWindow`` itself.

Every controller (patients, segmentation, edit commands, label files, autosave, exports, menus, models)
takes a :class:`WindowHost`; ``MainWindow`` is the one that implements it.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from ctseg_gui.jobs.workers import JobRunner
from ctseg_gui.plane_view.layout import PlaneLayout
from ctseg_gui.state.editor import EditorState
from ctseg_gui.state.viewer import ViewerState

#: How long a status message stays (ms); 0 keeps it until the next one.
STATUS_MS = 6000


class WindowHost(Protocol):
    """The window's shared objects and services; implemented by ``MainWindow``."""

    #: What is shown, and the label being corrected.
    state: ViewerState
    editor: EditorState
    #: The one runner of the window's worker jobs (its kinds name them: "load", "segment", "save"…).
    runner: JobRunner
    #: The application's settings (the last save target, recent patients).
    settings: QSettings
    #: The view area: the plane views and the 3D pane.
    plane_layout: PlaneLayout
    #: False in scripted runs (screenshots): skip questions such as the offer to restore an autosave.
    ask_questions: bool

    def window(self) -> QWidget:
        """The main window itself (Qt's own ``QWidget.window``): the parent of dialogs and controllers."""

    def show_status(self, message: str, timeout_ms: int = STATUS_MS) -> None:
        """A short message in the status bar, which goes away after ``timeout_ms``."""

    def report_error(self, title: str, error: BaseException) -> None:
        """Tell the user that ``title`` failed and why (the core's message, never a traceback)."""

    def show_job_progress(self, done: int, total: int, stage: str) -> None:
        """The status bar's stage and progress for a job that has started (``total`` 0: busy)."""
