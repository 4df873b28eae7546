"""One open cohort database and everything asked of it: the API the command line and the viewer use.

A :class:`CohortDatabase` is one SQLite connection: use it from the thread that opened it, and
open another in a worker thread or process (they share the file safely). Every method turns
SQLite's complaints about the file into a :class:`~ctseg_core.errors.CohortDatabaseError` naming it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ctseg_core.cohort import query as queries
from ctseg_core.cohort.connection import database_errors, db_path, open_connection
from ctseg_core.cohort.indexer import IndexReport, index_roots
from ctseg_core.cohort.query import ALL_SEGMENTABLE, CohortSummary, GroundTruth, SeriesFile, SeriesQuery, SeriesRow
from ctseg_core.cohort.results import ModelIdentity, record_result, set_review
from ctseg_core.progress import CancelCheck, ProgressCallback


class CohortDatabase:
    """The cohort database at ``path`` (``--db``, else ``$CTSEG_DB``, else the user data folder's)."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        self.path = db_path(path)
        self._db: sqlite3.Connection = open_connection(self.path, create=create)

    def __enter__(self) -> CohortDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ indexing

    def index(
        self,
        roots: Sequence[str | Path],
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> IndexReport:
        """Index folders (or NIfTI / zip files): see :mod:`ctseg_core.cohort.indexer`."""
        with database_errors(self.path):
            return index_roots(self._db, roots, progress, should_cancel)

    # ------------------------------------------------------------------ reading

    def list_series(
        self, query: SeriesQuery = ALL_SEGMENTABLE, offset: int = 0, limit: int | None = None
    ) -> list[SeriesRow]:
        """The series ``query`` matches, in its order; ``offset``/``limit`` for one page."""
        with database_errors(self.path):
            return queries.list_series(self._db, query, offset, limit)

    def series_ids(self, query: SeriesQuery = ALL_SEGMENTABLE) -> list[int]:
        """The ids of the series ``query`` matches, in its order (fast: a view's whole order at once)."""
        with database_errors(self.path):
            return queries.series_ids(self._db, query)

    def rows_by_id(self, ids: list[int], model_sha256: str | None = None) -> dict[int, SeriesRow]:
        """The rows of these series, by id (a view's page of them)."""
        with database_errors(self.path):
            return queries.rows_by_id(self._db, ids, model_sha256)

    def count_series(self, query: SeriesQuery = ALL_SEGMENTABLE) -> int:
        with database_errors(self.path):
            return queries.count_series(self._db, query)

    def series(self, series_id: int) -> SeriesRow | None:
        with database_errors(self.path):
            return queries.series_row(self._db, series_id)

    def next_to_review(self, query: SeriesQuery = ALL_SEGMENTABLE) -> SeriesRow | None:
        """The unreviewed series with the lowest estimated Dice (among those ``query`` matches)."""
        with database_errors(self.path):
            return queries.next_to_review(self._db, query)

    def ground_truths(self, series_ids: list[int] | None = None) -> dict[int, list[GroundTruth]]:
        with database_errors(self.path):
            return queries.ground_truths(self._db, series_ids)

    def series_files(self, series_id: int) -> list[SeriesFile]:
        with database_errors(self.path):
            return queries.series_files(self._db, series_id)

    def thumbnail(self, series_id: int) -> bytes | None:
        """The series' thumbnail as PNG bytes (``QImage.fromData`` reads them), or None."""
        with database_errors(self.path):
            return queries.thumbnail(self._db, series_id)

    def summary(self) -> CohortSummary:
        with database_errors(self.path):
            return queries.cohort_summary(self._db)

    def data_version(self) -> int:
        """Changes whenever another connection (a batch, another window) commits: poll it to refresh a view."""
        with database_errors(self.path):
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    # ------------------------------------------------------------------ writing

    def record_result(self, series_id: int, row: Mapping[str, Any], model: ModelIdentity) -> int:
        """Store a batch row as the series' result for ``model`` (replacing that model's last one)."""
        with database_errors(self.path):
            return record_result(self._db, series_id, row, model)

    def set_review(
        self,
        series_id: int,
        status: str,
        note: str = "",
        label_path: str | Path | None = None,
        result_id: int | None = None,
    ) -> None:
        """unreviewed / accepted / corrected (with the saved label) / rejected (with a note)."""
        with database_errors(self.path):
            set_review(self._db, series_id, status, note, label_path, result_id)
