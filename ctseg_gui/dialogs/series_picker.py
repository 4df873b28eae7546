"""The series picker: a folder (or a study) holding several CT series shows them all, and the
user picks the one to open, instead of the loader guessing (the largest) and the user never knowing."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ctseg_core.io.series import SeriesSummary
from ctseg_gui.widgets.plain_text import data_label


def series_text(summary: SeriesSummary) -> str:
    """One line per series: modality, description, slices, UID (list items show text as text)."""
    description = summary.description or "(no description)"
    return f"{summary.modality or '?'} · {description} · {summary.slices} slices · {summary.series_uid}"


class SeriesPicker(QDialog):
    """Lists the series, largest first; :meth:`chosen_uid` after ``exec()`` returns Accepted."""

    def __init__(self, series: list[SeriesSummary], where: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.series = series
        self.list = QListWidget()
        for summary in series:
            self.list.addItem(QListWidgetItem(series_text(summary)))
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(data_label(f"{where} holds {len(series)} CT series. Open which one?"))
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(640, 300)

    def chosen_uid(self) -> str | None:
        row = self.list.currentRow()
        return self.series[row].series_uid if 0 <= row < len(self.series) else None


def pick_series(series: list[SeriesSummary], where: str, parent: QWidget | None = None) -> str | None:
    """The UID of the series the user picks, or None when they cancel."""
    dialog = SeriesPicker(series, where, parent)
    return dialog.chosen_uid() if dialog.exec() == QDialog.DialogCode.Accepted else None
