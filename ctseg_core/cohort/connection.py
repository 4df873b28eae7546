"""Opening the cohort database safely: where it is, what it must be, and short write transactions.

SQLite through the standard library, in WAL mode (the viewer reads while a command-line batch
writes), with foreign keys on and a busy timeout (a writer waits for another instead of failing).
A file that is not ctseg's database, is damaged, or was written by a newer ctseg is refused with
a :class:`~ctseg_core.errors.CohortDatabaseError` naming it, and never written to. Paths are stored
as bytes (``os.fsencode``), so any file name round-trips; all SQL takes its values as parameters.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ctseg_core.cache import user_data_dir
from ctseg_core.cohort.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, TABLES
from ctseg_core.errors import CohortDatabaseError

#: The database used when neither ``--db`` nor this variable names one.
DB_ENV = "CTSEG_DB"
DB_NAME = "cohort.sqlite"
#: How long a writer waits for another one (the viewer and a batch share the file) before giving up.
BUSY_TIMEOUT_S = 60.0
_SQLITE_MAGIC = b"SQLite format 3\x00"


def default_db_path() -> Path:
    """``$CTSEG_DB``, else ``cohort.sqlite`` in the user data folder, beside the user's models."""
    override = os.environ.get(DB_ENV)
    return Path(override).expanduser() if override else user_data_dir() / DB_NAME


def db_path(given: str | Path | None) -> Path:
    """The database a command means: ``--db`` when given, else :func:`default_db_path`."""
    return Path(given).expanduser() if given else default_db_path()


def encode_path(path: str | Path) -> bytes:
    """A path as stored: its bytes, whatever their encoding."""
    return os.fsencode(path)


def decode_path(stored: bytes | None) -> str:
    """A stored path as text (undecodable bytes as surrogate escapes, like ``os.listdir``)."""
    return os.fsdecode(stored) if stored else ""


def db_text(text: object) -> str:
    """Text as SQLite can store it: a string holding surrogate escapes gets U+FFFD in their place."""
    value = str(text) if text is not None else ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def now_text() -> str:
    """The time now, UTC, as ISO 8601 text (sorts as time)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def open_connection(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """A checked connection to the cohort database at ``path``, created (``create``) or migrated as needed."""
    _check_file(path, create)
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as error:
        raise CohortDatabaseError(path, f"cannot be opened ({error})") from error
    try:
        with database_errors(path):
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _check_and_upgrade(connection, path)
    except BaseException:
        connection.close()
        raise
    return connection


def _check_file(path: Path, create: bool) -> None:
    """Refuse what must never be opened as SQLite: a folder, a missing file (unless creating), another format."""
    if path.is_dir():
        raise CohortDatabaseError(path, "is a folder: give the cohort database's file name (--db FILE)")
    if not path.exists():
        if not create:
            raise CohortDatabaseError(path, "no cohort database here yet: run `ctseg index ROOT` first")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CohortDatabaseError(path, f"its folder cannot be created ({error.strerror or error})") from error
        return
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError as error:
        raise CohortDatabaseError(path, f"cannot be read ({error.strerror or error})") from error
    if head and head != _SQLITE_MAGIC:
        raise CohortDatabaseError(path, f"is not a cohort database (not an SQLite file); {_LEFT_AS_IT_IS}")


_LEFT_AS_IT_IS = "it is left as it is: move it aside or give another --db"


def _use_wal(connection: sqlite3.Connection) -> None:
    """WAL (where the file system allows it: the viewer reads while a batch writes), and commits that
    survive a kill. Only ever done to a file known to be ctseg's: it rewrites the file's header."""
    # a read-only folder or a network file system refuses WAL: the default journal still works
    with contextlib.suppress(sqlite3.OperationalError):
        connection.execute("PRAGMA journal_mode = WAL")
    # WAL + NORMAL: a committed transaction survives the process being killed (not a power cut)
    connection.execute("PRAGMA synchronous = NORMAL")


def _check_and_upgrade(connection: sqlite3.Connection, path: Path) -> None:
    """Create the tables in a new file, migrate an older one, refuse a foreign, newer or damaged one."""
    application = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application == 0 and version == 0 and tables == 0:
        _use_wal(connection)
        _create(connection)
        return
    if application != APPLICATION_ID:
        raise CohortDatabaseError(path, f"is an SQLite database of another program, not ctseg's; {_LEFT_AS_IT_IS}")
    if version > SCHEMA_VERSION:
        raise CohortDatabaseError(
            path,
            f"was written by a newer ctseg (schema version {version}; this ctseg reads up to {SCHEMA_VERSION}): "
            "upgrade ctseg, or give another --db; the file is left as it is",
        )
    problem = connection.execute("PRAGMA quick_check(1)").fetchone()[0]
    if problem != "ok":
        raise CohortDatabaseError(path, f"is damaged ({problem}); {_LEFT_AS_IT_IS}")
    _use_wal(connection)
    for step in range(version, SCHEMA_VERSION):
        with write_transaction(connection):
            for statement in MIGRATIONS[step]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {step + 1}")


def _create(connection: sqlite3.Connection) -> None:
    """The tables of a new database, its application id and version, in one transaction."""
    with write_transaction(connection):
        for statement in TABLES.split(";\n"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: all of it is committed, or (on any exception, or a kill) none of it.

    ``BEGIN IMMEDIATE`` takes the write lock at once, waiting up to the busy timeout for another writer.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """SQLite's errors about the file (damaged, locked too long, disk full) as a message naming it."""
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise  # a bug in ctseg, not a problem of the file
    except sqlite3.OperationalError as error:
        text = str(error)
        if "locked" in text or "busy" in text:
            raise CohortDatabaseError(
                path, f"is locked by another program for more than {BUSY_TIMEOUT_S:.0f} s ({text}); try again"
            ) from error
        if "full" in text:
            raise CohortDatabaseError(path, f"cannot be written: the disk is full ({text})") from error
        raise CohortDatabaseError(path, f"cannot be used ({text}); {_LEFT_AS_IT_IS}") from error
    except sqlite3.DatabaseError as error:
        raise CohortDatabaseError(path, f"is damaged ({error}); {_LEFT_AS_IT_IS}") from error
