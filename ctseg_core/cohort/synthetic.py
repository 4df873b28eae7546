"""A large made-up cohort written straight into a database: what the browser's benchmark and tests
need at 10,000 series, in a second instead of the minutes an index of that many files takes.

Rows only (no files behind them): every series has a patient, a study, a thumbnail, and a share
of them a result and a review, so every column of the table has values to sort. Never used on a
user's database: :func:`fill_synthetic_cohort` refuses one that already holds series.
"""

from __future__ import annotations

import io
import random
import sqlite3
from pathlib import Path

import numpy as np

from ctseg_core.cohort.connection import encode_path, now_text, open_connection, write_transaction
from ctseg_core.cohort.query import REVIEW_STATES
from ctseg_core.errors import InvalidArgumentError

_DESCRIPTIONS = ("ABDOMEN PV", "Portal venous 1.5mm", "arterial", "LIVER 3 PHASE", "delayed", "")


def fill_synthetic_cohort(path: str | Path, series: int, seed: int = 0, root: str = "/synthetic") -> Path:
    """Write ``series`` made-up CT series (one per patient) into a new database at ``path``."""
    rng = random.Random(seed)
    thumbnail = _gradient_png()
    db = open_connection(Path(path))
    try:
        if db.execute("SELECT count(*) FROM series").fetchone()[0]:
            raise InvalidArgumentError(path, "already holds series: a synthetic cohort goes into a new database")
        now = now_text()
        with write_transaction(db):
            root_id = int(
                db.execute(
                    "INSERT INTO roots (path, complete, indexed_at) VALUES (?, 1, ?)", (encode_path(root), now)
                ).lastrowid
                or 0
            )
            for k in range(series):
                _one_series(db, rng, root_id, f"{root}/patient_{k:05d}", k, now, thumbnail)
    finally:
        db.close()
    return Path(path)


def _gradient_png() -> bytes:
    """A 64-pixel grey ramp: every series' thumbnail (the browser decodes one per row shown)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))).save(out, format="PNG")
    return out.getvalue()


def _one_series(
    db: sqlite3.Connection, rng: random.Random, root_id: int, unit: str, k: int, now: str, png: bytes
) -> None:
    execute = db.execute
    unit_id = execute(
        "INSERT INTO units (root_id, path, layout) VALUES (?, ?, 'dicom')", (root_id, encode_path(unit))
    ).lastrowid
    patient = execute(
        "INSERT INTO patients (patient_id, name) VALUES (?, ?)", (f"P{k:05d}", f"Patient^{rng.randrange(10**6):06d}")
    ).lastrowid
    study = execute(
        "INSERT INTO studies (patient_ref, study_uid, study_date) VALUES (?, ?, ?)",
        (patient, f"1.2.826.0.1.{k}", f"20{rng.randrange(10, 26)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"),
    ).lastrowid
    slices = rng.randrange(40, 400)
    series_id = execute(
        "INSERT INTO series (unit_id, study_ref, series_uid, format, modality, series_number, description, slices, "
        "files, image_rows, image_columns, spacing_z, spacing_y, spacing_x, orientation, segmentable, indexed_at) "
        "VALUES (?, ?, ?, 'dicom', 'CT', 1, ?, ?, ?, 512, 512, ?, 0.78, 0.78, 'axial', 1, ?)",
        (
            unit_id,
            study,
            f"1.2.826.0.2.{k}",
            rng.choice(_DESCRIPTIONS),
            slices,
            slices,
            rng.choice((0.7, 1.0, 2.5, 5.0)),
            now,
        ),
    ).lastrowid
    execute("INSERT INTO thumbnails (series_id, png, stamp) VALUES (?, ?, '')", (series_id, png))
    if rng.random() < 0.7:
        estimated = round(rng.uniform(0.5, 0.99), 4)
        dice = round(min(1.0, estimated + rng.uniform(-0.1, 0.05)), 4) if rng.random() < 0.5 else None
        execute(
            "INSERT INTO results (series_id, model_name, model_sha256, dice, estimated_dice, check_scan, seconds, "
            "recorded_at) VALUES (?, 'bundled', ?, ?, ?, ?, ?, ?)",
            (series_id, "0" * 64, dice, estimated, int(estimated < 0.8), round(rng.uniform(5, 40), 1), now),
        )
    if rng.random() < 0.3:
        execute(
            "INSERT INTO reviews (series_id, status, reviewed_at) VALUES (?, ?, ?)",
            (series_id, rng.choice(REVIEW_STATES[1:]), now),
        )
