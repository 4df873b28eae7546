"""Reading one unit for the index: its layout, the header of each of its files, its series, its
ground truths and thumbnails. Nothing here writes to the database.

A unit is a patient by the discovery rule (its CT and masks found by :mod:`ctseg_core.io.layout`,
exactly as the loader finds them), or a folder of DICOM objects outside every patient folder.
Headers are read once per run: :class:`HeaderReader` remembers what the discovery rule already
read, and answers for unchanged files from the database without opening them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ctseg_core.cohort.headers import InstanceRecord, read_instance
from ctseg_core.cohort.series_info import SeriesFacts, dicom_series, nifti_series
from ctseg_core.cohort.thumbnails import dicom_thumbnail, nifti_thumbnail
from ctseg_core.cohort.walk import FileStat
from ctseg_core.errors import CtsegError, UnreadableSlice
from ctseg_core.io.dicom import summarise
from ctseg_core.io.file_kinds import MODEL_OUTPUT_SUFFIX, DicomIdentity, is_ircad_patient, is_nifti
from ctseg_core.io.layout import patient_layout
from ctseg_core.io.masks import DicomMaskSource, NiftiMaskSource
from ctseg_core.io.sources import DicomSource, FolderSource, ZipSource

#: Kinds of file the ``files`` table records.
IMAGE, OBJECT, NOT_DICOM, UNREADABLE, UNREAD = "dicom-image", "dicom-object", "not-dicom", "unreadable", "unread"


@dataclass(frozen=True)
class KnownFile:
    """A file as the database last saw it."""

    file_id: int
    stat: FileStat
    kind: str
    identity: DicomIdentity | None


@dataclass(frozen=True)
class FileRow:
    """A file as it will be recorded: its stat, what it is, and (a DICOM image) its identity."""

    path: str
    stat: FileStat
    kind: str
    problem: str = ""
    identity: DicomIdentity | None = None


@dataclass(frozen=True)
class GroundTruthFacts:
    kind: str  # ircad-folder | ircad-zip | nifti | seg | rtstruct
    name: str
    path: str
    member: str = ""
    referenced_series_uid: str | None = None
    automatic: bool = False


@dataclass
class UnitContent:
    """Everything the index writes for one unit."""

    path: Path
    layout: str  # ircad | dicom | nifti | zip | objects
    series: list[SeriesFacts] = field(default_factory=list)
    ground_truths: list[GroundTruthFacts] = field(default_factory=list)
    #: the archive the entries are members of (None: entries are files)
    archive: Path | None = None
    #: the NIfTI CT of a NIfTI patient
    nifti: Path | None = None
    #: new thumbnails by series UID: (PNG, stamp)
    thumbnails: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class HeaderReader:
    """Each file's header read at most once a run; unchanged files answered from the database."""

    def __init__(self, known: dict[str, KnownFile], current: dict[str, FileStat]) -> None:
        self.known = known
        self.current = current
        self.records: dict[str, InstanceRecord | None] = {}
        self.problems: dict[str, str] = {}
        #: the first image read of each series: what its other images share (see read_instance)
        self.series_seen: dict[str, InstanceRecord] = {}
        self.read_count = 0

    def unchanged(self, path: str) -> KnownFile | None:
        """The database's record of a file that has not changed since, else None."""
        known = self.known.get(path)
        return known if known is not None and known.stat == self.current.get(path) else None

    def identity(self, path: Path) -> DicomIdentity | None:
        """For the discovery rule: what a file is as a DICOM image, read only when not known."""
        known = self.unchanged(str(path))
        if known is not None and known.kind != UNREAD:
            return known.identity
        record = self.record(str(path))
        return record.identity if record is not None else None

    def record(self, path: str) -> InstanceRecord | None:
        """The record of a file (None: no DICOM, or unreadable: see ``problems``)."""
        if path not in self.records:
            self.read_count += 1
            try:
                self.records[path] = read_instance(path, series_seen=self.series_seen)
            except UnreadableSlice as error:
                self.records[path] = None
                self.problems[path] = str(error)
        return self.records[path]

    def member(self, source: DicomSource, entry: str, problems: list[str]) -> InstanceRecord | None:
        """The record of an entry of a source that is no plain file (a zip member); problems appended."""
        self.read_count += 1
        try:
            return read_instance(entry, source, self.series_seen)
        except UnreadableSlice as error:
            problems.append(str(error))
            return None

    def file_row(self, path: str, stat: FileStat | None = None) -> FileRow:
        """How a file is recorded: what this run read of it, else what the database knew, else unread."""
        stat = stat or self.current.get(path) or _stat(path)
        if path in self.records:
            record = self.records[path]
            if path in self.problems:
                return FileRow(path, stat, UNREADABLE, self.problems[path])
            if record is None:
                return FileRow(path, stat, NOT_DICOM)
            return FileRow(path, stat, IMAGE if record.is_image else OBJECT, identity=record.identity)
        known = self.unchanged(path)
        if known is not None:
            return FileRow(path, stat, known.kind, identity=known.identity)
        return FileRow(path, stat, UNREAD)


def _stat(path: str) -> FileStat:
    """A file's stat now; one that vanished meanwhile gets a stat no file has, so it counts as changed next time."""
    try:
        info = os.stat(path)
    except OSError:
        return FileStat(-1, -1)
    return FileStat(info.st_size, info.st_mtime_ns)


