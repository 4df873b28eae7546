"""File ▸ Open on a folder with several CT series: list them (headers only, on a worker) and let
the user pick one (:mod:`ctseg_gui.dialogs.series_picker`), then open that one. A folder with one
series, a NIfTI file, or a folder whose headers cannot be listed opens as before (the loader then
says what is wrong)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from ctseg_core.io.series import SeriesSummary
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.patients import PatientOpener
from ctseg_gui.dialogs import series_picker
from ctseg_gui.jobs.cohort import list_patient_series

LIST_JOB = "list-series"


class SeriesChoice(QObject):
    """Asks which series to open when a folder holds several."""

    def __init__(self, host: WindowHost, opener: PatientOpener) -> None:
        super().__init__(host.window())
        self.host, self.opener = host, opener

    def open_folder(self, path: str | Path) -> None:
        """List the folder's CT series on a worker, ask when there are several, then open."""
        path = str(path)
        self.host.show_status(f"Reading the series of {Path(path).name}…", timeout_ms=0)
        self.host.runner.start(
            LIST_JOB,
            lambda progress, cancel: list_patient_series(path, progress, cancel),
            on_success=lambda series: self._on_listed(path, series),
            on_failure=lambda error: self.opener.open_path(path),
        )

    def _on_listed(self, path: str, series: list[SeriesSummary]) -> None:
        if len(series) < 2 or not self.host.ask_questions:
            self.opener.open_path(path)
            return
        uid = series_picker.pick_series(series, Path(path).name, self.host.window())
        if uid is None:
            self.host.show_status("Open cancelled")
            return
        self.opener.open_path(path, uid)
