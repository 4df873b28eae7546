"""Segment all from the cohort browser: in the background with the window's (fake) segmenter, the
table filling in as results land, Cancel keeping what finished, only the unsegmented, the filtered rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ctseg_gui.jobs.cohort import outputs_folder
from ctseg_gui.main_window import MainWindow
from gui.cohort_helpers import PATIENTS, copy_database, index_phantoms, show_cohort
from gui.conftest import FakeSegmenter, OpenIn


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return index_phantoms(tmp_path_factory.mktemp("cohort_batch"))


@pytest.fixture
def browser(qtbot: QtBot, window: MainWindow, indexed: Path, tmp_path: Path) -> MainWindow:
    show_cohort(qtbot, window, copy_database(indexed, tmp_path / "db"))
    return window


def results(window: MainWindow) -> dict[int, float | None]:
    """Dice of each series with a result, from the database itself."""
    return {row.series_id: row.dice for row in window.cohort.database.list_series() if row.result_id is not None}


def dice_cells(window: MainWindow) -> list[str]:
    model = window.cohort.model
    return [model.data(model.index(row, 6)) for row in range(model.rowCount())]


def test_segment_all_fills_the_table_as_results_land(
    qtbot: QtBot, browser: MainWindow, fake_segmenter: FakeSegmenter, small_phantom: Path, open_in: OpenIn
) -> None:
    fake_segmenter.seconds_per_slice = 0.03
    batch, panel = browser.cohort.batch, browser.cohort.panel
    assert batch.start("all") and panel.cancel.isVisible()
    qtbot.waitUntil(lambda: any(dice_cells(browser)), timeout=20_000)  # a first result, polled in
    assert batch.running and not all(dice_cells(browser))
    open_in(browser, small_phantom)  # the viewer stays usable meanwhile
    assert browser.state.patient is not None and batch.running
    qtbot.waitUntil(lambda: not batch.running, timeout=60_000)
    qtbot.waitUntil(lambda: all(dice_cells(browser)), timeout=3_000)
    assert len(results(browser)) == PATIENTS and all(d is not None and d > 0.3 for d in results(browser).values())
    assert panel.batch_status.text().startswith(f"Segmented {PATIENTS} series")
    out = outputs_folder(browser.cohort.database.path)
    assert len(list(out.glob("*/liver_pred.nii.gz"))) == PATIENTS and (out / "ctseg_summary.csv").is_file()


def test_cancel_keeps_the_finished_results_and_unsegmented_does_the_rest(
    qtbot: QtBot, browser: MainWindow, fake_segmenter: FakeSegmenter
) -> None:
    fake_segmenter.seconds_per_slice = 0.05
    batch = browser.cohort.batch
    batch.start("all")
    qtbot.waitUntil(lambda: len(results(browser)) >= 1, timeout=20_000)
    batch.cancel()
    assert not batch.running and browser.cohort.panel.batch_status.text().startswith("Cancelled")
    qtbot.wait(1000)  # the worker stops at its next progress report
    kept = results(browser)
    assert 1 <= len(kept) < PATIENTS
    fake_segmenter.seconds_per_slice, fake_segmenter.calls = 0.0, 0
    batch.start("unsegmented")
    qtbot.waitUntil(lambda: not batch.running, timeout=60_000)
    assert fake_segmenter.calls == PATIENTS - len(kept)
    assert len(results(browser)) == PATIENTS


def test_segment_the_filtered_rows_only(qtbot: QtBot, browser: MainWindow, fake_segmenter: FakeSegmenter) -> None:
    panel = browser.cohort.panel
    panel.filter.setText("patient_3")
    panel.apply_filters()
    assert panel.model.rowCount() == 1
    [only] = panel.model.series_ids()
    panel.segment_actions["filtered"].trigger()
    qtbot.waitUntil(lambda: not browser.cohort.batch.running, timeout=30_000)
    assert list(results(browser)) == [only] and fake_segmenter.calls == 1
