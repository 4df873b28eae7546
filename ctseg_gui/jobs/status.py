"""The status bar's job display: what is running (opening, reading a mask or a label, saving, a volume
tool), its progress, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget


class JobStatus(QWidget):
    """Stage, progress bar ("done/total"; busy when the total is unknown) and a Cancel button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = QLabel()  # plain text, as widgets.plain_text.data_label (jobs may not import widgets)
        self.stage.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setFormat("%v/%m")
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.stage, self.progress, self.cancel):
            layout.addWidget(widget)
        self.hide()

    def show_progress(self, done: int, total: int, stage: str) -> None:
        """``done`` of ``total`` at ``stage``; ``total`` 0 shows a busy bar."""
        self.stage.setText(stage)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
