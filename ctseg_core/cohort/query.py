"""Reading the cohort: series with their latest result and review, sorted and filtered by SQLite.

What a table view needs, fast at 10,000 series: :func:`list_series` returns plain rows in the
order asked for (any column, either direction, missing values last), :func:`count_series` how
many match. The filter text, the sort key and every value reach SQL as parameters or through a
fixed table of column expressions, never as text pasted into a statement.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ctseg_core.cohort.connection import decode_path

#: Review states, in the order a reviewer moves through them.
REVIEW_STATES = ("unreviewed", "accepted", "corrected", "rejected")

#: Sort keys → the SQL expressions they order by (ties: the next expressions, then the series id).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "patient": ("p.name COLLATE NOCASE", "p.patient_id COLLATE NOCASE", "st.study_date", "s.series_number"),
    "patient_id": ("p.patient_id COLLATE NOCASE", "st.study_date", "s.series_number"),
    "study_date": ("st.study_date", "p.name COLLATE NOCASE"),
    "description": ("s.description COLLATE NOCASE",),
    "modality": ("s.modality", "p.name COLLATE NOCASE"),
    "slices": ("s.slices",),
    "spacing": ("s.spacing_z", "s.spacing_y"),
    "ground_truth": ("truths",),
    "dice": ("r.dice",),
    "estimated_dice": ("r.estimated_dice",),
    "check": ("r.check_scan",),
    "review": ("review_status", "v.reviewed_at"),
    "path": ("u.path",),
    "recorded": ("r.recorded_at",),
}

_GROUND_TRUTH_OF_SERIES = (
    "((g.unit_id = s.unit_id AND g.referenced_series_uid IS NULL AND s.slices > 0)"
    " OR (s.series_uid != '' AND g.referenced_series_uid = s.series_uid))"
)
_TRUTHS = f"(SELECT count(*) FROM ground_truths g WHERE g.automatic = 0 AND {_GROUND_TRUTH_OF_SERIES}) AS truths"
_FROM = """
FROM series s
JOIN units u ON u.id = s.unit_id
JOIN studies st ON st.id = s.study_ref
JOIN patients p ON p.id = st.patient_ref
LEFT JOIN results r ON r.id = (
    SELECT id FROM results WHERE series_id = s.id AND (:model IS NULL OR model_sha256 = :model)
    ORDER BY recorded_at DESC, id DESC LIMIT 1)
LEFT JOIN reviews v ON v.series_id = s.id
"""
_SELECT = f"""
SELECT s.id, p.patient_id, p.name, st.study_uid, st.study_date, st.description, s.series_uid, s.series_number,
       s.description, s.modality, s.format, u.path, u.layout, s.slices, s.image_rows, s.image_columns,
       s.spacing_z, s.spacing_y, s.spacing_x, s.orientation, s.segmentable, s.not_segmentable, {_TRUTHS},
       r.id, r.model_name, r.model_sha256, r.dice, r.jaccard, r.assd_mm, r.hd95_mm, r.volume_ml_pred,
       r.volume_ml_gt, r.estimated_dice, r.check_scan, r.check_reasons, r.error, r.output_path, r.seconds,
       r.recorded_at, COALESCE(v.status, 'unreviewed') AS review_status, v.note, v.reviewed_at, v.label_path
{_FROM}"""
#: Only what ordering needs: a table view's whole order at 10,000 series in tens of milliseconds.
_SELECT_IDS = f"SELECT s.id, {_TRUTHS}, COALESCE(v.status, 'unreviewed') AS review_status {_FROM}"


@dataclass(frozen=True)
class SeriesQuery:
    """Which series, in which order.

    ``text`` matches patient name or ID, study date, series description and path (any case);
    ``model_sha256`` shows that model's result (default: each series' latest of any model);
    ``without_result_of``: only series that model has no result for (errors do not count).
    """

    text: str = ""
    segmentable_only: bool = True
    flagged_only: bool = False
    unreviewed_only: bool = False
    review: str | None = None
    model_sha256: str | None = None
    without_result_of: str | None = None
    sort: str = "patient"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {self.sort!r}; one of {', '.join(SORT_KEYS)}")
        if self.review is not None and self.review not in REVIEW_STATES:
            raise ValueError(f"unknown review state {self.review!r}; one of {', '.join(REVIEW_STATES)}")


@dataclass(frozen=True)
class SeriesRow:
    """One series as the cohort table shows it: where it is, what it is, its latest result, its review."""

    series_id: int
    patient_id: str
    patient_name: str
    study_uid: str
    study_date: str
    study_description: str
    series_uid: str
    series_number: int | None
    series_description: str
    modality: str
    format: str
    #: the patient path to open (``load_patient(path, series_uid=…)``; NIfTI: no UID)
    path: str
    layout: str
    slices: int
    rows: int | None
    columns: int | None
    spacing_mm: tuple[float, float, float] | None
    orientation: str
    segmentable: bool
    not_segmentable: str
    ground_truths: int
    result_id: int | None
    model_name: str | None
    model_sha256: str | None
    dice: float | None
    jaccard: float | None
    assd_mm: float | None
    hd95_mm: float | None
    volume_ml_pred: float | None
    volume_ml_gt: float | None
    estimated_dice: float | None
    check_scan: bool | None
    check_reasons: str | None
    result_error: str | None
    output_path: str | None
    seconds: float | None
    recorded_at: str | None
    review: str
    review_note: str
    reviewed_at: str | None
    label_path: str | None

    @property
    def load_series_uid(self) -> str | None:
        """What to pass as ``series_uid`` to the loader (None for a NIfTI volume)."""
        return self.series_uid or None


@dataclass(frozen=True)
class GroundTruth:
    """A mask found for a series: IRCAD mask folder or zip, NIfTI label, DICOM SEG or RTSTRUCT."""

    kind: str
    name: str
    path: str
    member: str = ""
    automatic: bool = False


@dataclass(frozen=True)
class SeriesFile:
    """A file (or zip member) a series consists of, and how many frames it holds."""

    path: str
    member: str
    frames: int
    sop_uid: str


@dataclass
class CohortSummary:
    """Counts by kind, for ``ctseg index`` and a status line."""

    patients: int = 0
    dicom_patients: int = 0
    studies: int = 0
    series: int = 0
    offered: Counter[str] = field(default_factory=Counter)
    not_offered: Counter[str] = field(default_factory=Counter)
    ground_truths: Counter[str] = field(default_factory=Counter)
    results: int = 0
    reviews: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``asdict`` would turn each Counter's items into keys)."""
        return {name: dict(value) if isinstance(value, Counter) else value for name, value in vars(self).items()}


