"""The Cohort panel: the study database's series in a sortable, filterable table, with Segment all
and the review buttons. It only shows and asks: :mod:`ctseg_gui.commands.cohort` does the work.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ctseg_gui.panels.cohort_model import THUMBNAIL_PX, CohortTableModel
from ctseg_gui.widgets.plain_text import data_label

#: The filter waits this long after the last key before asking the database again.
FILTER_DELAY_MS = 250
#: Segment all's choices: (menu text, what the controller is asked to segment).
SEGMENT_CHOICES = (
    ("Segment &all series", "all"),
    ("Segment only the &unsegmented", "unsegmented"),
    ("Segment the &filtered rows", "filtered"),
)


class CohortPanel(QWidget):
    """The table, its filters, Segment all with progress and Cancel, and the review buttons."""

    seriesActivated = Signal(int)  # a series id: double-click or Enter
    segmentRequested = Signal(str)  # "all", "unsegmented" or "filtered"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = CohortTableModel(self)
        self._build_filters()
        self._build_table()
        self._build_buttons()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(self._batch_row)
        layout.addLayout(self._review_row)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filters)
        self.filter.textChanged.connect(self._filter_timer.start)
        self.flagged_only.toggled.connect(self.apply_filters)
        self.unreviewed_only.toggled.connect(self.apply_filters)
        self.set_batch_running(False)

    def _build_filters(self) -> None:
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: patient, date, series, path")
        self.filter.setClearButtonEnabled(True)
        self.flagged_only = QCheckBox("Flagged only")
        self.unreviewed_only = QCheckBox("Unreviewed only")
        self.summary = data_label()
        self._filters = QHBoxLayout()
        for widget in (self.filter, self.flagged_only, self.unreviewed_only):
            self._filters.addWidget(widget)
        self._filters.addWidget(self.summary, 1, Qt.AlignmentFlag.AlignRight)

    def _build_table(self) -> None:
        table = self.table = QTableView()
        table.setModel(self.model)
        table.setSortingEnabled(True)
        table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setIconSize(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        vertical = table.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row measuring at 10,000 rows
        vertical.setDefaultSectionSize(THUMBNAIL_PX + 4)
        vertical.hide()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate((240, 90, 220, 55, 120, 95, 60, 70, 60, 90)):
            table.setColumnWidth(column, width)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the series description takes the rest
        table.doubleClicked.connect(self._on_activated)
        table.activated.connect(self._on_activated)

    def _build_buttons(self) -> None:
        self.segment_all = QToolButton()
        self.segment_all.setText("Segment all")
        self.segment_all.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.segment_all)
        self.segment_actions: dict[str, QAction] = {}
        for text, what in SEGMENT_CHOICES:
            action = menu.addAction(text)
            action.triggered.connect(lambda _checked=False, what=what: self.segmentRequested.emit(what))
            self.segment_actions[what] = action
        self.segment_all.setMenu(menu)
        self.segment_all.clicked.connect(lambda: self.segmentRequested.emit("all"))
        self.cancel = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.batch_status = data_label()
        self._batch_row = QHBoxLayout()
        for widget in (self.segment_all, self.cancel, self.progress):
            self._batch_row.addWidget(widget)
        self._batch_row.addWidget(self.batch_status, 1)
        self.accept = QPushButton("Accept")
        self.corrected = QPushButton("Mark corrected")
        self.reject = QPushButton("Reject…")
        self.next_to_review = QPushButton("Next to review")
        self.export = QPushButton("Export CSV…")
        self._review_row = QHBoxLayout()
        for widget in (self.accept, self.corrected, self.reject, self.next_to_review):
            self._review_row.addWidget(widget)
        self._review_row.addStretch(1)
        self._review_row.addWidget(self.export)
        self.accept.setToolTip("The model's result is right (Ctrl+Alt+A)")
        self.corrected.setToolTip("The label was corrected: saving a label for this series marks it too")
        self.reject.setToolTip("The result is wrong or the scan unusable; a note says why")
        self.next_to_review.setToolTip("Open the unreviewed scan with the lowest estimated Dice (Alt+Down)")

    # ------------------------------------------------------------------ state shown

    def apply_filters(self) -> None:
        """Ask the database for the rows the filter text and the two checks leave."""
        self._filter_timer.stop()
        query = replace(
            self.model.query,
            text=self.filter.text(),
            flagged_only=self.flagged_only.isChecked(),
            unreviewed_only=self.unreviewed_only.isChecked(),
        )
        if query != self.model.query:
            selected = self.selected_series()
            self.model.set_query(query)
            if selected is not None:
                self.select_series(selected)

    def set_batch_running(self, running: bool, text: str = "") -> None:
        self.segment_all.setEnabled(not running and self.model.database is not None)
        self.cancel.setVisible(running)
        self.progress.setVisible(running)
        if not running:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self.batch_status.setText(text)

    def show_batch_progress(self, done: int, total: int, stage: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)
        self.batch_status.setText(stage)

    def selected_series(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.series_id(rows[0].row()) if rows else None

    def select_series(self, series_id: int) -> bool:
        """Select and show the row of ``series_id``; False when the filter hides it."""
        row = self.model.row_of(series_id)
        if row is None:
            return False
        index = self.model.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)
        return True

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)

    def _on_activated(self, index: QModelIndex) -> None:
        series_id = self.model.series_id(index.row())
        if series_id is not None:
            self.seriesActivated.emit(series_id)
