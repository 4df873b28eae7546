"""Indexing roots: which patients are there, what series they hold, what ground truth goes with them.

1. Every file under the root is stat'ed. An unchanged tree whose last index finished is done here:
   a second index of it opens no file.
2. The discovery rule (:mod:`ctseg_core.io.discovery`) finds the patients, asking the database
   what an unchanged file is instead of opening it.
3. Each patient that is new, or holds a file that changed, came or went, is read (headers only,
   one thumbnail a series) and written in its own transaction; the others are left as they are.
4. DICOM objects outside every patient folder (a folder of SEG files, a report) are read too:
   a SEG or RTSTRUCT is the ground truth of the series it references, wherever that series is.
5. One last transaction drops patients no longer found and files no longer there, and marks the
   root done. A killed run leaves the root marked unfinished; the next run redoes only what is
   not yet up to date.

Files are only ever read: never modified, copied or moved. No link out of the root is followed.
"""

from __future__ import annotations

import bisect
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ctseg_core.cohort import index_store
from ctseg_core.cohort.unit_reader import HeaderReader, KnownFile, UnitContent, read_objects_unit, read_patient_unit
from ctseg_core.cohort.walk import Listing, list_files
from ctseg_core.errors import InvalidArgumentError, PathMissingError
from ctseg_core.io.discovery import find_patients
from ctseg_core.io.file_kinds import IRCAD_MASK_NAMES, NIFTI_LABEL_FOLDERS, ircad_patient_of, is_nifti
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

#: The version of what the index derives from the files (the discovery rule, series facts, ground
#: truths). A root last indexed under another version is read again in full, even if no file changed.
INDEX_RULES = 1


