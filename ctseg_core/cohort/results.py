"""What the cohort learns after indexing: a model's result on a series, and a reviewer's verdict.

Each is written in its own short transaction the moment it is known, so a batch killed halfway
keeps every result it finished, and the viewer and a command-line batch can write at once.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctseg_core.cohort.connection import db_text, encode_path, now_text, write_transaction
from ctseg_core.cohort.query import REVIEW_STATES
from ctseg_core.errors import InvalidArgumentError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelIdentity:
    """A model as results name it: what the user calls it, and its file's SHA-256 (the same name may
    be retrained; the hash tells the two apart)."""

    name: str
    sha256: str

    @classmethod
    def of_file(cls, path: str | Path, name: str | None = None) -> ModelIdentity:
        """The identity of a model file (a folder: all its files, in name order)."""
        path = Path(path)
        digest = hashlib.sha256()
        for part in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
            with open(part, "rb") as handle:
                while block := handle.read(_CHUNK):
                    digest.update(block)
        return cls(name or path.stem, digest.hexdigest())


def record_result(db: sqlite3.Connection, series_id: int, row: Mapping[str, Any], model: ModelIdentity) -> int:
    """Store one batch row (:func:`ctseg_core.batch.segment_patient`'s) as the series' result for
    ``model``, replacing that model's previous one; the result's id."""
    values = {
        "series_id": series_id,
        "model_name": db_text(model.name),
        "model_sha256": model.sha256,
        "dice": _number(row.get("dice")),
        "jaccard": _number(row.get("jaccard")),
        "assd_mm": _number(row.get("assd_mm")),
        "hd95_mm": _number(row.get("hd95_mm")),
        "volume_ml_pred": _number(row.get("volume_ml_pred")),
        "volume_ml_gt": _number(row.get("volume_ml_gt")),
        "estimated_dice": _number(row.get("estimated_dice")),
        "check_scan": None if row.get("check_scan") is None else int(bool(row.get("check_scan"))),
        "check_reasons": db_text(row.get("quality_reasons") or ""),
        "output_path": encode_path(row["output"]) if row.get("output") else None,
        "seconds": _number(row.get("seconds")),
        "error": db_text(row["error"]) if row.get("error") else None,
        "recorded_at": now_text(),
    }
    columns = ", ".join(values)
    updates = ", ".join(f"{name} = excluded.{name}" for name in values if name not in ("series_id", "model_sha256"))
    with write_transaction(db):
        db.execute(
            f"INSERT INTO results ({columns}) VALUES ({', '.join(':' + name for name in values)}) "
            f"ON CONFLICT (series_id, model_sha256) DO UPDATE SET {updates}",
            values,
        )
        found = db.execute(
            "SELECT id FROM results WHERE series_id = ? AND model_sha256 = ?", (series_id, model.sha256)
        ).fetchone()
    return int(found[0])


def _number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def set_review(
    db: sqlite3.Connection,
    series_id: int,
    status: str,
    note: str = "",
    label_path: str | Path | None = None,
    result_id: int | None = None,
) -> None:
    """The reviewer's verdict on a series: unreviewed, accepted, corrected (``label_path``: the label
    saved) or rejected (``note``: why); ``result_id``: the result they looked at."""
    if status not in REVIEW_STATES:
        raise InvalidArgumentError(None, f"review status must be one of {', '.join(REVIEW_STATES)}, got {status!r}")
    with write_transaction(db):
        if db.execute("SELECT 1 FROM series WHERE id = ?", (series_id,)).fetchone() is None:
            raise InvalidArgumentError(None, f"no series {series_id} in the cohort (re-indexed away?)")
        db.execute(
            "INSERT INTO reviews (series_id, status, note, reviewed_at, label_path, result_id) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (series_id) DO UPDATE SET status = excluded.status, "
            "note = excluded.note, reviewed_at = excluded.reviewed_at, label_path = excluded.label_path, "
            "result_id = excluded.result_id",
            (
                series_id,
                status,
                db_text(note),
                now_text(),
                encode_path(label_path) if label_path else None,
                result_id,
            ),
        )
