"""The Query archive dialog: search an archive, pick studies or series, retrieve them into the cohort database.

Searches and retrieves run on the window's worker threads (``ctseg_core.pacs``); the retrieve shows
its progress here and stops on Cancel (what arrived is kept, and a later retrieve resumes). Text the
archive sent is shown as plain text (item text is never rich text).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.pacs.connect import open_archive
from ctseg_core.pacs.query import Query, SeriesMatch, StudyMatch, parse_date_range
from ctseg_core.pacs.retrieve import RetrieveReport, retrieve
from ctseg_core.pacs.servers import load_servers, parse_server
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_gui.jobs.workers import JobRunner

FIND_JOB, GET_JOB = "pacs:find", "pacs:get"
Found = list[tuple[StudyMatch, list[SeriesMatch]]]
#: the UIDs a result row stands for: (study, series or None for the whole study)
UID_ROLE = Qt.ItemDataRole.UserRole


def find(server_text: str, query: Query, progress: ProgressCallback, cancel: CancelCheck) -> Found:
    """A worker's search: the studies, each with its series."""
    archive = open_archive(parse_server(server_text))
    studies = archive.find_studies(query)
    found = []
    for done, study in enumerate(studies, start=1):
        found.append((study, archive.find_series(study.study_uid, query.modality)))
        progress(done, len(studies), "searching")
    return found


def get(
    server_text: str,
    wanted: list[tuple[str, str | None]],
    db: Path | None,
    progress: ProgressCallback,
    cancel: CancelCheck,
) -> list[RetrieveReport]:
    """A worker's retrieve of the chosen studies and series into the managed folder and the cohort database
    ``db`` (None: the default one)."""
    archive = open_archive(parse_server(server_text))
    reports: list[RetrieveReport] = []
    for study_uid, series_uid in wanted:
        reports += retrieve(archive, study_uid, series_uid, db=db, progress=progress, should_cancel=cancel)
    return reports


class QueryArchiveDialog(QDialog):
    """Search, choose, retrieve into the cohort database ``database()`` names (None: the default one);
    ``on_retrieved`` hears of each retrieve that finished."""

    def __init__(
        self,
        runner: JobRunner,
        on_retrieved: Callable[[list[RetrieveReport]], object],
        parent: QWidget | None = None,
        database: Callable[[], Path | None] = lambda: None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Query archive")
        self.runner, self.on_retrieved, self.database = runner, on_retrieved, database
        self.server = QComboBox()
        self.server.setEditable(True)
        self.server.addItems(sorted(_configured()))
        self.server.setToolTip("A configured server, a DICOMweb URL (http://host:8042/dicom-web) or AET@host:port")
        self.patient_id, self.patient_name, self.dates, self.modality = (
            QLineEdit(),
            QLineEdit(),
            QLineEdit(),
            QLineEdit(),
        )
        self.dates.setPlaceholderText("YYYYMMDD or FROM-TO")
        self.modality.setPlaceholderText("CT")
        form = QFormLayout()
        for text, field in (
            ("Server", self.server),
            ("Patient ID", self.patient_id),
            ("Patient name", self.patient_name),
            ("Study date", self.dates),
            ("Modality", self.modality),
        ):
            form.addRow(text, field)
        self.results = QTreeWidget()
        self.results.setHeaderLabels(["Patient / series", "Date", "Modality", "Description", "Images"])
        self.results.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar()
        self.progress.hide()
        self.search_button, self.get_button, self.cancel_button = (
            QPushButton("Search"),
            QPushButton("Retrieve"),
            QPushButton("Cancel"),
        )
        self.cancel_button.setEnabled(False)
        self.search_button.clicked.connect(self.search)
        self.get_button.clicked.connect(self.retrieve_selected)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for button in (self.search_button, self.get_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.resize(760, 520)

    def query(self) -> Query:
        dates = parse_date_range(self.dates.text()) if self.dates.text().strip() else ("", "")
        return Query(
            self.patient_id.text().strip(),
            self.patient_name.text().strip(),
            dates[0],
            dates[1],
            self.modality.text().strip().upper(),
        )

    def search(self) -> None:
        server = self.server.currentText().strip()
        try:
            query = self.query()
        except Exception as error:
            self.status.setText(str(error))
            return
        self._busy(True, "Searching…")
        self.runner.start(
            FIND_JOB,
            lambda progress, cancel: find(server, query, progress, cancel),
            on_success=self._show,
            on_failure=self._failed,
        )

    def _show(self, found: Found) -> None:
        self._busy(False, f"{len(found)} studies")
        self.results.clear()
        for study, series in found:
            name = f"{study.patient_name or '-'} ({study.patient_id or '-'})"
            item = QTreeWidgetItem([name, study.study_date, study.modalities, study.description, ""])
            item.setData(0, UID_ROLE, (study.study_uid, None))
            for match in series:
                count = "" if match.instance_count is None else str(match.instance_count)
                child = QTreeWidgetItem([f"series {match.number or '-'}", "", match.modality, match.description, count])
                child.setData(0, UID_ROLE, (study.study_uid, match.series_uid))
                item.addChild(child)
            self.results.addTopLevelItem(item)
            item.setExpanded(True)

    def selected(self) -> list[tuple[str, str | None]]:
        """The chosen studies and series (a series whose study is chosen too is not asked for twice)."""
        chosen = [tuple(item.data(0, UID_ROLE)) for item in self.results.selectedItems()]
        studies = {study for study, series in chosen if series is None}
        return [(s, r) for s, r in chosen if r is None or s not in studies]

    def retrieve_selected(self) -> None:
        wanted, server, db = self.selected(), self.server.currentText().strip(), self.database()
        if not wanted:
            self.status.setText("Choose studies or series first")
            return
        self._busy(True, "Retrieving…")
        self.progress.show()
        self.runner.start(
            GET_JOB,
            lambda progress, cancel: get(server, wanted, db, progress, cancel),
            on_success=self._retrieved,
            on_failure=self._failed,
            on_progress=self._progressed,
        )

    def _progressed(self, done: int, total: int, stage: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _retrieved(self, reports: list[RetrieveReport]) -> None:
        images = sum(report.instances for report in reports)
        self._busy(False, f"Retrieved {len(reports)} series ({images} images) into the cohort database")
        self.on_retrieved(reports)

    def _failed(self, error: BaseException) -> None:
        self._busy(False, str(error))

    def cancel(self) -> None:
        cancelled = [self.runner.cancel(kind) for kind in (FIND_JOB, GET_JOB)]  # both, whatever the first says
        if any(cancelled):
            self._busy(False, "Cancelled: what arrived is kept; retrieve again to resume")

    def _busy(self, busy: bool, text: str) -> None:
        self.status.setText(text)
        self.search_button.setEnabled(not busy)
        self.get_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if not busy:
            self.progress.hide()

    def done(self, result: int) -> None:
        self.cancel()
        super().done(result)


def _configured() -> list[str]:
    try:
        return list(load_servers())
    except Exception:
        return []
