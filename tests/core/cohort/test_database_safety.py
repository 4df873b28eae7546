"""The database file: refused (never overwritten) when foreign, damaged or newer; migrated when
older; shared by two writers at once; a killed writer loses nothing it committed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cohort_factory import series

from ctseg_core.cohort import CohortDatabase, ModelIdentity, db_path
from ctseg_core.cohort import connection as connection_module
from ctseg_core.cohort.schema import APPLICATION_ID, SCHEMA_VERSION
from ctseg_core.errors import CohortDatabaseError

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding two indexed series (copied by the tests that change it)."""
    folder = tmp_path_factory.mktemp("indexed")
    series(folder / "root" / "a", "P1", "1.2.3.1")
    series(folder / "root" / "b", "P2", "1.2.3.2")
    with CohortDatabase(folder / "db.sqlite") as cohort:
        cohort.index([folder / "root"])
    return folder / "db.sqlite"


def copy_of(database: Path, folder: Path) -> Path:
    """A standalone copy (the WAL checkpointed into the file)."""
    target = folder / "copy.sqlite"
    with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return target


def refused(path: Path) -> str:
    before = path.read_bytes()
    with pytest.raises(CohortDatabaseError) as caught:
        CohortDatabase(path)
    assert path.read_bytes() == before, "a refused database must be left exactly as it was"
    assert str(path) in str(caught.value)
    return str(caught.value)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("my notes, not a database\n")
    assert "not an SQLite file" in refused(path)


def test_a_damaged_database_is_refused_and_left_alone(indexed: Path, tmp_path: Path) -> None:
    path = copy_of(indexed, tmp_path)
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 2 : page * 2 + 200] = os.urandom(200)  # a table page overwritten
    path.write_bytes(bytes(data))
    assert "damaged" in refused(path) or "cannot be used" in refused(path)


def test_another_programs_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE bookmarks (url TEXT)")
    assert "another program" in refused(path)


def test_a_database_of_a_newer_ctseg_is_refused(indexed: Path, tmp_path: Path) -> None:
    path = copy_of(indexed, tmp_path)
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    message = refused(path)
    assert f"schema version {SCHEMA_VERSION + 1}" in message and "newer ctseg" in message


def test_a_folder_given_as_the_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CohortDatabaseError, match="is a folder"):
        CohortDatabase(tmp_path)


def test_the_default_location_is_the_user_data_folder_or_ctseg_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CTSEG_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert db_path(None) == tmp_path / "data" / "ctseg" / "cohort.sqlite"
    monkeypatch.setenv("CTSEG_DB", str(tmp_path / "elsewhere.sqlite"))
    assert db_path(None) == tmp_path / "elsewhere.sqlite"
    assert db_path(tmp_path / "given.sqlite") == tmp_path / "given.sqlite"
    with CohortDatabase() as cohort:
        assert cohort.path == tmp_path / "elsewhere.sqlite"
    with sqlite3.connect(tmp_path / "elsewhere.sqlite") as raw:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_older_database_is_migrated_in_one_transaction(
    indexed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of(indexed, tmp_path)
    steps = {SCHEMA_VERSION: ("ALTER TABLE reviews ADD COLUMN reviewer TEXT NOT NULL DEFAULT ''",)}
    monkeypatch.setattr(connection_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(connection_module, "MIGRATIONS", steps)
    with CohortDatabase(path) as cohort:
        assert len(cohort.list_series()) == 2
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert "reviewer" in [row[1] for row in raw.execute("PRAGMA table_info(reviews)")]


def test_a_failing_migration_leaves_the_database_as_it_was(
    indexed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of(indexed, tmp_path)
    steps = {SCHEMA_VERSION: ("ALTER TABLE reviews ADD COLUMN reviewer TEXT", "ALTER TABLE no_such_table ADD x INT")}
    monkeypatch.setattr(connection_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(connection_module, "MIGRATIONS", steps)
    with pytest.raises(CohortDatabaseError, match="no_such_table"):
        CohortDatabase(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "reviewer" not in [row[1] for row in raw.execute("PRAGMA table_info(reviews)")]


WRITER = """
import sys
from ctseg_core.cohort import CohortDatabase, ModelIdentity
database, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = ModelIdentity(name, name * 64)
with CohortDatabase(database) as cohort:
    rows = cohort.list_series()
    for k in range(count):
        row = rows[k % len(rows)]
        cohort.record_result(row.series_id, {"dice": k / count, "estimated_dice": 0.5}, model)
        cohort.set_review(row.series_id, "accepted", note=f"{name} {k}")
print("done")
"""


def test_two_processes_write_at_once(indexed: Path, tmp_path: Path) -> None:
    path = copy_of(indexed, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "40"], env=env, **pipes) for name in ("a", "b")
    ]
    with CohortDatabase(path) as reader:  # the viewer reads meanwhile
        while any(w.poll() is None for w in writers):
            assert len(reader.list_series()) == 2
    outcomes = [w.communicate() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], outcomes
    with CohortDatabase(path) as cohort:
        assert cohort.summary().results == 4  # two series × two models, each the last one written
        assert {row.review for row in cohort.list_series()} == {"accepted"}


def test_a_committed_result_survives_a_killed_writer(indexed: Path, tmp_path: Path) -> None:
    path = copy_of(indexed, tmp_path)
    script = (
        "import os, signal, sys\n"
        "from ctseg_core.cohort import CohortDatabase, ModelIdentity\n"
        "cohort = CohortDatabase(sys.argv[1])\n"
        "row = cohort.list_series()[0]\n"
        "cohort.record_result(row.series_id, {'dice': 0.75}, ModelIdentity('m', 'f' * 64))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, timeout=60)
    assert done.returncode < 0
    with CohortDatabase(path) as cohort:
        assert [r.dice for r in cohort.list_series()] == [0.75, None]


def test_model_identity_hashes_the_file(tmp_path: Path) -> None:
    model = tmp_path / "mine.keras"
    model.write_bytes(b"weights")
    identity = ModelIdentity.of_file(model)
    assert identity.name == "mine" and len(identity.sha256) == 64
    model.write_bytes(b"retrained")
    assert ModelIdentity.of_file(model, "mine").sha256 != identity.sha256
