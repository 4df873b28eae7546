"""One cohort batch (:mod:`ctseg_core.batch.cohort`) for ``ctseg segment --cohort`` and the viewer:
rows land on their own series whatever order the workers finish in, one model identity whichever
name or engine, and Dice against a SEG found elsewhere on the command line too."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cohort_factory import seg, series

from ctseg_core.batch.cohort import RowOwners, cohort_items, model_identity
from ctseg_core.batch.models import SegmenterSource
from ctseg_core.cli import main
from ctseg_core.cohort import CohortDatabase, SeriesRow
from ctseg_core.io.loading import load_patient
from ctseg_core.model.inference import Segmentation, default_model_path
from ctseg_core.synth.phantom import write_phantom


class Thresholder:
    """A model stand-in (as the batch tests'): HU > 0 is liver; a scan of an even number of slices
    takes longer, so that with two workers the later patients often finish first."""

    backend = "stand-in"

    def __init__(self) -> None:
        self.calls = 0
        self.path = Path("stand-in.keras")

    def predict(
        self, hu: np.ndarray, spacing_mm: Any = None, progress: Any = None, should_cancel: Any = None
    ) -> Segmentation:
        self.calls += 1
        time.sleep(0.3 if hu.shape[0] % 2 == 0 else 0.0)
        return Segmentation(mask=hu > 0, timings={"network": 0.0})


@pytest.fixture
def phantoms(tmp_path: Path) -> Path:
    """Five phantoms of 4 to 8 slices indexed into ``db.sqlite``."""
    for k in range(5):
        write_phantom(tmp_path / "root" / f"patient_{k}", seed=k + 1, slices=4 + k, size=32)
    database = tmp_path / "db.sqlite"
    with CohortDatabase(database) as cohort:
        cohort.index([tmp_path / "root"])
    return database


@pytest.fixture
def two_workers(monkeypatch: pytest.MonkeyPatch) -> Thresholder:
    """``--workers`` on stand-ins in this process (no model processes): each worker its own thread."""
    model = Thresholder()

    def processes(model_path: Path | None, threads: int | None, workers: int = 1) -> SegmenterSource:
        @contextmanager
        def open_one() -> Iterator[Thresholder]:
            yield model

        return SegmenterSource(open_one)

    monkeypatch.setattr("ctseg_core.batch.run.model_processes", processes)
    return model


def thresholded_ml(row: SeriesRow) -> float:
    """The stand-in's predicted volume on the series' own CT."""
    patient = load_patient(row.path, series_uid=row.load_series_uid, masks=None)
    return float((patient.hu > 0).sum() * np.prod(patient.spacing_mm) / 1000)


def stored(database: Path) -> dict[str, SeriesRow]:
    with CohortDatabase(database) as cohort:
        return {Path(row.path).name: row for row in cohort.list_series()}


def test_with_two_workers_each_row_lands_on_its_own_series(
    phantoms: Path, tmp_path: Path, two_workers: Thresholder, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        ["segment", "--cohort", "--db", str(phantoms), "--out", str(out), "--format", "nifti", "--workers", "2"]
    )
    assert code == 0 and two_workers.calls == 5
    with open(out / "ctseg_summary.csv", newline="") as handle:
        by_source = {Path(row["source"]).name: row for row in csv.DictReader(handle)}
    results = stored(phantoms)
    assert sorted(results) == [f"patient_{k}" for k in range(5)]
    for name, row in results.items():
        assert row.volume_ml_pred == pytest.approx(thresholded_ml(row))  # its own scan's prediction
        assert Path(str(row.output_path)).parent.name == name
        assert row.volume_ml_pred == pytest.approx(float(by_source[name]["volume_ml_pred"]))
        assert row.dice == pytest.approx(float(by_source[name]["dice"]))


def test_row_owners_pair_by_source_and_series_not_by_order(phantoms: Path, tmp_path: Path) -> None:
    with CohortDatabase(phantoms) as cohort:
        rows = cohort.list_series()
    items = cohort_items(rows, tmp_path / "out")
    owners = RowOwners(rows, items)
    backwards = [{"source": str(i.source), "series_uid": i.series_uid} for i in reversed(items)]
    assert [owners.series_id(r) for r in backwards] == [row.series_id for row in reversed(rows)]
    assert owners.series_id(backwards[0]) is None  # each series once
    assert owners.series_id({"source": "/elsewhere", "series_uid": None}) is None


def test_one_identity_for_the_bundled_model_however_named(tmp_path: Path) -> None:
    bundled = model_identity(None)
    assert bundled.name == "bundled" and len(bundled.sha256) == 64
    assert model_identity("bundled") == bundled == model_identity(str(default_model_path()))
    assert model_identity(default_model_path()) == bundled
    mine = tmp_path / "mine.keras"
    mine.write_bytes(b"weights")
    assert model_identity(str(mine)).name == "mine" and model_identity(str(mine)) != bundled
    assert model_identity(str(tmp_path / "gone.keras")).name == "gone"  # its batch fails; its name stays


def test_segment_cohort_scores_against_a_seg_found_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    series(root / "p1" / "ct", "P1", count=4)
    series(root / "p2" / "ct", "P2", "1.2.3.9", count=4)
    seg(root / "segmentations" / "liver.seg.dcm", root / "p1" / "ct")  # outside the patient's folder
    database = tmp_path / "db.sqlite"
    with CohortDatabase(database) as cohort:
        cohort.index([root])
    monkeypatch.setattr("ctseg_core.cli.segment._load_segmenter", lambda args: Thresholder())
    out = tmp_path / "out"
    code = main(["segment", "--cohort", "--db", str(database), "--out", str(out), "--format", "nifti", "--json"])
    printed = {Path(row["source"]).name: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert code == 0 and printed["p1"]["dice"] is not None and printed["p1"]["ground_truth"].startswith("seg:")
    assert printed["p2"]["dice"] is None  # no ground truth anywhere
    row = stored(database)["p1"]
    assert row.dice == pytest.approx(printed["p1"]["dice"]) and row.volume_ml_gt is not None and row.volume_ml_gt > 0
    with open(out / "ctseg_summary.csv", newline="") as handle:
        summary = {Path(row["source"]).name: row for row in csv.DictReader(handle)}
    assert float(summary["p1"]["dice"]) == pytest.approx(printed["p1"]["dice"]) and summary["p2"]["dice"] == ""
