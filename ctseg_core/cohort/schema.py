"""The cohort database's tables, its version, and the steps that bring an older file up to date.

Paths are stored as bytes (``os.fsencode``), so a file name that is not valid UTF-8 is kept
exactly; text from DICOM headers is stored as text. A *unit* is one patient by the discovery rule
(:mod:`ctseg_core.io.discovery`: what ``ctseg segment`` and the viewer open), or a folder of
DICOM objects that belong to no patient folder (a SEG, a report); the DICOM patients, studies and
series are what the headers say. Results and reviews hang on a series, and survive re-indexing.
"""

from __future__ import annotations

#: ``PRAGMA application_id``: marks the file as ctseg's ("ctsg"), so another program's database is refused.
APPLICATION_ID = 0x63747367
#: ``PRAGMA user_version`` of a database this ctseg writes. Raise it with a step in MIGRATIONS.
SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE roots (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,
    -- the index rules version (indexer.INDEX_RULES) of the last index that ran to its end; 0 while
    -- one runs (or was killed)
    complete INTEGER NOT NULL DEFAULT 0,
    indexed_at TEXT
);
CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path BLOB NOT NULL UNIQUE,
    -- ircad | dicom | nifti | zip: a patient; objects: DICOM objects outside any patient folder
    layout TEXT NOT NULL,
    warnings TEXT NOT NULL DEFAULT ''
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    -- dicom-image | dicom-object | not-dicom | unreadable | unread
    kind TEXT NOT NULL,
    problem TEXT NOT NULL DEFAULT '',
    -- a DICOM image's identity, as the discovery rule asks for it (NULL for anything else)
    patient_id TEXT,
    study_uid TEXT,
    sop_uid TEXT
);
CREATE INDEX files_root ON files(root_id);
CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- a NIfTI patient has no PatientID: it is its own file or folder
    nifti_path BLOB NOT NULL DEFAULT x'',
    UNIQUE (patient_id, name, nifti_path)
);
CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    patient_ref INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    study_uid TEXT NOT NULL,
    study_date TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (patient_ref, study_uid)
);
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
    study_ref INTEGER NOT NULL REFERENCES studies(id),
    -- '' for a NIfTI volume
    series_uid TEXT NOT NULL,
    format TEXT NOT NULL,
    modality TEXT NOT NULL,
    series_number INTEGER,
    description TEXT NOT NULL DEFAULT '',
    image_type TEXT NOT NULL DEFAULT '',
    sop_class_uid TEXT NOT NULL DEFAULT '',
    slices INTEGER NOT NULL,
    files INTEGER NOT NULL,
    image_rows INTEGER,
    image_columns INTEGER,
    spacing_z REAL,
    spacing_y REAL,
    spacing_x REAL,
    -- axial | coronal | sagittal | oblique | ''
    orientation TEXT NOT NULL DEFAULT '',
    segmentable INTEGER NOT NULL,
    not_segmentable TEXT NOT NULL DEFAULT '',
    indexed_at TEXT NOT NULL,
    UNIQUE (unit_id, series_uid)
);
CREATE INDEX series_uid ON series(series_uid);
CREATE INDEX series_study ON series(study_ref);
CREATE TABLE series_files (
    series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    -- a zip member ('' for the file itself)
    member TEXT NOT NULL DEFAULT '',
    frames INTEGER NOT NULL DEFAULT 1,
    sop_uid TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (series_id, file_id, member)
) WITHOUT ROWID;
CREATE INDEX series_files_file ON series_files(file_id);
CREATE TABLE thumbnails (
    series_id INTEGER PRIMARY KEY REFERENCES series(id) ON DELETE CASCADE,
    png BLOB NOT NULL,
    -- the file (and its size and time) it was made from: made again only when that changes
    stamp TEXT NOT NULL
);
CREATE TABLE ground_truths (
    id INTEGER PRIMARY KEY,
    unit_id INTEGER NOT NULL REFERENCES units(id) ON DELETE CASCADE,
    -- ircad-folder | ircad-zip | nifti | seg | rtstruct
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    path BLOB NOT NULL,
    member TEXT NOT NULL DEFAULT '',
    -- SEG and RTSTRUCT: the series they are drawn on; NULL: every image series of the unit
    referenced_series_uid TEXT,
    -- a model's output (ctseg's *_pred, a SEG of AUTOMATIC segments), not a ground truth
    automatic INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ground_truths_unit ON ground_truths(unit_id);
CREATE INDEX ground_truths_series ON ground_truths(referenced_series_uid);
CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    model_name TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    dice REAL,
    jaccard REAL,
    assd_mm REAL,
    hd95_mm REAL,
    volume_ml_pred REAL,
    volume_ml_gt REAL,
    estimated_dice REAL,
    check_scan INTEGER,
    check_reasons TEXT NOT NULL DEFAULT '',
    output_path BLOB,
    seconds REAL,
    error TEXT,
    recorded_at TEXT NOT NULL,
    UNIQUE (series_id, model_sha256)
);
CREATE INDEX results_latest ON results(series_id, recorded_at);
CREATE TABLE reviews (
    series_id INTEGER PRIMARY KEY REFERENCES series(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('unreviewed', 'accepted', 'corrected', 'rejected')),
    note TEXT NOT NULL DEFAULT '',
    reviewed_at TEXT NOT NULL,
    label_path BLOB,
    -- the result the reviewer looked at
    result_id INTEGER REFERENCES results(id) ON DELETE SET NULL
);
"""

#: ``MIGRATIONS[n]``: the statements that bring a version-``n`` database to version ``n + 1``.
#: Each step runs in one transaction with the version bump, so a failed step leaves the file as it was.
MIGRATIONS: dict[int, tuple[str, ...]] = {}