#: The default query: every series offered to the model, by patient.
ALL_SEGMENTABLE = SeriesQuery()


def _where(query: SeriesQuery) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {"model": query.model_sha256}
    if query.segmentable_only:
        clauses.append("s.segmentable = 1")
    if query.flagged_only:
        clauses.append("r.check_scan = 1")
    if query.unreviewed_only:
        clauses.append("(v.status IS NULL OR v.status = 'unreviewed')")
    if query.review is not None:
        clauses.append("COALESCE(v.status, 'unreviewed') = :review")
        params["review"] = query.review
    if query.without_result_of is not None:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM results x WHERE x.series_id = s.id AND x.model_sha256 = :without "
            "AND x.error IS NULL)"
        )
        params["without"] = query.without_result_of
    if query.text.strip():
        fields = ("p.name", "p.patient_id", "st.study_date", "s.description", "CAST(u.path AS TEXT)")
        clauses.append("(" + " OR ".join(f"{f} LIKE :text ESCAPE '\\'" for f in fields) + ")")
        escaped = query.text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["text"] = f"%{escaped}%"
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _order(query: SeriesQuery) -> str:
    direction = "DESC" if query.descending else "ASC"
    terms = [f"({expression}) IS NULL, {expression} {direction}" for expression in SORT_KEYS[query.sort]]
    return " ORDER BY " + ", ".join(terms) + f", s.id {direction}"


def list_series(
    db: sqlite3.Connection, query: SeriesQuery = ALL_SEGMENTABLE, offset: int = 0, limit: int | None = None
) -> list[SeriesRow]:
    """The series matching ``query``, in its order (``offset``/``limit``: one page of them)."""
    where, params = _where(query)
    params.update(limit=-1 if limit is None else int(limit), offset=int(offset))
    rows = db.execute(_SELECT + where + _order(query) + " LIMIT :limit OFFSET :offset", params)
    return [_row(values) for values in rows]


def series_ids(db: sqlite3.Connection, query: SeriesQuery = ALL_SEGMENTABLE) -> list[int]:
    """The ids of the series matching ``query``, in its order: what a view holds to page through rows."""
    where, params = _where(query)
    return [row[0] for row in db.execute(_SELECT_IDS + where + _order(query), params)]


def rows_by_id(db: sqlite3.Connection, ids: list[int], model_sha256: str | None = None) -> dict[int, SeriesRow]:
    """The rows of the given series (``model_sha256``: that model's result, else each one's latest)."""
    found: dict[int, SeriesRow] = {}
    for start in range(0, len(ids), 500):  # SQLite's limit on parameters is 999 in older builds
        chunk = ids[start : start + 500]
        params = {"model": model_sha256, **{f"i{k}": value for k, value in enumerate(chunk)}}
        marks = ", ".join(f":i{k}" for k in range(len(chunk)))
        for values in db.execute(f"{_SELECT} WHERE s.id IN ({marks})", params):
            found[values[0]] = _row(values)
    return found


def count_series(db: sqlite3.Connection, query: SeriesQuery = ALL_SEGMENTABLE) -> int:
    where, params = _where(query)
    return int(db.execute(f"SELECT count(*) FROM ({_SELECT}{where})", params).fetchone()[0])


def series_row(db: sqlite3.Connection, series_id: int) -> SeriesRow | None:
    rows = db.execute(_SELECT + " WHERE s.id = :id", {"id": series_id, "model": None}).fetchall()
    return _row(rows[0]) if rows else None


