"""The cohort table's model: one row per series of the study database, paged in as the view asks.

A :class:`QAbstractTableModel` over :class:`~ctseg_core.cohort.CohortDatabase`: it holds the whole
order as series ids (one cheap query, tens of milliseconds at 10,000 series) and reads the rows of
the part shown, a page at a time, so sorting, filtering and scrolling stay smooth however many
series there are. SQLite sorts and filters; the model only shows. Text from files is plain text
(item views never parse it; tooltips go through :func:`~ctseg_gui.widgets.plain_text.plain_tooltip`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QImage, QPixmap

from ctseg_core.cohort import CohortDatabase, SeriesQuery, SeriesRow
from ctseg_core.metrics import format_metric
from ctseg_gui.widgets.plain_text import plain_tooltip

#: Rows read from the database at once when the view shows one not yet read.
PAGE_ROWS = 100
#: Thumbnails kept decoded (the rows on screen and a few screens around them).
THUMBNAILS_KEPT = 400
THUMBNAIL_PX = 32
FLAGGED = QColor(235, 110, 90)
REVIEW_COLOURS = {"accepted": QColor(120, 200, 120), "corrected": QColor(110, 170, 240), "rejected": FLAGGED}

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    heading: str
    sort_key: str
    text: Callable[[SeriesRow], str]
    numeric: bool = False


def _patient(row: SeriesRow) -> str:
    name = row.patient_name.replace("^", " ").strip()
    return f"{name} ({row.patient_id})" if name and row.patient_id else name or row.patient_id or row.path


def _spacing(row: SeriesRow) -> str:
    return "×".join(f"{v:.3g}" for v in row.spacing_mm) if row.spacing_mm else ""


def _check(row: SeriesRow) -> str:
    if row.result_error:
        return "error"
    return "" if row.check_scan is None else ("CHECK" if row.check_scan else "ok")


def _date(row: SeriesRow) -> str:
    date = row.study_date
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date


COLUMNS = (
    Column("Patient", "patient", _patient),
    Column("Study date", "study_date", _date),
    Column("Series", "description", lambda r: r.series_description or r.modality),
    Column("Slices", "slices", lambda r: str(r.slices), numeric=True),
    Column("Spacing mm", "spacing", _spacing, numeric=True),
    Column("Ground truth", "ground_truth", lambda r: "yes" if r.ground_truths else ""),
    Column("Dice", "dice", lambda r: format_metric(r.dice) if r.dice is not None else "", numeric=True),
    Column(
        "Est. Dice",
        "estimated_dice",
        lambda r: format_metric(r.estimated_dice) if r.estimated_dice is not None else "",
        numeric=True,
    ),
    Column("Check", "check", _check),
    Column("Review", "review", lambda r: r.review),
)


class CohortTableModel(QAbstractTableModel):
    """The series a :class:`SeriesQuery` matches, in its order; :meth:`sort` and :meth:`set_query` re-ask SQLite."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.database: CohortDatabase | None = None
        self.query = SeriesQuery()
        self._ids: list[int] = []
        self._rows: dict[int, SeriesRow] = {}
        self._thumbnails: OrderedDict[int, QPixmap | None] = OrderedDict()

    # ------------------------------------------------------------------ what is shown

    def set_database(self, database: CohortDatabase | None) -> None:
        self.beginResetModel()
        self.database = database
        self._ids = database.series_ids(self.query) if database is not None else []
        self._rows.clear()
        self._thumbnails.clear()
        self.endResetModel()

    def set_query(self, query: SeriesQuery) -> None:
        """Show what ``query`` matches, in its order: a new order keeps the selection on its series."""
        self.query = query
        self.refresh()

    def refresh(self) -> None:
        """Read the order and the rows again (a result or review landed, a new sort or filter)."""
        if self.database is None:
            return
        ids = self.database.series_ids(self.query)
        self._rows.clear()
        if len(ids) != len(self._ids) or set(ids) != set(self._ids):
            self.set_database(self.database)  # other rows: a reset
        elif ids != self._ids:
            self._reorder(ids)
        elif ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(ids) - 1, len(COLUMNS) - 1))

    def _reorder(self, ids: list[int]) -> None:
        """The same series in another order: the view's selection and current row move with their series."""
        self.layoutAboutToBeChanged.emit()
        old, self._ids = self._ids, ids
        where = {series_id: row for row, series_id in enumerate(ids)}
        for index in self.persistentIndexList():
            self.changePersistentIndex(index, self.index(where[old[index.row()]], index.column()))
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ rows and series

    def series_id(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, series_id: int) -> int | None:
        try:
            return self._ids.index(series_id)
        except ValueError:
            return None

    def series_ids(self) -> list[int]:
        """The ids shown, in the table's order."""
        return list(self._ids)

    def series_row(self, row: int) -> SeriesRow | None:
        """The series at ``row`` (its page read from the database the first time)."""
        series_id = self.series_id(row)
        if series_id is None or self.database is None:
            return None
        if series_id not in self._rows:
            start = (row // PAGE_ROWS) * PAGE_ROWS
            page = [i for i in self._ids[start : start + PAGE_ROWS] if i not in self._rows]
            self._rows.update(self.database.rows_by_id(page, self.query.model_sha256))
        return self._rows.get(series_id)

    # ------------------------------------------------------------------ Qt's model interface

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008  # Qt's signature
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008  # Qt's signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].heading
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.series_row(index.row())
        if row is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0:
            return self._thumbnail(row.series_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(_tooltip(row))
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            return _colour(row, column.sort_key)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        query = replace(self.query, sort=COLUMNS[column].sort_key, descending=order == Qt.SortOrder.DescendingOrder)
        if query != self.query:  # the view asks twice per header click
            self.set_query(query)

    def _thumbnail(self, series_id: int) -> QPixmap | None:
        if series_id in self._thumbnails:
            self._thumbnails.move_to_end(series_id)
            return self._thumbnails[series_id]
        data = self.database.thumbnail(series_id) if self.database is not None else None
        image = QImage.fromData(data) if data else QImage()
        pixmap = (
            None
            if image.isNull()
            else QPixmap.fromImage(image).scaled(
                THUMBNAIL_PX,
                THUMBNAIL_PX,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        self._thumbnails[series_id] = pixmap
        if len(self._thumbnails) > THUMBNAILS_KEPT:
            self._thumbnails.popitem(last=False)
        return pixmap


def _colour(row: SeriesRow, key: str) -> QColor | None:
    if key == "check" and (row.check_scan or row.result_error):
        return FLAGGED
    if key == "review":
        return REVIEW_COLOURS.get(row.review)
    return None


def _tooltip(row: SeriesRow) -> str:
    """Where the series is, and what its result and review say."""
    lines = [row.path, f"series {row.series_uid}" if row.series_uid else row.format]
    if row.result_error:
        lines.append(f"error: {row.result_error}")
    if row.check_reasons:
        lines.append(f"check: {row.check_reasons}")
    if row.model_name:
        lines.append(f"model: {row.model_name} ({row.recorded_at})")
    if row.review != "unreviewed":
        lines.append(f"{row.review} {row.reviewed_at or ''}" + (f": {row.review_note}" if row.review_note else ""))
    if row.label_path:
        lines.append(f"label: {row.label_path}")
    return "\n".join(lines)
