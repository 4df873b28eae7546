"""File ▸ Archive: query an archive and retrieve into the cohort database, send the label back, servers.

The retrieve and the send run on the window's workers (``ctseg_core.pacs``). What a retrieve brings
is indexed into the cohort database by the core; if the window has a cohort browser it is asked to
refresh (a window without one is fine). Send to archive sends the label being edited as a DICOM SEG
that references the open series, to a configured server or one typed in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMenu

from ctseg_core.io.patient import Patient
from ctseg_core.pacs.archive import SendReport
from ctseg_core.pacs.connect import open_archive
from ctseg_core.pacs.retrieve import RetrieveReport
from ctseg_core.pacs.send import send_label
from ctseg_core.pacs.servers import load_servers, parse_server
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.dialogs.pacs_query import QueryArchiveDialog
from ctseg_gui.dialogs.pacs_servers import ServersDialog

SEND_JOB = "pacs:send"


def send_job(
    server_text: str, mask: np.ndarray, patient: Patient, name: str
) -> Callable[[ProgressCallback, CancelCheck], SendReport]:
    def work(progress: ProgressCallback, cancel: CancelCheck) -> SendReport:
        return send_label(open_archive(parse_server(server_text)), mask, patient, name, progress, cancel)

    return work


class ArchiveCommands:
    """The Archive menu's items and what they do."""

    def __init__(self, host: WindowHost, menu: QMenu) -> None:
        self.host = host
        self.query_action = self._add(menu, "&Query archive…", self.query)
        self.send_action = self._add(menu, "&Send label to archive…", self.send)
        menu.addSeparator()
        self._add(menu, "Archive &servers…", self.servers)
        self.dialog: QueryArchiveDialog | None = None

    def _add(self, menu: QMenu, text: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self.host.window())
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def query(self) -> None:
        if self.dialog is None:
            self.dialog = QueryArchiveDialog(self.host.runner, self.retrieved, self.host.window(), self.cohort_database)
        self.dialog.show()
        self.dialog.raise_()

    def _browser(self) -> object | None:
        """The window's cohort browser, if it has one (``MainWindow.cohort``)."""
        return getattr(self.host.window(), "cohort", None)

    def cohort_database(self) -> Path | None:
        """Where a retrieve is indexed: the database the cohort browser has open, else the default one."""
        database = getattr(self._browser(), "database", None)
        return Path(database.path) if database is not None else None

    def retrieved(self, reports: list[RetrieveReport]) -> None:
        """Show what came in the cohort browser (opened on the database it went into)."""
        self.host.show_status(f"Retrieved {len(reports)} series into the cohort database")
        browser = self._browser()
        if hasattr(browser, "show_browser") and hasattr(browser, "refresh"):
            browser.show_browser(self.cohort_database())
            browser.refresh()

    def ask_server(self) -> str | None:
        """Which server to send to: a configured one, or one typed in. Tests replace it."""
        try:
            names = sorted(load_servers())
        except Exception:
            names = []
        text, ok = QInputDialog.getItem(
            self.host.window(),
            "Send label to archive",
            "Server (a name, a DICOMweb URL or AET@host:port):",
            names,
            0,
            True,
        )
        return text.strip() if ok and text.strip() else None

    def send(self) -> None:
        patient, label = self.host.state.patient, self.host.editor.label
        if patient is None or label is None:
            self.host.show_status("Open a series and draw or load a label first")
            return
        server = self.ask_server()
        if server is None:
            return
        mask, name = np.asarray(label).astype(bool), self.host.editor.name
        self.host.show_job_progress(0, 0, "sending the label")
        self.host.runner.start(
            SEND_JOB,
            send_job(server, mask, patient, name),
            on_success=self._sent,
            on_failure=lambda error: self.host.report_error("Could not send the label", error),
            on_progress=self.host.show_job_progress,
        )

    def _sent(self, report: SendReport) -> None:
        if report.failed:
            self.host.show_status(f"The archive refused the label: {report.failed[0][1]}")
            return
        self.host.show_status(f"Sent the label as DICOM SEG to {report.server}")

    def servers(self) -> None:
        ServersDialog(self.host.window()).exec()
