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
:mod:`~.query` (reading), :mod:`~.results` (results and reviews), :mod:`~.database` (the API);
:mod:`~.scoring` (a result against a SEG or RTSTRUCT found elsewhere), :mod:`~.export` (CSV),
:mod:`~.synthetic` (a made-up cohort of any size, for benchmarks and tests).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: public name → module that defines it (loaded on first use: the parser asks for sort keys cheaply)
_PUBLIC = {
    "DB_ENV": "ctseg_core.cohort.connection",
    "db_path": "ctseg_core.cohort.connection",
    "default_db_path": "ctseg_core.cohort.connection",
    "CohortDatabase": "ctseg_core.cohort.database",
    "IndexReport": "ctseg_core.cohort.indexer",
    "REVIEW_STATES": "ctseg_core.cohort.query",
    "SORT_KEYS": "ctseg_core.cohort.query",
    "CohortSummary": "ctseg_core.cohort.query",
    "GroundTruth": "ctseg_core.cohort.query",
    "SeriesFile": "ctseg_core.cohort.query",
    "SeriesQuery": "ctseg_core.cohort.query",
    "SeriesRow": "ctseg_core.cohort.query",
    "ModelIdentity": "ctseg_core.cohort.results",
}

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use (PEP 562)."""
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'ctseg_core.cohort' has no attribute {name!r}")