def read_patient_unit(
    unit: Path, reader: HeaderReader, stamps: dict[str, str], tick: Callable[[], None]
) -> UnitContent:
    """A patient's series, ground truths and new thumbnails; a unit that cannot be read gets a warning."""
    try:
        layout = patient_layout(unit)
    except CtsegError as error:
        return UnitContent(unit, "dicom", warnings=[str(error)])
    if isinstance(layout.ct, Path):
        content = UnitContent(unit, "nifti", [nifti_series(layout.ct, unit)], nifti=layout.ct)
        tick()
        _nifti_thumbnail(content, layout.ct, stamps)
    else:
        kind = "ircad" if is_ircad_patient(unit) else "zip" if unit.is_file() else "dicom"
        archive = layout.ct.archive if isinstance(layout.ct, ZipSource) else None
        content = UnitContent(unit, kind, archive=archive, warnings=list(layout.warnings))
        _read_dicom(content, layout.ct, reader, tick)
        _dicom_thumbnails(content, layout.ct, stamps, reader)
    content.ground_truths += _mask_ground_truths(layout.masks)
    return content


def read_objects_unit(folder: Path, paths: Iterable[str], reader: HeaderReader) -> UnitContent | None:
    """A folder of DICOM objects outside every patient folder (a SEG, a report), or None when it holds none."""
    records = [record for path in paths if (record := reader.record(path)) is not None]
    if not records:
        return None
    content = UnitContent(folder, "objects", dicom_series(records))
    content.series = [_not_a_patient(facts) for facts in content.series]
    content.ground_truths = _object_ground_truths(records, None)
    return content


def _not_a_patient(facts: SeriesFacts) -> SeriesFacts:
    """Images outside every patient folder (seen past the discovery rule's sniffing) are listed, not offered."""
    if facts.not_segmentable:
        return facts
    from dataclasses import replace

    return replace(facts, not_segmentable="outside every patient folder found by the discovery rule")


def _read_dicom(content: UnitContent, source: DicomSource, reader: HeaderReader, tick: Callable[[], None]) -> None:
    """Every entry's record (file entries through the reader's memory), then the series and the SEG/RTSTRUCT."""
    records: list[InstanceRecord] = []
    problems: list[str] = []
    try:
        entries = [e for e in source.entries() if not is_nifti(Path(e))]
    except CtsegError as error:
        content.warnings.append(str(error))
        return
    for entry in entries:
        if source.is_file_backed():
            record = reader.record(entry)
            if entry in reader.problems:
                problems.append(reader.problems[entry])
        else:
            record = reader.member(source, entry, problems)
        if record is not None:
            records.append(record)
        tick()
    content.series = dicom_series(records)
    content.ground_truths += _object_ground_truths(records, content.archive)
    content.warnings += summarise([f"skipped unreadable file {p}" for p in problems], "unreadable files skipped")
    content.warnings += summarise(list(source.skipped), "entries not read")


def _dicom_thumbnails(content: UnitContent, source: DicomSource, stamps: dict[str, str], reader: HeaderReader) -> None:
    """A thumbnail for each image series whose middle image changed since the last one was made."""
    for facts in content.series:
        middle = facts.middle_member()
        if middle is None:
            continue
        stamp = _stamp(content.archive or Path(middle.entry), reader, middle.entry if content.archive else "")
        if stamps.get(facts.series_uid) == stamp:
            continue
        try:
            png = dicom_thumbnail(source, middle.entry, facts.modality)
        except (CtsegError, ValueError, OSError) as error:
            content.warnings.append(f"no thumbnail for series {facts.series_uid}: {error}")
            continue
        if png is not None:
            content.thumbnails[facts.series_uid] = (png, stamp)


def _nifti_thumbnail(content: UnitContent, ct: Path, stamps: dict[str, str]) -> None:
    stamp = _stamp(ct, None, "")
    if stamps.get("") == stamp or content.series[0].not_segmentable:
        return
    try:
        png = nifti_thumbnail(ct)
    except Exception as error:  # nibabel and numpy raise many types for a bad file
        content.warnings.append(f"no thumbnail for {ct}: {error.__class__.__name__}: {error}")
        return
    if png is not None:
        content.thumbnails[""] = (png, stamp)


def _stamp(path: Path, reader: HeaderReader | None, member: str) -> str:
    """Which file (and member) a thumbnail was made from, with its size and time."""
    stat = (reader.current.get(str(path)) if reader is not None else None) or _stat(str(path))
    return f"{os.fsencode(path).hex()}!{member}:{stat.size}:{stat.mtime_ns}"


def _mask_ground_truths(masks: dict[str, object]) -> list[GroundTruthFacts]:
    """The layout's masks: IRCAD mask folders (or their zip), NIfTI labels."""
    found = []
    for name, source in masks.items():
        automatic = name.endswith(MODEL_OUTPUT_SUFFIX)
        if isinstance(source, NiftiMaskSource):
            found.append(GroundTruthFacts("nifti", name, str(source.path), automatic=automatic))
        elif isinstance(source, DicomMaskSource) and isinstance(source.source, ZipSource):
            archive = source.source
            found.append(GroundTruthFacts("ircad-zip", name, str(archive.archive), archive.prefix, automatic=automatic))
        elif isinstance(source, DicomMaskSource) and isinstance(source.source, FolderSource):
            found.append(GroundTruthFacts("ircad-folder", name, str(source.source.root), automatic=automatic))
    return found


def _object_ground_truths(records: list[InstanceRecord], archive: Path | None) -> list[GroundTruthFacts]:
    """SEG and RTSTRUCT objects, one ground truth per series they reference."""
    found = []
    for record in records:
        if record.modality not in ("SEG", "RTSTRUCT"):
            continue
        path, member = (str(archive), record.entry) if archive is not None else (record.entry, "")
        name = ", ".join(label for label in record.labels if label) or record.modality
        found += [
            GroundTruthFacts(record.modality.lower(), name, path, member, uid, record.automatic)
            for uid in record.referenced_series
        ]
    return found
