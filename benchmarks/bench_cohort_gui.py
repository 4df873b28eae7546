"""Cohort browser benchmark: the table at 10,000 series, and Next patient with and without the read-ahead.

Run: ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_cohort_gui.py [--series 10000] [--patients 6]``.

- **sort**: a click on each column's header, both ways, on a table of ``--series`` made-up series
  (``ctseg_core.cohort.synthetic``: rows, results, reviews and thumbnails, no files): the time from
  the click to the table repainted with the new order (SQLite's order of the ids, the rows shown
  read in, the thumbnails shown decoded);
- **scroll**: the table from top to bottom a page at a time, each page painted (the rows of each
  page read from the database as the view reaches them);
- **next patient**: phantom patients (``--slices`` slices of 512², with their masks) indexed into a
  database and opened from the browser; a step (Alt+Right) to the next one timed from the key to
  the patient shown, with the read-ahead on (waiting until it has read the next one) and off
  (each step reads the patient from disk).

Medians (and the worst) of the repeats; the machine and its load are printed with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from ctseg_core.cohort import CohortDatabase
from ctseg_core.cohort.synthetic import fill_synthetic_cohort
from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.main_window import MainWindow
from ctseg_gui.panels.cohort import CohortPanel
from ctseg_gui.panels.cohort_model import COLUMNS

#: Jumps of the scroll bar spread over the whole table, and page steps after them.
SCROLL_JUMPS, SCROLL_PAGES = 200, 100


def wait_until(app: QApplication, done: object, timeout_s: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():  # type: ignore[operator]  # a callable
        app.processEvents()
        if time.perf_counter() > deadline:
            raise TimeoutError("the GUI did not get there in time")
        time.sleep(0.001)


def paint(app: QApplication, panel: CohortPanel) -> None:
    panel.table.viewport().repaint()
    app.processEvents()


def bench_table(app: QApplication, folder: Path, series: int) -> dict[str, list[float]]:
    path = fill_synthetic_cohort(folder / "synthetic.sqlite", series)
    panel = CohortPanel()
    panel.resize(1300, 420)
    panel.show()
    database = CohortDatabase(path, create=False)
    panel.model.set_database(database)
    paint(app, panel)
    times: dict[str, list[float]] = {"sort": [], "scroll jump": [], "scroll page": []}
    for column in range(len(COLUMNS)):
        for order in (Qt.SortOrder.DescendingOrder, Qt.SortOrder.AscendingOrder):
            started = time.perf_counter()
            panel.table.sortByColumn(column, order)
            paint(app, panel)
            times["sort"].append(time.perf_counter() - started)
    bar = panel.table.verticalScrollBar()
    bar.setValue(0)
    paint(app, panel)
    positions = sorted({round(k * bar.maximum() / SCROLL_JUMPS) for k in range(1, SCROLL_JUMPS + 1)})
    for position in positions:  # each jump lands on rows not read yet: a page read and painted
        started = time.perf_counter()
        bar.setValue(position)
        paint(app, panel)
        times["scroll jump"].append(time.perf_counter() - started)
    for _ in range(SCROLL_PAGES):  # then a page at a time, up from the bottom
        started = time.perf_counter()
        bar.setValue(bar.value() - bar.pageStep())
        paint(app, panel)
        times["scroll page"].append(time.perf_counter() - started)
    panel.model.set_database(None)
    database.close()
    panel.close()
    return times


def phantom_cohort(folder: Path, patients: int, slices: int) -> Path:
    for seed in range(patients):
        write_phantom(folder / "root" / f"patient_{seed}", seed=seed + 1, slices=slices)
    path = folder / "cohort.sqlite"
    with CohortDatabase(path) as cohort:
        cohort.index([folder / "root"])
    return path


def bench_steps(app: QApplication, database: Path, folder: Path, read_ahead: bool) -> list[float]:
    """Seconds of each step from the first patient to the last (the first open is not a step)."""
    window = MainWindow(
        settings=QSettings(str(folder / f"settings_{read_ahead}.ini"), QSettings.Format.IniFormat),
        segmenters=SegmenterCache(loader=lambda path: None),  # type: ignore[arg-type,return-value]  # never segments
        preload_model=False,
    )
    window.resize(1360, 900)
    window.show()
    steps = window.cohort.steps
    if not read_ahead:
        steps._read_ahead = lambda: None  # type: ignore[method-assign]  # the baseline: every step reads from disk
    window.cohort.show_browser(database)
    loaded: list[int] = []
    window.patientLoaded.connect(lambda: loaded.append(1))
    steps.open_series_id(window.cohort.model.series_ids()[0])
    wait_until(app, lambda: len(loaded) == 1)
    seconds = []
    for row in range(1, window.cohort.model.rowCount()):
        if read_ahead:
            wait_until(app, lambda row=row: window.cohort.model.series_id(row) in steps._ready)
        started = time.perf_counter()
        steps.step(1)
        wait_until(app, lambda row=row: len(loaded) == row + 1)
        app.processEvents()
        seconds.append(time.perf_counter() - started)
    window.close()
    return seconds


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.platform()


def report(name: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(f"{name:<32} median {statistics.median(ms):8.1f} ms   worst {max(ms):8.1f} ms   (n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--slices", type=int, default=64)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_name()}, Python {platform.python_version()}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        table = bench_table(app, folder, args.series)
        print(f"table of {args.series} series:")
        for name, values in table.items():
            report(f"  {name}", values)
        database = phantom_cohort(folder / "phantoms", args.patients, args.slices)
        print(f"next patient ({args.patients} phantoms of {args.slices}×512×512):")
        report("  without the read-ahead", bench_steps(app, database, folder, read_ahead=False))
        report("  with the read-ahead", bench_steps(app, database, folder, read_ahead=True))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
