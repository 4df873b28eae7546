"""``ctseg index``, ``ctseg cohort`` and ``ctseg segment --cohort``: what they print, write and refuse."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from cohort_factory import ircad, series

from ctseg_core.cli import main
from ctseg_core.cohort import CohortDatabase, SeriesQuery
from ctseg_core.model.quality import ScanQuality

REPO = Path(__file__).resolve().parents[3]
ESC = "\x1b"
# pydicom reads the escape character planted in a PatientName as a character-set switch and says so
pytestmark = pytest.mark.filterwarnings("ignore:Found unknown escape sequence")


@dataclass
class FakeResult:
    mask: np.ndarray
    quality: ScanQuality
    timings: dict[str, float] = field(default_factory=dict)


class FakeSegmenter:
    """Thresholds soft tissue; says its estimate is low (so "check this scan") for every other call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls = 0

    def predict(self, hu: np.ndarray, spacing_mm: object, progress: object = None) -> FakeResult:
        self.calls += 1
        estimate = 0.5 if self.calls % 2 == 0 else 0.95
        reasons = ("low estimate",) if estimate < 0.9 else ()
        quality = ScanQuality(estimate, estimate < 0.9, 0.9, True, reasons, {}, np.zeros(1))
        return FakeResult((hu > 0) & (hu < 200), quality)


@pytest.fixture
def cohort_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    ircad(root / "p1", seed=1)
    ircad(root / "p2", seed=2, zipped=True)
    evil = {"PatientName": f"Evil{ESC}]0;pwned{ESC}\\^X", "SeriesDescription": '=HYPERLINK("http://x")'}
    series(root / "=cmd|' /C calc'!A0", "EVIL", "1.2.3.7", **evil)
    return root


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSegmenter:
    model = tmp_path / "fake.keras"
    model.write_bytes(b"fake weights")
    segmenter = FakeSegmenter(model)
    monkeypatch.setattr("ctseg_core.cli.segment._load_segmenter", lambda args: segmenter)
    return segmenter


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_index_prints_counts_and_warnings(
    cohort_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cohort_root / "p1" / "PATIENT_DICOM" / "junk.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    code, out, _ = run(capsys, "index", cohort_root, "--db", tmp_path / "db.sqlite")
    assert code == 0
    assert "3 patients written" in out and "offered to the model: 3 (CT 3)" in out
    assert "ground truths 6 (ircad-folder 3, ircad-zip 3)" in out
    assert "warnings (1):" in out and "junk.dcm" in out
    code, out, _ = run(capsys, "index", cohort_root, "--db", tmp_path / "db.sqlite")
    assert code == 0 and "unchanged" in out
    code, out, _ = run(capsys, "index", cohort_root, "--db", tmp_path / "db.sqlite", "--json")
    found = json.loads(out)
    assert found["cohort"]["patients"] == 3 and found["index"]["read"] == 0


def test_index_refuses_a_missing_root_before_reading_any(
    cohort_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "index", cohort_root, tmp_path / "missing", "--db", tmp_path / "db.sqlite")
    assert code == 2 and "ctseg: error:" in err and "missing: path does not exist" in err
    assert not (tmp_path / "db.sqlite").exists()


def test_cohort_lists_json_csv_and_a_safe_table(
    cohort_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.sqlite"
    run(capsys, "index", cohort_root, "--db", db)
    code, out, _ = run(capsys, "cohort", "--db", db, "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 3
    first = rows[0]
    for key in ("patient_id", "patient_name", "study_uid", "series_uid", "modality", "path", "slices"):
        assert key in first
    for key in ("ground_truths", "dice", "estimated_dice", "check_scan", "review"):
        assert key in first
    assert {t["name"] for t in rows[1]["ground_truths"]} >= {"liver"}
    code, out, _ = run(capsys, "cohort", "--db", db)
    assert ESC not in out and "\\x1b]0;pwned" in out
    code, out, _ = run(capsys, "cohort", "--db", db, "--csv")
    table = list(csv.DictReader(io.StringIO(out)))
    evil = next(r for r in table if r["patient_id"] == "EVIL")
    assert evil["series_description"] == """'=HYPERLINK("http://x")"""
    assert not any(cell.startswith(("=", "+", "@")) for r in table for cell in r.values())


def test_segment_cohort_writes_results_into_the_database(
    cohort_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_model: FakeSegmenter
) -> None:
    db = tmp_path / "db.sqlite"
    run(capsys, "index", cohort_root, "--db", db)
    code, out, err = run(capsys, "segment", "--cohort", "--db", db, "--out", tmp_path / "out", "--format", "nifti")
    assert code == 0, err
    assert fake_model.calls == 3 and ESC not in out
    with CohortDatabase(db) as cohort:
        rows = cohort.list_series()
        assert all(r.model_name == "bundled" and r.estimated_dice is not None for r in rows)  # no --model
        assert all(Path(r.output_path).is_file() for r in rows)
        assert [r.dice is not None for r in rows] == [False, True, True]  # the EVIL series has no ground truth
        assert len(cohort.list_series(SeriesQuery(flagged_only=True))) == 1
    with open(tmp_path / "out" / "ctseg_summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert len(summary) == 3 and all(r["series_uid"] for r in summary)
    assert not any(cell.startswith("=") for r in summary for cell in r.values())
    code, _, err = run(capsys, "segment", "--cohort", "--only-new", "--db", db, "--out", tmp_path / "out")
    assert code == 0 and fake_model.calls == 3 and "nothing to segment" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["segment", "somewhere", "--cohort"], "not both"),
        (["segment"], "give patient folders"),
        (["segment", "p", "--only-new"], "go with --cohort"),
    ],
)
def test_segment_refuses_mixed_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_cohort_on_a_damaged_database_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "db.sqlite"
    db.write_bytes(b"garbage" * 100)
    code, _, err = run(capsys, "cohort", "--db", db)
    assert code == 2 and err.startswith(f"ctseg: error: {db}: is not a cohort database")
    assert db.read_bytes() == b"garbage" * 100


KILLED_BATCH = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import numpy as np
from test_cli_cohort import FakeSegmenter
import ctseg_core.cli.segment as segment

class DiesOnTheThird(FakeSegmenter):
    def predict(self, hu, spacing_mm, progress=None):
        if self.calls == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().predict(hu, spacing_mm, progress)

segment._load_segmenter = lambda args: DiesOnTheThird(Path(sys.argv[2]))
from ctseg_core.cli import main
main(["segment", "--cohort", "--db", sys.argv[1], "--out", sys.argv[4]])
"""


def test_a_killed_cohort_batch_keeps_every_finished_result(
    cohort_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.sqlite"
    run(capsys, "index", cohort_root, "--db", db)
    model = tmp_path / "fake.keras"
    model.write_bytes(b"fake weights")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    argv = [sys.executable, "-c", KILLED_BATCH, str(db), str(model), str(Path(__file__).parent), str(tmp_path / "o")]
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    with CohortDatabase(db) as cohort:
        assert [r.result_id is not None for r in cohort.list_series()] == [True, True, False]
