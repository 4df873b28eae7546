"""The study database: every patient, study and series under the folders the user indexed, the
ground truth found for each series, the model's results and the reviewer's verdicts.

Qt-free; the command line (``ctseg index``, ``ctseg cohort``, ``ctseg segment --cohort``) and the
viewer's cohort browser sit on the same API::

    from ctseg_core.cohort import CohortDatabase, SeriesQuery
    with CohortDatabase() as cohort:                       # --db / $CTSEG_DB / the user data folder
        cohort.index(["/data/ircad"])                      # headers only; a re-index only stats files
        worst = cohort.list_series(SeriesQuery(sort="estimated_dice"))
        cohort.set_review(worst[0].series_id, "rejected", note="liver cut off")

Modules: :mod:`~ctseg_core.cohort.schema` (tables, version, migrations), :mod:`~.connection`
(opening safely), :mod:`~.indexer` (the index run) over :mod:`~.walk`, :mod:`~.unit_reader`,
:mod:`~.headers`, :mod:`~.series_info`, :mod:`~.thumbnails` and :mod:`~.index_store`;
:mod:`~.query` (reading), :mod:`~.results` (results and reviews), :mod:`~.database` (the API).
"""

from __future__ import annotations

from ctseg_core.cohort.connection import DB_ENV, db_path, default_db_path
from ctseg_core.cohort.database import CohortDatabase
from ctseg_core.cohort.indexer import IndexReport
from ctseg_core.cohort.query import (
    REVIEW_STATES,
    SORT_KEYS,
    CohortSummary,
    GroundTruth,
    SeriesFile,
    SeriesQuery,
    SeriesRow,
)
from ctseg_core.cohort.results import ModelIdentity

__all__ = [
    "DB_ENV",
    "REVIEW_STATES",
    "SORT_KEYS",
    "CohortDatabase",
    "CohortSummary",
    "GroundTruth",
    "IndexReport",
    "ModelIdentity",
    "SeriesFile",
    "SeriesQuery",
    "SeriesRow",
    "db_path",
    "default_db_path",
]
