"""What the user reads when a job fails: the core's message or the operating system's, never a traceback."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ctseg_core.errors import CtsegError

log = logging.getLogger(__name__)


def error_message(error: BaseException) -> str:
    """The core's own message, the OS's for a file error (read-only folder, full disk), or the
    exception's type and text for anything unexpected (which is also logged with its traceback)."""
    if isinstance(error, CtsegError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    log.error("unexpected error in a background job", exc_info=error)
    return f"{type(error).__name__}: {error}"


def short_error(error: BaseException) -> str:
    """One line for the status bar: the file and the OS's reason, or the error's text."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """The modal error dialog, its text shown literally: a message quotes file names and DICOM
    strings, which Qt's static ``QMessageBox.critical`` would render as HTML (``Qt.AutoText``)."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()
