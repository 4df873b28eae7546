"""The index's writes: one transaction per unit, and one to finish a root.

A killed index therefore leaves every unit either as it was or fully written; the root stays
marked unfinished, and the next run redoes only what is not yet up to date. Series rows are
updated in place (keyed by unit and SeriesInstanceUID), so their results and reviews survive a
re-index; a series whose patient folder changed shape (a sibling series folder added, so the
study folder became the patient) moves to its new unit with them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ctseg_core.cohort.connection import db_text, decode_path, encode_path, now_text, write_transaction
from ctseg_core.cohort.series_info import SeriesFacts
from ctseg_core.cohort.unit_reader import FileRow, KnownFile, UnitContent
from ctseg_core.cohort.walk import FileStat
from ctseg_core.io.file_kinds import DicomIdentity


def under(root: Path) -> tuple[bytes, bytes, bytes]:
    """(root, first, end): stored paths ``p`` below ``root`` are ``first <= p < end``, or ``p == root``."""
    base = encode_path(root).rstrip(os.fsencode(os.sep))
    separator = os.fsencode(os.sep)
    return base, base + separator, base + bytes([separator[0] + 1])


_UNDER = "(path = ? OR (path >= ? AND path < ?))"


def root_id(db: sqlite3.Connection, root: Path) -> tuple[int, int]:
    """The root's row (created if new) and the rules version its last index ran to the end with (0: none)."""
    row = db.execute("SELECT id, complete FROM roots WHERE path = ?", (encode_path(root),)).fetchone()
    if row is not None:
        return int(row[0]), int(row[1])
    with write_transaction(db):
        cursor = db.execute("INSERT INTO roots (path, complete) VALUES (?, 0)", (encode_path(root),))
    return int(cursor.lastrowid or 0), 0


def mark_started(db: sqlite3.Connection, root: Path) -> None:
    """This root, and every indexed root it lies in or holds, unfinished until this run ends: the
    discovery rule may find the overlapping part differently from here, so theirs is looked at again."""
    path = encode_path(root)
    separator = os.fsencode(os.sep)
    overlapping = [
        (row_id,)
        for row_id, other in db.execute("SELECT id, path FROM roots").fetchall()
        if other == path or other.startswith(path + separator) or path.startswith(other + separator)
    ]
    with write_transaction(db):
        db.executemany("UPDATE roots SET complete = 0 WHERE id = ?", overlapping)


def known_files(db: sqlite3.Connection, root: Path) -> dict[str, KnownFile]:
    """The files the database holds at or below ``root``, by path."""
    rows = db.execute(
        f"SELECT path, id, size, mtime_ns, kind, patient_id, study_uid, sop_uid FROM files WHERE {_UNDER}", under(root)
    )
    return {
        decode_path(path): KnownFile(
            file_id, FileStat(size, mtime), kind, DicomIdentity(pid, study, sop) if sop is not None else None
        )
        for path, file_id, size, mtime, kind, pid, study, sop in rows
    }


def known_units(db: sqlite3.Connection, root: Path) -> dict[str, tuple[int, str]]:
    """The units the database holds at or below ``root``: path → (id, layout)."""
    rows = db.execute(f"SELECT path, id, layout FROM units WHERE {_UNDER}", under(root))
    return {decode_path(path): (int(unit_id), layout) for path, unit_id, layout in rows}


def thumbnail_stamps(db: sqlite3.Connection, unit: Path) -> dict[str, str]:
    """The stamps of a unit's thumbnails by series UID (what they were made from)."""
    rows = db.execute(
        "SELECT s.series_uid, t.stamp FROM thumbnails t JOIN series s ON s.id = t.series_id "
        "JOIN units u ON u.id = s.unit_id WHERE u.path = ?",
        (encode_path(unit),),
    )
    return dict(rows.fetchall())


