"""A re-index only stats an unchanged tree, follows every change, keeps results and reviews, and a
killed index leaves a consistent database that the next run completes."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from cohort_factory import export, ircad, nifti, series
from core.io.dicom_factory import rewrite

from ctseg_core.cohort import CohortDatabase, ModelIdentity, SeriesQuery

REPO = Path(__file__).resolve().parents[3]
EVERYTHING = SeriesQuery(segmentable_only=False)
MODEL = ModelIdentity("test-model", "0" * 64)


def snapshot(cohort: CohortDatabase) -> list[tuple[object, ...]]:
    """What the cohort lists, without ids and times."""
    return sorted(
        (r.path, r.series_uid, r.slices, r.series_description, r.ground_truths, r.segmentable)
        for r in cohort.list_series(EVERYTHING)
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    export(root / "export")
    ircad(root / "ircad" / "p1", zipped=True)
    nifti(root / "lits" / "volume-0.nii")
    nifti(root / "lits" / "segmentation-0.nii", label=True)
    return root


def test_an_unchanged_tree_is_only_stated(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = CohortDatabase(tmp_path / "db.sqlite")
    first = cohort.index([tree])
    assert first.read > 0 and first.units_written == 5
    before = snapshot(cohort)
    opened: list[object] = []
    monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: opened.append(a))
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a))
    again = cohort.index([tree])
    assert (again.read, again.units_written, again.added, again.changed, again.removed) == (0, 0, 0, 0, 0)
    assert opened == []
    assert snapshot(cohort) == before


def test_changed_added_and_removed_files_are_followed(tree: Path, tmp_path: Path) -> None:
    cohort = CohortDatabase(tmp_path / "db.sqlite")
    cohort.index([tree])
    se1 = tree / "export" / "PAT1" / "ST1" / "SE1"
    for path in se1.iterdir():
        rewrite(path, SeriesDescription="renamed")
    (se1 / "IM3").unlink()
    new_uid = series(tree / "export" / "PAT3" / "ST1" / "SE1", "P3", "1.2.3.9")
    shutil.rmtree(tree / "ircad")
    report = cohort.index([tree])
    assert (report.changed, report.removed, report.added) == (2, 3, 3)  # IM3 and the two IRCAD zips went
    assert report.units_written == 2  # PAT1 (changed) and PAT3 (new); the others are left alone
    rows = {r.series_uid: r for r in cohort.list_series(EVERYTHING)}
    renamed = [r for r in rows.values() if r.series_description == "renamed"]
    assert len(renamed) == 1 and renamed[0].slices == 2
    assert rows[new_uid].patient_id == "P3"
    assert not any("ircad" in r.path for r in rows.values())
    fresh = CohortDatabase(tmp_path / "fresh.sqlite")
    fresh.index([tree])
    assert snapshot(fresh) == snapshot(cohort)


def test_results_and_reviews_survive_a_reindex_that_moves_a_series(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ct = series(root / "a" / "ct", "P1", "1.2.3.1")
    series(root / "b" / "ct", "P2", "1.2.3.2")
    cohort = CohortDatabase(tmp_path / "db.sqlite")
    cohort.index([root])
    row = next(r for r in cohort.list_series() if r.series_uid == ct)
    assert row.path == str(root / "a")  # a mask-less series folder: its parent is the patient
    cohort.record_result(row.series_id, {"dice": 0.9, "estimated_dice": 0.8, "check_scan": True}, MODEL)
    cohort.set_review(row.series_id, "rejected", note="liver cut off")
    nifti(root / "a" / "ct" / "liver.nii.gz", label=True)  # masks of its own: the series folder is the patient
    cohort.index([root])
    moved = next(r for r in cohort.list_series() if r.series_uid == ct)
    assert moved.path == str(root / "a" / "ct") and moved.series_id == row.series_id
    assert (moved.dice, moved.review, moved.review_note) == (0.9, "rejected", "liver cut off")
    assert moved.ground_truths == 1


def test_a_patient_removed_takes_its_results_along(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ircad(root / "p1")
    ircad(root / "p2", seed=2)
    cohort = CohortDatabase(tmp_path / "db.sqlite")
    cohort.index([root])
    for row in cohort.list_series():
        cohort.record_result(row.series_id, {"dice": 0.5}, MODEL)
    shutil.rmtree(root / "p2")
    report = cohort.index([root])
    assert report.units_removed == 1
    assert [Path(r.path).name for r in cohort.list_series()] == ["p1"]
    assert cohort.summary().results == 1


KILLED_INDEX = """
import os, signal, sys
import ctseg_core.cohort.index_store as store
from ctseg_core.cohort import CohortDatabase

real = store.write_unit
calls = []

class DiesInsideTheTransaction:
    def __init__(self, db):
        self.db = db
    def execute(self, sql, *args):
        if sql.startswith("DELETE FROM ground_truths"):  # after the unit, its files and series
            os.kill(os.getpid(), signal.SIGKILL)
        return self.db.execute(sql, *args)
    def __getattr__(self, name):
        return getattr(self.db, name)

def write_unit(db, root, content, files):
    calls.append(content.path)
    real(DiesInsideTheTransaction(db) if len(calls) == 3 else db, root, content, files)

store.write_unit = write_unit
CohortDatabase(sys.argv[1]).index([sys.argv[2]])
"""


def test_a_killed_index_leaves_a_consistent_database_and_the_next_run_completes(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", KILLED_INDEX, str(db), str(tree)]
    done = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        assert raw.execute("SELECT complete FROM roots").fetchall() == [(0,)]
        units = raw.execute("SELECT count(*) FROM units").fetchone()[0]
        assert units == 2  # the two finished units, nothing of the killed one
    cohort = CohortDatabase(db)
    resumed = cohort.index([tree])
    assert resumed.units_written == 3  # only what the killed run had not finished
    fresh = CohortDatabase(tmp_path / "fresh.sqlite")
    fresh.index([tree])
    assert snapshot(cohort) == snapshot(fresh)
    assert cohort.index([tree]).units_written == 0


def test_a_root_indexed_under_other_rules_is_read_again(tree: Path, tmp_path: Path) -> None:
    cohort = CohortDatabase(tmp_path / "db.sqlite")
    cohort.index([tree])
    with sqlite3.connect(tmp_path / "db.sqlite") as raw:
        raw.execute("UPDATE roots SET complete = 999")  # an index by a ctseg with other rules
    assert cohort.index([tree]).units_written == 5
    assert cohort.index([tree]).units_written == 0


def test_a_cancelled_index_stops_soon_and_the_next_run_completes(tree: Path, tmp_path: Path) -> None:
    from ctseg_core.errors import Cancelled

    cohort = CohortDatabase(tmp_path / "db.sqlite")
    asked: list[int] = []
    with pytest.raises(Cancelled):
        cohort.index([tree], should_cancel=lambda: asked.append(1) or len(asked) > 8)
    assert len(cohort.list_series(EVERYTHING)) < 6
    cohort.index([tree])
    fresh = CohortDatabase(tmp_path / "fresh.sqlite")
    fresh.index([tree])
    assert snapshot(cohort) == snapshot(fresh)