@dataclass
class IndexReport:
    """What one index run found and did."""

    roots: list[str] = field(default_factory=list)
    files: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    #: files whose headers were read this time (0 for an unchanged tree)
    read: int = 0
    #: patients (and folders of DICOM objects) written this time
    units_written: int = 0
    units_removed: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Changes:
    added: list[str]
    changed: list[str]
    removed: list[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def dirty_folders(self, root: Path) -> set[str]:
        """Every folder (up to the root) that holds, at any depth, a file that came, went or changed."""
        dirty: set[str] = set()
        top = str(root)
        for path in (*self.added, *self.changed, *self.removed):
            folder = os.path.dirname(path)
            while folder not in dirty:
                dirty.add(folder)
                if folder == top or len(folder) <= len(top):
                    break
                folder = os.path.dirname(folder)
        return dirty


def index_roots(
    db: sqlite3.Connection,
    roots: Sequence[str | Path],
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> IndexReport:
    """Index each root into the database (see the module); every root is checked before any is read."""
    started = time.perf_counter()
    report = IndexReport()
    normalised = [index_root_path(root) for root in roots]
    for root in normalised:
        report.roots.append(str(root))
        _index_root(db, root, report, progress, should_cancel)
    report.seconds = time.perf_counter() - started
    return report


def index_root_path(root: str | Path) -> Path:
    """The path a root is indexed under: absolute; part of an IRCAD patient means that patient."""
    path = Path(os.path.abspath(Path(root).expanduser()))
    if not path.exists():
        raise PathMissingError(path, "path does not exist")
    owner = ircad_patient_of(path)
    if owner is not None:
        return owner
    if path.is_file() and not (is_nifti(path) or path.suffix.lower() == ".zip"):
        raise InvalidArgumentError(path, "is a file: give the folder that holds it (or a NIfTI or zip file)")
    return path


def _index_root(
    db: sqlite3.Connection,
    root: Path,
    report: IndexReport,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> None:
    listing = list_files(root, progress, should_cancel)
    known = index_store.known_files(db, root)
    changes = _compare(listing, known)
    report.files += len(listing.files)
    report.warnings += listing.skipped
    root_id, rules = index_store.root_id(db, root)
    if not changes and rules == INDEX_RULES:
        return
    report.added, report.changed, report.removed = (
        report.added + len(changes.added),
        report.changed + len(changes.changed),
        report.removed + len(changes.removed),
    )
    index_store.mark_started(db, root)
    reader = HeaderReader(known, listing.files)
    run = _RootRun(db, root, root_id, listing, reader, changes, report)
    run.rebuild = rules not in (0, INDEX_RULES)  # indexed under other rules: every patient again
    run.index(progress, should_cancel)
    report.read += reader.read_count


def _compare(listing: Listing, known: dict[str, KnownFile]) -> _Changes:
    current = listing.files
    added = [p for p in current if p not in known]
    changed = [p for p, stat in current.items() if p in known and known[p].stat != stat]
    removed = [p for p in known if p not in current]
    return _Changes(added, changed, removed)


class _RootRun:
    """One root's index after the walk: find patients, write those that need it, finish."""

    def __init__(
        self,
        db: sqlite3.Connection,
        root: Path,
        root_id: int,
        listing: Listing,
        reader: HeaderReader,
        changes: _Changes,
        report: IndexReport,
    ) -> None:
        self.db, self.root, self.root_id = db, root, root_id
        self.listing, self.reader, self.changes, self.report = listing, reader, changes, report
        self.paths = sorted(listing.files)
        self.written: set[str] = set()
        self.rebuild = False

    def index(self, progress: ProgressCallback | None, should_cancel: CancelCheck | None) -> None:
        if progress is not None:
            progress(0, 0, "finding patients")
        discovery = find_patients(self.root, identity=self.reader.identity)
        self.report.warnings += [f"{path}: {why}" for path, why in discovery.skipped]
        known_units = index_store.known_units(self.db, self.root)
        patients = {str(p): p for p in discovery.patients}
        stale = [unit for path, (unit, layout) in known_units.items() if path not in patients and layout != "objects"]
        index_store.set_stale_units(self.db, stale)
        dirty = self.changes.dirty_folders(self.root)
        todo = [p for key, p in patients.items() if self.rebuild or key not in known_units or _scope(p) in dirty]
        self._write_patients(todo, progress, should_cancel)
        objects = self._write_objects(set(patients), known_units, dirty, should_cancel)
        gone = [unit for path, (unit, _) in known_units.items() if path not in patients and path not in objects]
        self.report.units_removed += len(gone)
        rest = [self.reader.file_row(p) for p in self.paths if p not in self.written]
        index_store.finish_root(self.db, self.root_id, self.changes.removed, rest, gone, INDEX_RULES)

    def _write_patients(
        self, todo: list[Path], progress: ProgressCallback | None, should_cancel: CancelCheck | None
    ) -> None:
        """Read and write each patient that needs it, in its own transaction."""
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            raise_if_cancelled(should_cancel)
            if progress is not None and (done % 16 == 0):
                progress(done, 0, "reading headers")

        for unit in todo:
            content = read_patient_unit(unit, self.reader, index_store.thumbnail_stamps(self.db, unit), tick)
            self._write(content, self._own_files(unit, content))
        if progress is not None:
            progress(done, done, "reading headers")

    def _write(self, content: UnitContent, own: list[str]) -> None:
        rows = [self.reader.file_row(path) for path in own]
        index_store.write_unit(self.db, self.root_id, content, rows)
        self.written.update(own)
        self.report.units_written += 1
        self.report.warnings += [f"{content.path}: {warning}" for warning in content.warnings]

    def _own_files(self, unit: Path, content: UnitContent) -> list[str]:
        """The files a patient's record depends on: all below its folder, or its file and its labels."""
        if unit.is_dir():
            own = self._below(str(unit))
        else:
            own = [str(unit)] + [g.path for g in content.ground_truths if g.kind == "nifti"]
        extra = [m.entry for s in content.series for m in s.members if content.archive is None]
        return list(dict.fromkeys([*own, *extra]))

    def _below(self, folder: str) -> list[str]:
        """The listed files below a folder (the sorted listing's range)."""
        start = bisect.bisect_left(self.paths, folder + os.sep)
        end = bisect.bisect_left(self.paths, folder + chr(ord(os.sep) + 1))
        return self.paths[start:end]

    def _write_objects(
        self,
        patients: set[str],
        known_units: dict[str, tuple[int, str]],
        dirty: set[str],
        should_cancel: CancelCheck | None,
    ) -> set[str]:
        """Folders of DICOM objects outside every patient folder; the set of those that exist now."""
        loose: dict[str, list[str]] = defaultdict(list)
        for path in self._outside(patients):
            loose[os.path.dirname(path)].append(path)
        existing = set()
        for folder, paths in sorted(loose.items()):
            raise_if_cancelled(should_cancel)
            if folder in known_units and folder not in dirty:
                existing.add(folder)
                continue
            if not any(p in self.reader.records or self._maybe_dicom(p) for p in paths):
                continue
            content = read_objects_unit(Path(folder), paths, self.reader)
            if content is not None:
                self._write(content, paths)
                existing.add(folder)
        return existing

    def _outside(self, patients: set[str]) -> list[str]:
        """Listed files in no patient folder and no mask folder, that could be DICOM."""
        inside = sorted(
            (bisect.bisect_left(self.paths, p + os.sep), bisect.bisect_left(self.paths, p + chr(ord(os.sep) + 1)))
            for p in patients
            if os.path.isdir(p)
        )
        found, start = [], 0
        for first, end in [*inside, (len(self.paths), len(self.paths))]:
            found += [path for path in self.paths[start:first] if self._could_be_loose(path)]
            start = max(start, end)
        return found

    def _could_be_loose(self, path: str) -> bool:
        """Not a patient's own file, not NIfTI or zip, not in a mask folder."""
        if path in self.written or is_nifti(Path(path)) or path.lower().endswith(".zip"):
            return False
        parts = Path(path).relative_to(self.root).parts if path != str(self.root) else ()
        return not any(part in IRCAD_MASK_NAMES or part in NIFTI_LABEL_FOLDERS for part in parts[:-1])

    def _maybe_dicom(self, path: str) -> bool:
        """Whether a file could hold DICOM: not known as something else, unchanged."""
        known = self.reader.unchanged(path)
        return known is None or known.kind not in ("not-dicom",)


def _scope(unit: Path) -> str:
    """The folder whose changes concern a patient: its own, or (a file) the folder holding it."""
    return str(unit) if unit.is_dir() else str(unit.parent)
