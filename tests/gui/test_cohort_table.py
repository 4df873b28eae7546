"""The cohort table at scale: a model over 2,000 series sorts on every column and filters as SQLite
does, pages its rows in, shows thumbnails and file text as plain text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from pytestqt.qtbot import QtBot

from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.cohort.synthetic import fill_synthetic_cohort
from ctseg_gui.panels.cohort import CohortPanel
from ctseg_gui.panels.cohort_model import COLUMNS, PAGE_ROWS, CohortTableModel

SERIES = 2000


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fill_synthetic_cohort(tmp_path_factory.mktemp("synthetic") / "cohort.sqlite", SERIES, seed=3)


@pytest.fixture
def panel(qtbot: QtBot, synthetic: Path) -> CohortPanel:
    shown = CohortPanel()
    qtbot.addWidget(shown)
    database = CohortDatabase(synthetic, create=False)
    shown.model.set_database(database)
    shown.resize(1200, 500)
    shown.show()
    yield shown
    shown.model.set_database(None)
    database.close()


@pytest.mark.parametrize("column", range(len(COLUMNS)))
def test_every_column_sorts_both_ways_as_the_database_does(panel: CohortPanel, column: int) -> None:
    model, database = panel.model, panel.model.database
    for order in (Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder):
        panel.table.sortByColumn(column, order)
        expected = database.list_series(
            SeriesQuery(sort=COLUMNS[column].sort_key, descending=order == Qt.SortOrder.DescendingOrder)
        )
        assert model.rowCount() == SERIES
        assert model.series_ids() == [row.series_id for row in expected]
        for row in (0, SERIES // 2, SERIES - 1):
            assert model.data(model.index(row, column)) == COLUMNS[column].text(expected[row])


def test_rows_are_read_a_page_at_a_time(panel: CohortPanel) -> None:
    model = panel.model
    model.set_query(model.query)  # forget what the view has shown
    assert len(model._rows) == 0
    model.data(model.index(SERIES - 3, 1))
    assert len(model._rows) <= PAGE_ROWS


def test_the_text_filter_and_the_two_checks(panel: CohortPanel, qtbot: QtBot) -> None:
    model, database = panel.model, panel.model.database
    panel.filter.setText("patient_0004")  # a path: patients 00040-00049
    qtbot.waitUntil(lambda: model.rowCount() == 10, timeout=3000)
    panel.filter.clear()
    panel.flagged_only.setChecked(True)
    flagged = database.count_series(SeriesQuery(flagged_only=True))
    assert 0 < model.rowCount() == flagged < SERIES
    assert all(model.data(model.index(row, 8)) == "CHECK" for row in range(0, flagged, 50))
    panel.unreviewed_only.setChecked(True)
    both = database.count_series(SeriesQuery(flagged_only=True, unreviewed_only=True))
    assert model.rowCount() == both < flagged
    assert {model.data(model.index(row, 9)) for row in range(both)} == {"unreviewed"}
    assert model.query == replace(SeriesQuery(), flagged_only=True, unreviewed_only=True)


def test_the_selection_follows_its_series_when_the_order_changes(panel: CohortPanel) -> None:
    model = panel.model
    series_id = model.series_id(10)
    assert panel.select_series(series_id)
    panel.table.sortByColumn(7, Qt.SortOrder.DescendingOrder)  # estimated Dice
    assert panel.selected_series() == series_id
    assert panel.table.currentIndex().row() == model.row_of(series_id)


def test_thumbnails_and_plain_text_tooltips(panel: CohortPanel) -> None:
    model = panel.model
    icon = model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QPixmap) and not icon.isNull() and max(icon.width(), icon.height()) <= 32
    tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert "/synthetic/patient_" in tip and tip.startswith("<p style='white-space:pre'>")


def test_text_from_files_is_escaped_in_tooltips(tmp_path: Path, qtbot: QtBot) -> None:
    """A path holding markup shows as the characters it holds."""
    path = fill_synthetic_cohort(tmp_path / "c.sqlite", 3, root="/data/<b>bold</b>")
    model = CohortTableModel()
    with CohortDatabase(path, create=False) as database:
        model.set_database(database)
        tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
        model.set_database(None)
    assert "&lt;b&gt;bold&lt;/b&gt;" in tip and "<b>" not in tip
