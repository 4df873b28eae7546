"""Opening the cohort's series and stepping through them in the table's order.

Once a series from the table is shown, the next one in the table's order is read on a worker
(``cohort-preload``), and the one left is kept: so Next and Previous show a patient at once
instead of reading it from disk (under 0.3 s against seconds; benchmarks/bench_cohort_gui.py).
The patient shown is always the opener's: a prepared one goes through the same job and the
same unsaved-edits question as any other.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from ctseg_core.cohort import SeriesQuery, SeriesRow
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.patients import PatientOpener
from ctseg_gui.jobs.patients import OpenedPatient, open_patient
from ctseg_gui.panels.cohort import CohortPanel

PRELOAD_JOB = "cohort-preload"


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


class CohortSteps(QObject):
    """Double-click, Next, Previous and Next to review: which series to open, and the next one read ahead."""

    def __init__(self, host: WindowHost, opener: PatientOpener, panel: CohortPanel) -> None:
        super().__init__(host.window())
        self.host, self.opener, self.panel, self.model = host, opener, panel, panel.model
        #: The cohort series shown in the viewer (None: the patient shown came from elsewhere).
        self.open_series: SeriesRow | None = None
        #: The label saved for the series shown, this session (Mark corrected records it).
        self.saved_label: str | None = None
        self._asked: SeriesRow | None = None
        self._ready: dict[int, OpenedPatient] = {}
        self._reading: int | None = None  # the series the preload job reads
        self._open_when_read: int | None = None
        opener.opened.connect(self._on_opened)
        panel.seriesActivated.connect(self.open_series_id)

    # ------------------------------------------------------------------ opening

    def open_series_id(self, series_id: int) -> None:
        """Show the series (at once when it was read ahead)."""
        database = self.model.database
        row = database.series(series_id) if database is not None else None
        if row is None:
            return
        self._asked = row
        self.panel.select_series(series_id)
        ready = self._ready.get(series_id)
        if ready is not None:
            self.opener.open_loaded(ready, _absolute(row.path))
        elif self._reading == series_id:
            self._open_when_read = series_id  # read ahead already: wait for it rather than read it twice
            self.host.show_status(f"Opening {Path(row.path).name}…", timeout_ms=0)
        else:
            self.host.runner.cancel(PRELOAD_JOB)
            self._reading = None
            self.opener.open_path(row.path, row.load_series_uid)

    def step(self, delta: int) -> None:
        """Open the series ``delta`` rows away in the table's order (Alt+Right, Alt+Left)."""
        ids = self.model.series_ids()
        if not ids:
            return
        current = self._current_row()
        target = (0 if delta > 0 else len(ids) - 1) if current is None else current + delta
        if not 0 <= target < len(ids):
            self.host.show_status("Cohort: the last series in the table" if delta > 0 else "Cohort: the first series")
            return
        self.open_series_id(ids[target])

    def next_to_review(self) -> None:
        """Open the unreviewed series with the lowest estimated Dice among the rows the filter leaves."""
        database = self.model.database
        found = database.next_to_review(self.model.query) if database is not None else None
        if found is None:
            self.host.show_status("Cohort: every series shown is reviewed")
            return
        self.open_series_id(found.series_id)

    def review_target(self) -> SeriesRow | None:
        """The series a review button acts on: the one shown when it came from the table, else the row selected."""
        database = self.model.database
        if database is None:
            return None
        series_id = self.open_series.series_id if self.open_series is not None else self.panel.selected_series()
        return database.series(series_id) if series_id is not None else None

    def _current_row(self) -> int | None:
        if self.open_series is not None:
            row = self.model.row_of(self.open_series.series_id)
            if row is not None:
                return row
        selected = self.panel.selected_series()
        return self.model.row_of(selected) if selected is not None else None

    def _on_opened(self, opened: OpenedPatient, path: str | None) -> None:
        asked, self._asked = self._asked, None
        matches = (
            asked is not None
            and path == _absolute(asked.path)
            and (not asked.series_uid or asked.series_uid == opened.patient.series_uid)
        )
        shown = asked if matches else self._row_of_patient(path, opened.patient.series_uid)
        if self.open_series is None or shown is None or shown.series_id != self.open_series.series_id:
            self.saved_label = None
        self.open_series = shown
        if shown is not None:
            self.panel.select_series(shown.series_id)
            self._keep({shown.series_id: opened})
            QTimer.singleShot(0, self._read_ahead)

    def _row_of_patient(self, path: str | None, series_uid: str) -> SeriesRow | None:
        """The cohort's row of a patient opened another way (File ▸ Open, ``ctseg view --cohort PATH``)."""
        database = self.model.database
        if database is None or not path:
            return None
        for row in database.list_series(SeriesQuery(text=Path(path).name)):
            if _absolute(row.path) == path and (not row.series_uid or row.series_uid == series_uid):
                return row
        return None

    # ------------------------------------------------------------------ reading ahead

    def _keep(self, also: dict[int, OpenedPatient]) -> None:
        """Keep the patients of the series shown and its two neighbours only."""
        self._ready.update(also)
        row = self._current_row()
        neighbours = {self.model.series_id(row + d) for d in (-1, 0, 1)} if row is not None else set()
        if self.open_series is not None:
            neighbours.add(self.open_series.series_id)
        self._ready = {k: v for k, v in self._ready.items() if k in neighbours}

    def _read_ahead(self) -> None:
        """Read the next series in the table's order on a worker, unless it is ready or being read."""
        row = self._current_row()
        target = self.model.series_id(row + 1) if row is not None else None
        database = self.model.database
        if target is None or target in self._ready or target == self._reading or database is None:
            return
        found = database.series(target)
        if found is None:
            return
        path, uid = found.path, found.load_series_uid
        self._reading = target
        self.host.runner.start(
            PRELOAD_JOB,
            lambda progress, cancel: open_patient(path, progress, cancel, uid),
            on_success=lambda opened: self._on_read(target, opened),
            on_failure=lambda error: self._on_read(target, None),
        )

    def _on_read(self, series_id: int, opened: OpenedPatient | None) -> None:
        """A series read ahead: kept (a failure is left for the real open to report)."""
        self._reading = None
        if opened is not None:
            self._keep({series_id: opened})
        if self._open_when_read == series_id:
            self._open_when_read = None
            self.open_series_id(series_id)
