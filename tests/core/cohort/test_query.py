"""The query layer the cohort browser sits on: sort on any column, filter, flags, reviews, results."""

from __future__ import annotations

from pathlib import Path

import pytest
from cohort_factory import series

from ctseg_core.cohort import SORT_KEYS, CohortDatabase, ModelIdentity, SeriesQuery
from ctseg_core.errors import InvalidArgumentError

OLD, NEW = ModelIdentity("old", "a" * 64), ModelIdentity("new", "b" * 64)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> CohortDatabase:
    """Four patients; results of two models on three of them."""
    folder = tmp_path_factory.mktemp("query")
    for k, name in enumerate(("anna", "bob", "carl", "dora")):
        series(folder / "root" / name, name.upper(), f"1.2.3.{k}", count=2 + k, SeriesDescription=f"desc {name}")
    database = CohortDatabase(folder / "db.sqlite")
    database.index([folder / "root"])
    rows = {r.patient_id: r.series_id for r in database.list_series()}
    database.record_result(rows["ANNA"], {"dice": 0.95, "estimated_dice": 0.93, "check_scan": False}, OLD)
    database.record_result(rows["BOB"], {"dice": 0.40, "estimated_dice": 0.55, "check_scan": True}, OLD)
    database.record_result(rows["CARL"], {"error": "no liver found", "check_scan": None}, OLD)
    database.record_result(rows["ANNA"], {"dice": 0.97, "estimated_dice": 0.96, "check_scan": False}, NEW)
    return database


def ids(rows: list) -> list[str]:
    return [r.patient_id for r in rows]


@pytest.mark.parametrize("key", list(SORT_KEYS))
@pytest.mark.parametrize("descending", [False, True])
def test_every_column_sorts_with_missing_values_last(cohort: CohortDatabase, key: str, descending: bool) -> None:
    rows = cohort.list_series(SeriesQuery(sort=key, descending=descending))
    assert sorted(ids(rows)) == ["ANNA", "BOB", "CARL", "DORA"]
    if key == "estimated_dice":
        assert ids(rows)[-2:] == ["CARL", "DORA"] or ids(rows)[-2:] == ["DORA", "CARL"]


def test_sorting_by_the_latest_result_and_by_one_models(cohort: CohortDatabase) -> None:
    assert ids(cohort.list_series(SeriesQuery(sort="dice")))[:2] == ["BOB", "ANNA"]
    latest = {r.patient_id: r for r in cohort.list_series()}
    assert latest["ANNA"].model_name == "new" and latest["ANNA"].dice == 0.97
    old = {r.patient_id: r for r in cohort.list_series(SeriesQuery(model_sha256=OLD.sha256))}
    assert old["ANNA"].dice == 0.95 and old["CARL"].result_error == "no liver found"
    assert cohort.list_series(SeriesQuery(sort="slices", descending=True))[0].slices == 5


def test_filters_flagged_unreviewed_and_text(cohort: CohortDatabase) -> None:
    assert ids(cohort.list_series(SeriesQuery(flagged_only=True))) == ["BOB"]
    assert ids(cohort.list_series(SeriesQuery(text="desc c"))) == ["CARL"]
    assert ids(cohort.list_series(SeriesQuery(text="DORA"))) == ["DORA"]
    assert cohort.count_series(SeriesQuery(text="%")) == 0  # a wildcard typed is a character searched for
    assert cohort.count_series(SeriesQuery(text="'; DROP TABLE series; --")) == 0
    assert cohort.count_series() == 4
    assert ids(cohort.list_series(SeriesQuery(without_result_of=OLD.sha256))) == ["CARL", "DORA"]
    assert ids(cohort.list_series(SeriesQuery(without_result_of=NEW.sha256))) == ["BOB", "CARL", "DORA"]
    page = cohort.list_series(SeriesQuery(sort="patient_id"), offset=1, limit=2)
    assert ids(page) == ["BOB", "CARL"]


def test_reviews_and_the_next_to_review(cohort: CohortDatabase, tmp_path: Path) -> None:
    rows = {r.patient_id: r for r in cohort.list_series()}
    assert cohort.next_to_review().patient_id == "BOB"  # the lowest estimated Dice first
    cohort.set_review(rows["BOB"].series_id, "corrected", label_path=tmp_path / "bob liver.nii.gz")
    assert cohort.next_to_review().patient_id == "ANNA"
    assert ids(cohort.list_series(SeriesQuery(unreviewed_only=True))) == ["ANNA", "CARL", "DORA"]
    bob = cohort.series(rows["BOB"].series_id)
    assert bob.review == "corrected" and bob.label_path == str(tmp_path / "bob liver.nii.gz") and bob.reviewed_at
    assert ids(cohort.list_series(SeriesQuery(review="corrected"))) == ["BOB"]
    with pytest.raises(InvalidArgumentError, match="review status"):
        cohort.set_review(rows["BOB"].series_id, "approved")
    with pytest.raises(InvalidArgumentError, match="no series"):
        cohort.set_review(10_000, "accepted")
    cohort.set_review(rows["BOB"].series_id, "unreviewed")
    assert cohort.next_to_review().patient_id == "BOB"


def test_a_bad_sort_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sort key"):
        SeriesQuery(sort="dice; DROP TABLE series")


def test_data_version_changes_when_another_connection_writes(cohort: CohortDatabase) -> None:
    other = CohortDatabase(cohort.path)
    before = cohort.data_version()
    other.set_review(other.list_series()[0].series_id, "accepted")
    assert cohort.data_version() != before
    other.set_review(other.list_series()[0].series_id, "unreviewed")
