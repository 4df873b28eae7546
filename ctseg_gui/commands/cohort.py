"""The cohort browser: the study database in a dock, its series opened, reviewed and exported.

The dock (View ▸ Cohort browser, F9; the app remembers whether it was shown) holds the
:class:`~ctseg_gui.panels.cohort.CohortPanel`. This controller opens the database (``--db``,
``$CTSEG_DB`` or the user data folder's; never creating or overwriting one: a damaged or newer
file is a message), polls it so results written by a batch, here or on the command line, appear
as they land, records the reviews, and exports the table. Opening and stepping through the series
is :class:`~ctseg_gui.commands.cohort_steps.CohortSteps`'s, Segment all
:class:`~ctseg_gui.commands.cohort_batch.CohortBatchRunner`'s.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QInputDialog, QMainWindow, QMenu

from ctseg_core.annotate.labels import SaveTarget
from ctseg_core.cohort import CohortDatabase
from ctseg_core.errors import CtsegError
from ctseg_gui.commands.cohort_batch import CohortBatchRunner
from ctseg_gui.commands.cohort_steps import CohortSteps
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.label_files import LabelFiles
from ctseg_gui.commands.patients import PatientOpener
from ctseg_gui.commands.segmentation import Segmentation
from ctseg_gui.commands.series_choice import SeriesChoice
from ctseg_gui.panels.cohort import CohortPanel

SHOWN_KEY, DB_KEY, SORT_KEY = "cohort/shown", "cohort/database", "cohort/sort"
#: How often the table asks SQLite whether anyone wrote (``PRAGMA data_version``: microseconds).
POLL_MS = 500


class CohortBrowser(QObject):
    """The Cohort dock and menu, the database behind them, reviews and CSV export."""

    def __init__(
        self, host: WindowHost, opener: PatientOpener, label_files: LabelFiles, segmentation: Segmentation
    ) -> None:
        super().__init__(host.window())
        self.host = host
        self.database: CohortDatabase | None = None
        self.error: str | None = None
        self.panel = CohortPanel()
        self.model = self.panel.model
        self.steps = CohortSteps(host, opener, self.panel)
        self.series_choice = SeriesChoice(host, opener)
        self.batch = CohortBatchRunner(host, self.panel, segmentation, lambda: self.database)
        self._data_version = -1
        self._build_dock()
        self._build_menu()
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.poll)
        self.panel.accept.clicked.connect(self.accept)
        self.panel.corrected.clicked.connect(self.mark_corrected)
        self.panel.reject.clicked.connect(self.reject)
        self.panel.next_to_review.clicked.connect(self.steps.next_to_review)
        self.panel.export.clicked.connect(self.export_csv)
        label_files.saved.connect(self._on_label_saved)
        self._label_files = label_files
        self._restore_sort()
        if bool(host.settings.value(SHOWN_KEY, False, type=bool)):
            self.show_browser()

    def _build_dock(self) -> None:
        window = self.host.window()
        assert isinstance(window, QMainWindow)
        self.dock = QDockWidget("Cohort", window)
        self.dock.setObjectName("cohortDock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        self.dock.visibilityChanged.connect(self._on_visibility)
        self.toggle_action = self.dock.toggleViewAction()
        self.toggle_action.setText("Cohort &browser")
        self.toggle_action.setShortcut(QKeySequence("F9"))

    def _restore_sort(self) -> None:
        """The table's order as the user left it: "column,0|1" (ascending, descending)."""
        column, _, order = str(self.host.settings.value(SORT_KEY, "0,0")).partition(",")
        if column.isdigit() and int(column) < self.model.columnCount():
            descending = order == "1"
            self.panel.table.sortByColumn(int(column), Qt.SortOrder(int(descending)))
        self.panel.table.horizontalHeader().sortIndicatorChanged.connect(
            lambda column, order: self.host.settings.setValue(SORT_KEY, f"{column},{int(order.value)}")
        )

    def _build_menu(self) -> None:
        window = self.host.window()
        assert isinstance(window, QMainWindow)
        bar = window.menuBar()
        menu = QMenu("&Cohort", window)
        bar.insertMenu(bar.actions()[-1], menu)  # before Help
        menu.addAction(self.toggle_action)
        self._add(menu, "Open cohort &database…", self.choose_database)
        menu.addSeparator()
        self._add(menu, "&Next patient", lambda: self.steps.step(1), "Alt+Right")
        self._add(menu, "&Previous patient", lambda: self.steps.step(-1), "Alt+Left")
        self._add(menu, "Next to &review (lowest estimated Dice)", self.steps.next_to_review, "Alt+Down")
        menu.addSeparator()
        self._add(menu, "&Accept", self.accept, "Ctrl+Alt+A")
        self._add(menu, "Mark &corrected", self.mark_corrected, "Ctrl+Alt+C")
        self._add(menu, "Re&ject…", self.reject, "Ctrl+Alt+X")
        menu.addSeparator()
        for what, action in self.panel.segment_actions.items():
            menu.addAction(action.text()).triggered.connect(lambda _c=False, what=what: self.batch.start(what))
        self._add(menu, "Cancel segment all", self.batch.cancel)
        self._add(menu, "&Export table as CSV…", self.export_csv)
        self.menu = menu

    def _add(self, menu: QMenu, text: str, slot: object, shortcut: str | None = None) -> QAction:
        action = QAction(text, self.host.window())
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())  # type: ignore[operator]  # a callable slot
        menu.addAction(action)
        return action

    # ------------------------------------------------------------------ the database

    def show_browser(self, database: str | Path | None = None) -> bool:
        """Show the dock on ``database`` (else the last one, else the default); False if it cannot be opened."""
        self.dock.show()
        if database is not None or self.database is None:
            return self.open_database(database or self.host.settings.value(DB_KEY) or None)
        return True

    def open_database(self, path: str | Path | None) -> bool:
        """Open the cohort database at ``path`` (None: ``$CTSEG_DB`` or the user data folder's)."""
        try:
            database = CohortDatabase(path, create=False)
        except CtsegError as error:
            self.error = str(error)
            self.panel.set_summary(self.error)
            self.host.show_status(f"Cohort: {error}")
            return False
        self.close_database()
        self.database, self.error = database, None
        self.model.set_database(database)
        self.host.settings.setValue(DB_KEY, str(database.path))
        self._data_version = database.data_version()
        self._update_summary()
        self.panel.set_batch_running(self.batch.running)
        self._poll.start()
        return True

    def close_database(self) -> None:
        self._poll.stop()
        self.model.set_database(None)
        if self.database is not None:
            self.database.close()
            self.database = None

    def choose_database(self) -> None:
        start = str(self.database.path) if self.database is not None else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self.host.window(), "Open cohort database", start, "SQLite (*.sqlite *.db);;All files (*)"
        )
        if path and self.show_browser(path) is False and self.error:
            self.host.report_error("Could not open the cohort database", CtsegError(None, self.error))

    def poll(self) -> None:
        """Show what another connection (a batch here or on the command line) committed."""
        if self.database is None:
            return
        try:
            version = self.database.data_version()
        except CtsegError as error:
            self.host.show_status(f"Cohort: {error}")
            return
        if version != self._data_version:
            self._data_version = version
            self.refresh()

    def refresh(self) -> None:
        self.model.refresh()
        self._update_summary()

    def _update_summary(self) -> None:
        if self.database is not None:
            self.panel.set_summary(f"{self.model.rowCount()} series — {self.database.path.name}")

    def _on_visibility(self, visible: bool) -> None:
        window = self.host.window()
        if not window.isVisible() or window.isMinimized():
            return  # the window closing or hiding hides the dock: not the user's choice
        self.host.settings.setValue(SHOWN_KEY, visible)
        if visible and self.database is None and self.error is None:
            self.open_database(self.host.settings.value(DB_KEY) or None)

    # ------------------------------------------------------------------ reviews

    def _set_review(self, status: str, note: str = "", label_path: str | Path | None = None) -> None:
        row = self.steps.review_target()
        if row is None or self.database is None:
            self.host.show_status("Cohort: open or select a series to review")
            return
        try:
            self.database.set_review(row.series_id, status, note, label_path, row.result_id)
        except CtsegError as error:
            self.host.report_error("Could not save the review", error)
            return
        self.host.show_status(f"{row.patient_id or Path(row.path).name}: {status}")
        self.poll()

    def accept(self) -> None:
        self._set_review("accepted")

    def reject(self) -> None:
        note, ok = QInputDialog.getText(self.host.window(), "Reject", "Why is the result rejected?")
        if ok:
            self._set_review("rejected", note.strip())

    def mark_corrected(self) -> None:
        """Corrected, with the label saved for this series; unsaved: save it first (which marks it)."""
        saved = self.steps.saved_label
        if saved is not None:
            self._set_review("corrected", label_path=saved)
        elif self.steps.open_series is not None and self.host.state.patient is not None:
            self._label_files.save()
        else:
            self._set_review("corrected")

    def _on_label_saved(self, target: SaveTarget) -> None:
        """A label saved for the cohort series shown marks it corrected, with the label's path."""
        if self.steps.open_series is not None:
            self.steps.saved_label = str(target.written_path)
            self._set_review("corrected", label_path=target.written_path)

    # ------------------------------------------------------------------ export

    def export_csv(self) -> None:
        if self.database is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.host.window(), "Export the cohort table", "cohort.csv", "CSV (*.csv)"
        )
        if path:
            self.write_csv(path)

    def write_csv(self, path: str | Path) -> int:
        """The table's rows, in its order and filter, as CSV; how many rows were written."""
        from ctseg_core.cohort.export import write_csv

        assert self.database is not None
        ids = self.model.series_ids()
        rows = self.database.rows_by_id(ids, self.model.query.model_sha256)
        ordered = [rows[i] for i in ids if i in rows]
        truths = self.database.ground_truths(ids)
        try:
            with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
                count = write_csv(ordered, truths, handle)
        except OSError as error:
            self.host.report_error("Could not export the table", error)
            return 0
        self.host.show_status(f"Exported {count} series to {path}")
        return count