def next_to_review(db: sqlite3.Connection, query: SeriesQuery = ALL_SEGMENTABLE) -> SeriesRow | None:
    """The unreviewed series (among those ``query`` matches) with the lowest estimated Dice; series
    without a result come after those with one."""
    from dataclasses import replace

    found = list_series(db, replace(query, unreviewed_only=True, sort="estimated_dice", descending=False), limit=1)
    return found[0] if found else None


def _row(values: tuple[Any, ...]) -> SeriesRow:
    v = list(values)
    spacing = (v[16], v[17], v[18])
    return SeriesRow(
        series_id=v[0],
        patient_id=v[1],
        patient_name=v[2],
        study_uid=v[3],
        study_date=v[4],
        study_description=v[5],
        series_uid=v[6],
        series_number=v[7],
        series_description=v[8],
        modality=v[9],
        format=v[10],
        path=decode_path(v[11]),
        layout=v[12],
        slices=v[13],
        rows=v[14],
        columns=v[15],
        spacing_mm=spacing if None not in spacing else None,
        orientation=v[19],
        segmentable=bool(v[20]),
        not_segmentable=v[21],
        ground_truths=v[22],
        result_id=v[23],
        model_name=v[24],
        model_sha256=v[25],
        dice=v[26],
        jaccard=v[27],
        assd_mm=v[28],
        hd95_mm=v[29],
        volume_ml_pred=v[30],
        volume_ml_gt=v[31],
        estimated_dice=v[32],
        check_scan=None if v[33] is None else bool(v[33]),
        check_reasons=v[34],
        result_error=v[35],
        output_path=decode_path(v[36]) or None,
        seconds=v[37],
        recorded_at=v[38],
        review=v[39],
        review_note=v[40] or "",
        reviewed_at=v[41],
        label_path=decode_path(v[42]) or None,
    )


def ground_truths(db: sqlite3.Connection, series_ids: list[int] | None = None) -> dict[int, list[GroundTruth]]:
    """The ground truths of the given series (all series when None), by series id."""
    rows = db.execute(
        "SELECT s.id, g.kind, g.name, g.path, g.member, g.automatic FROM series s "
        f"JOIN ground_truths g ON {_GROUND_TRUTH_OF_SERIES} ORDER BY s.id, g.automatic, g.kind, g.name"
    )
    wanted = None if series_ids is None else set(series_ids)
    found: dict[int, list[GroundTruth]] = {}
    for series_id, kind, name, path, member, automatic in rows:
        if wanted is None or series_id in wanted:
            found.setdefault(series_id, []).append(GroundTruth(kind, name, decode_path(path), member, bool(automatic)))
    return found


def series_files(db: sqlite3.Connection, series_id: int) -> list[SeriesFile]:
    rows = db.execute(
        "SELECT f.path, m.member, m.frames, m.sop_uid FROM series_files m JOIN files f ON f.id = m.file_id "
        "WHERE m.series_id = ? ORDER BY f.path, m.member",
        (series_id,),
    )
    return [SeriesFile(decode_path(path), member, frames, sop) for path, member, frames, sop in rows]


def thumbnail(db: sqlite3.Connection, series_id: int) -> bytes | None:
    row = db.execute("SELECT png FROM thumbnails WHERE series_id = ?", (series_id,)).fetchone()
    return bytes(row[0]) if row is not None else None


def cohort_summary(db: sqlite3.Connection) -> CohortSummary:
    """Counts of patients, studies, series by kind, ground truths, results and reviews."""
    summary = CohortSummary()
    summary.patients = db.execute("SELECT count(*) FROM units WHERE layout != 'objects'").fetchone()[0]
    summary.dicom_patients = db.execute("SELECT count(*) FROM patients WHERE nifti_path = x''").fetchone()[0]
    summary.studies = db.execute("SELECT count(*) FROM studies").fetchone()[0]
    for fmt, modality, reason, count in db.execute(
        "SELECT format, modality, not_segmentable, count(*) FROM series GROUP BY 1, 2, 3"
    ):
        summary.series += count
        if reason:
            summary.not_offered[reason] += count
        else:
            summary.offered["NIfTI CT" if fmt == "nifti" else modality] += count
    summary.ground_truths.update(
        dict(db.execute("SELECT kind, count(*) FROM ground_truths WHERE automatic = 0 GROUP BY kind").fetchall())
    )
    summary.results = db.execute("SELECT count(*) FROM results").fetchone()[0]
    summary.reviews.update(dict(db.execute("SELECT status, count(*) FROM reviews GROUP BY status").fetchall()))
    return summary


def row_as_json(row: SeriesRow, truths: list[GroundTruth]) -> dict[str, Any]:
    """One series for ``ctseg cohort --json``: what and where it is, its ground truths, latest result and review."""
    data = asdict(row)
    data["spacing_mm"] = list(row.spacing_mm) if row.spacing_mm else None
    data["ground_truths"] = [asdict(truth) for truth in truths]
    return data
