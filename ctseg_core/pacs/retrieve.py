"""Retrieving a series (or a study) into the managed folder, resuming, and indexing it once complete.

1. Ask the archive which instances the series holds (none: it is not there, perhaps deleted since
   the search).
2. Skip those already in the managed folder, complete or partial; fetch the rest into the series'
   partial folder (the whole series in one request when nothing is there yet).
3. Only when every listed instance is there does the series move into ``studies`` (one rename) and
   get indexed into the cohort database. A retrieve cut off (cancel, network, server error) keeps
   what arrived; running it again fetches only the rest.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ctseg_core.errors import InvalidArgumentError
from ctseg_core.pacs.archive import Archive, Instance
from ctseg_core.pacs.errors import PacsError
from ctseg_core.pacs.store import ManagedStore, is_uid
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled


@dataclass
class RetrieveReport:
    """One series retrieved: where it is, what arrived, what was already there."""

    server: str
    study_uid: str
    series_uid: str
    folder: str
    instances: int
    received: int = 0
    skipped: int = 0
    duplicates: int = 0
    unexpected: int = 0
    bytes: int = 0
    seconds: float = 0.0
    indexed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrieve(
    archive: Archive,
    study_uid: str,
    series_uid: str | None = None,
    store: ManagedStore | None = None,
    db: str | Path | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    index: bool = True,
) -> list[RetrieveReport]:
    """One series, or every series of the study; then index what is complete (``index=False``: not)."""
    store = store or ManagedStore()
    for what, uid in (("study", study_uid), ("series", series_uid or "1")):
        if not is_uid(uid):
            raise InvalidArgumentError(uid, f"not a DICOM {what} UID")
    if series_uid is None:
        series = [match.series_uid for match in archive.find_series(study_uid)]
        if not series:
            raise PacsError(archive.server.display(), "retrieve", f"study {study_uid} is not on the server")
    else:
        series = [series_uid]
    reports = []
    try:
        for uid in series:
            reports.append(retrieve_series(archive, study_uid, uid, store, progress, should_cancel))  # noqa: PERF401 (kept on failure)
    finally:
        if index and reports:
            index_complete(store, db)
            for report in reports:
                report.indexed = True
    return reports


def retrieve_series(
    archive: Archive,
    study_uid: str,
    series_uid: str,
    store: ManagedStore,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> RetrieveReport:
    """Steps 1-3 of the module for one series, without indexing.

    A first retrieve asks only for the series' size (listing every instance costs some archives more
    than the transfer); a resume lists the instances to fetch just the missing ones.
    """
    started = time.perf_counter()
    server = archive.server.display()
    if not is_uid(series_uid):
        raise PacsError(server, "retrieve", f"the archive listed a series whose UID is not a UID: {series_uid[:80]!r}")
    final, partial = store.series_dir(study_uid, series_uid), store.partial_dir(series_uid)
    have = store.present(final) | store.present(partial)
    count = None if have else _series_size(archive, study_uid, series_uid)
    expected = None if count else {uid for uid in archive.instances(study_uid, series_uid) if is_uid(uid)}
    count = count or len(expected or ())
    if not count:
        raise PacsError(server, "retrieve", f"series {series_uid} is not on the server (deleted since the search?)")
    report = RetrieveReport(server, study_uid, series_uid, str(final), count)
    report.skipped = len(have & expected) if expected else 0
    missing = None if expected is None else expected - have
    if missing is None or missing:
        sink = _SeriesSink(store, partial, series_uid, report, count, progress)
        sink.seen |= have
        wanted = None if missing is None or missing == expected else missing
        try:
            archive.fetch(study_uid, series_uid, wanted, sink, should_cancel)
        except PacsError as error:
            kept = len(store.present(final) | store.present(partial))
            problem = f"{_after(error)}; {kept} of {count} instances kept: run again to resume"
            raise PacsError(server, error.operation, problem) from None
        raise_if_cancelled(should_cancel)
        _check_complete(server, count, expected, store.present(final) | store.present(partial))
    if partial.exists():
        store.finish(partial, study_uid, series_uid)
    report.seconds = time.perf_counter() - started
    return report


def _series_size(archive: Archive, study_uid: str, series_uid: str) -> int | None:
    """How many instances the archive says the series holds: 0 if it has no such series, None if it does not say."""
    matches = archive.find_series(study_uid, series_uid=series_uid)
    return matches[0].instance_count if matches else 0


def _after(error: PacsError) -> str:
    """A PacsError's problem without its server and operation."""
    return error.problem.partition(": ")[2] or error.problem


def _check_complete(server: str, count: int, expected: set[str] | None, have: set[str]) -> None:
    """Every listed instance here (or, not listed, as many as the archive said the series holds)."""
    arrived = len(have & expected) if expected is not None else len(have)
    if arrived < count:
        raise PacsError(
            server,
            "retrieve",
            f"the archive sent {arrived} of {count} instances "
            "(the answer was cut off or incomplete); the ones received are kept: run again to resume",
        )


class _SeriesSink:
    """Writes one series' instances into its partial folder; counts duplicates and strays."""

    def __init__(
        self,
        store: ManagedStore,
        folder: Path,
        series_uid: str,
        report: RetrieveReport,
        total: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.store, self.folder, self.series_uid, self.report = store, folder, series_uid, report
        self.total, self.progress = total, progress
        self.seen: set[str] = set()

    def __call__(self, instance: Instance) -> None:
        if instance.series_uid != self.series_uid or not is_uid(instance.sop_uid):
            self.report.unexpected += 1
            return
        if instance.sop_uid in self.seen:
            self.report.duplicates += 1
            return
        self.report.bytes += self.store.write(self.folder, instance.sop_uid, instance.content)
        self.seen.add(instance.sop_uid)
        self.report.received += 1
        if self.progress is not None:
            self.progress(len(self.seen), self.total, "retrieving")


def index_complete(store: ManagedStore, db: str | Path | None = None) -> None:
    """Index the managed folder's complete series into the cohort database (only what changed is read)."""
    from ctseg_core.cohort import CohortDatabase

    store.studies.mkdir(parents=True, exist_ok=True)
    with CohortDatabase(db) as cohort:
        cohort.index([store.studies])