def set_stale_units(db: sqlite3.Connection, units: Iterable[int]) -> None:
    """The units of this root that the discovery rule no longer finds: their series may move (see module)."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS stale_units (id INTEGER PRIMARY KEY)")
    with write_transaction(db):
        db.execute("DELETE FROM temp.stale_units")
        db.executemany("INSERT INTO temp.stale_units (id) VALUES (?)", [(unit,) for unit in units])


def write_unit(db: sqlite3.Connection, root: int, content: UnitContent, files: Iterable[FileRow]) -> None:
    """One unit, its files, series, thumbnails and ground truths, in one transaction."""
    with write_transaction(db):
        unit = _upsert_unit(db, root, content)
        file_ids = upsert_files(db, root, files, want_ids=True)
        kept = [_write_series(db, unit, facts, content, file_ids) for facts in content.series]
        marks = ", ".join("?" * len(kept))
        db.execute(f"DELETE FROM series WHERE unit_id = ? AND id NOT IN ({marks})", (unit, *kept))
        db.execute("DELETE FROM ground_truths WHERE unit_id = ?", (unit,))
        db.executemany(
            "INSERT INTO ground_truths (unit_id, kind, name, path, member, referenced_series_uid, automatic) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (unit, g.kind, db_text(g.name), encode_path(g.path), g.member, g.referenced_series_uid, g.automatic)
                for g in content.ground_truths
            ],
        )


def _upsert_unit(db: sqlite3.Connection, root: int, content: UnitContent) -> int:
    warnings = "\n".join(db_text(w) for w in content.warnings)
    path = encode_path(content.path)
    db.execute(
        "INSERT INTO units (root_id, path, layout, warnings) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (path) DO UPDATE SET root_id = excluded.root_id, layout = excluded.layout, "
        "warnings = excluded.warnings",
        (root, path, content.layout, warnings),
    )
    return int(db.execute("SELECT id FROM units WHERE path = ?", (path,)).fetchone()[0])


def upsert_files(db: sqlite3.Connection, root: int, files: Iterable[FileRow], want_ids: bool = False) -> dict[str, int]:
    """Record files (their stat, kind and identity); with ``want_ids``, their ids by path."""
    rows = list(files)
    db.executemany(
        "INSERT INTO files (root_id, path, size, mtime_ns, kind, problem, patient_id, study_uid, sop_uid) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET root_id = excluded.root_id, "
        "size = excluded.size, mtime_ns = excluded.mtime_ns, kind = excluded.kind, problem = excluded.problem, "
        "patient_id = excluded.patient_id, study_uid = excluded.study_uid, sop_uid = excluded.sop_uid",
        [_file_values(root, row) for row in rows],
    )
    if not want_ids:
        return {}
    find = "SELECT id FROM files WHERE path = ?"
    return {row.path: int(db.execute(find, (encode_path(row.path),)).fetchone()[0]) for row in rows}


def _file_values(root: int, row: FileRow) -> tuple[object, ...]:
    identity = row.identity
    return (
        root,
        encode_path(row.path),
        row.stat.size,
        row.stat.mtime_ns,
        row.kind,
        db_text(row.problem),
        None if identity is None else db_text(identity.patient_id),
        None if identity is None else db_text(identity.study_uid),
        None if identity is None else db_text(identity.sop_instance_uid),
    )


def _write_series(
    db: sqlite3.Connection,
    unit: int,
    facts: SeriesFacts,
    content: UnitContent,
    file_ids: dict[str, int],
) -> int:
    """One series row (updated in place, or moved here from a unit that is gone), its files and thumbnail."""
    study = _study(db, facts, content)
    series = _series_id(db, unit, facts.series_uid)
    values = (
        unit,
        study,
        db_text(facts.series_uid),
        facts.format,
        db_text(facts.modality),
        facts.series_number,
        db_text(facts.description),
        db_text(facts.image_type),
        db_text(facts.sop_class_uid),
        facts.slices,
        facts.files,
        facts.rows,
        facts.columns,
        *facts.spacing_mm,
        facts.orientation,
        facts.segmentable,
        facts.not_segmentable,
        now_text(),
    )
    columns = (
        "unit_id, study_ref, series_uid, format, modality, series_number, description, image_type, sop_class_uid, "
        "slices, files, image_rows, image_columns, spacing_z, spacing_y, spacing_x, orientation, segmentable, "
        "not_segmentable, indexed_at"
    )
    if series is None:
        marks = ", ".join("?" * len(values))
        series = int(db.execute(f"INSERT INTO series ({columns}) VALUES ({marks})", values).lastrowid or 0)
    else:
        assignments = ", ".join(f"{name.strip()} = ?" for name in columns.split(","))
        db.execute(f"UPDATE series SET {assignments} WHERE id = ?", (*values, series))
    _write_members(db, series, facts, content, file_ids)
    if facts.series_uid in content.thumbnails:
        png, stamp = content.thumbnails[facts.series_uid]
        db.execute("INSERT OR REPLACE INTO thumbnails (series_id, png, stamp) VALUES (?, ?, ?)", (series, png, stamp))
    return series


def _series_id(db: sqlite3.Connection, unit: int, uid: str) -> int | None:
    """The row of this series: in this unit, else (a DICOM series) in a unit that is no longer found."""
    row = db.execute("SELECT id FROM series WHERE unit_id = ? AND series_uid = ?", (unit, uid)).fetchone()
    if row is None and uid:
        row = db.execute(
            "SELECT id FROM series WHERE series_uid = ? AND unit_id IN (SELECT id FROM temp.stale_units) LIMIT 1",
            (uid,),
        ).fetchone()
    return int(row[0]) if row is not None else None


def _study(db: sqlite3.Connection, facts: SeriesFacts, content: UnitContent) -> int:
    """The study row of a series (and its patient's), created when new."""
    nifti_path = encode_path(content.path) if facts.format == "nifti" else b""
    key = (db_text(facts.patient_id), db_text(facts.patient_name), nifti_path)
    db.execute("INSERT OR IGNORE INTO patients (patient_id, name, nifti_path) VALUES (?, ?, ?)", key)
    find = "SELECT id FROM patients WHERE patient_id = ? AND name = ? AND nifti_path = ?"
    patient = db.execute(find, key).fetchone()[0]
    study = (patient, db_text(facts.study_uid))
    db.execute(
        "INSERT INTO studies (patient_ref, study_uid, study_date, description) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (patient_ref, study_uid) DO UPDATE SET study_date = excluded.study_date, "
        "description = excluded.description",
        (*study, db_text(facts.study_date), db_text(facts.study_description)),
    )
    return int(db.execute("SELECT id FROM studies WHERE patient_ref = ? AND study_uid = ?", study).fetchone()[0])


def _write_members(
    db: sqlite3.Connection, series: int, facts: SeriesFacts, content: UnitContent, file_ids: dict[str, int]
) -> None:
    """The files (or zip members) and frames a series consists of."""
    db.execute("DELETE FROM series_files WHERE series_id = ?", (series,))
    if facts.format == "nifti":
        rows = [(series, file_ids[str(content.nifti)], "", facts.slices, "")]
    elif content.archive is not None:
        archive = file_ids[str(content.archive)]
        rows = [(series, archive, db_text(m.entry), m.frames, db_text(m.sop_uid)) for m in facts.members]
    else:
        rows = [(series, file_ids[m.entry], "", m.frames, db_text(m.sop_uid)) for m in facts.members]
    db.executemany(
        "INSERT OR REPLACE INTO series_files (series_id, file_id, member, frames, sop_uid) VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def finish_root(
    db: sqlite3.Connection,
    root: int,
    removed: Iterable[str],
    files: Iterable[FileRow],
    gone_units: Iterable[int],
    rules: int,
) -> None:
    """The end of a root's index: units no longer found and files no longer there dropped, the rest
    of the files recorded, patients and studies left without series dropped, the root marked done."""
    with write_transaction(db):
        db.executemany("DELETE FROM units WHERE id = ?", [(unit,) for unit in gone_units])
        db.executemany("DELETE FROM files WHERE path = ?", [(encode_path(p),) for p in removed])
        upsert_files(db, root, files)
        db.execute("DELETE FROM studies WHERE id NOT IN (SELECT study_ref FROM series)")
        db.execute("DELETE FROM patients WHERE id NOT IN (SELECT patient_ref FROM studies)")
        db.execute("UPDATE roots SET complete = ?, indexed_at = ? WHERE id = ?", (rules, now_text(), root))
