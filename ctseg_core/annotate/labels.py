"""Saving and loading an edited label in every format, as plain functions of ``(progress, should_cancel)``; no Qt.

They run on worker threads (the GUI's workers) and only compose ``ctseg_core`` writers and readers,
which are atomic: a failed or cancelled save leaves the previous file (or nothing), never half a
file. The label they get is a copy taken on the GUI thread, so editing can go on meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ctseg_core.annotate.recovery import save_recovery
from ctseg_core.errors import CtsegError, GroundTruthProtectedError, IsAFolderError
from ctseg_core.io.ircad_labels import ircad_folder_names, named_as_folders, read_ircad_labels
from ctseg_core.io.label_files import (
    ground_truth_at,
    is_named_label_file,
    label_file_kind,
    read_label_file,
    write_label_file,
)
from ctseg_core.io.label_formats import LabelFormat
from ctseg_core.io.label_table import label_table_path
from ctseg_core.io.masks import refuse_to_replace_ground_truth, validate_label_name
from ctseg_core.io.patient import Patient
from ctseg_core.io.seg import read_source_datasets
from ctseg_core.io.segments import LabelMap
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

__all__ = ["LabelFormat", "LoadedLabel", "SaveTarget", "SavedLabel", "autosave", "load_label", "save_label"]


@dataclass(frozen=True)
class SaveTarget:
    """Where and how to save: a file (NIfTI, SEG, RTSTRUCT, ``.seg.nrrd``) or, for IRCAD, the patient or
    output folder."""

    format: LabelFormat
    path: Path
    name: str
    #: the user has agreed to replace a ground-truth mask folder (see :meth:`ground_truth_replaced`)
    replace_ground_truth: bool = False
    #: the names of the segments of a label of several (IRCAD writes a folder each,
    #: :meth:`folder_names`); empty for a single label
    segments: tuple[str, ...] = ()

    def for_segments(self, names: Sequence[str]) -> SaveTarget:
        """This target for a label of segments ``names`` (a single label keeps none)."""
        kept = tuple(names) if len(names) > 1 else ()
        return self if kept == self.segments else replace(self, segments=kept)

    def folder_names(self) -> list[str]:
        """IRCAD's mask folders, one per segment (:func:`ctseg_core.io.ircad_labels.ircad_folder_names`)."""
        return ircad_folder_names(self.name, self.segments)

    def ground_truth_replaced(self, patient: Patient | None = None) -> str | None:
        """What ground truth this save would replace, said for the user; None if none.

        In every format, a file or folder ctseg did not write that the loader reads as one of
        ``patient``'s masks (:func:`ctseg_core.io.label_files.ground_truth_at`); for IRCAD also
        any mask folder ctseg did not write, or a mask of that name in ``MASKS_DICOM.zip`` beside it,
        for every segment's folder.
        """
        if self.format is LabelFormat.IRCAD:
            for folder in self.folder_names():
                try:
                    refuse_to_replace_ground_truth(self.path, folder)
                except GroundTruthProtectedError as protected:
                    return str(protected)
        if patient is None:
            return None
        for path in self.written_paths:
            found = ground_truth_at(path, patient)
            if found is not None:
                return found
        return None

    @property
    def written_path(self) -> Path:
        """What appears on disk: the file, or ``<folder>/MASKS_DICOM/<name>`` (the first segment's)."""
        if self.format is LabelFormat.IRCAD:
            return self.path / "MASKS_DICOM" / self.name
        return self.path

    @property
    def written_paths(self) -> list[Path]:
        """Everything written: the file, or each segment's IRCAD mask folder."""
        if self.format is LabelFormat.IRCAD:
            return [self.path / "MASKS_DICOM" / folder for folder in self.folder_names()]
        return [self.path]

    def describe(self) -> str:
        """What is written, said for the user (a NIfTI's label description beside it, or every IRCAD
        folder of several segments, included)."""
        if self.format is LabelFormat.NIFTI:
            return f"{self.written_path} (and its label description {label_table_path(self.written_path).name})"
        others = self.folder_names()[1:] if self.format is LabelFormat.IRCAD else []
        return f"{self.written_path} (and {', '.join(others)} beside it)" if others else str(self.written_path)

    def check(self) -> SaveTarget:
        """This target, once it is known to be usable; InvalidLabelNameError or IsAFolderError otherwise.

        An IRCAD label's name, and each segment's folder name, is a folder name
        (:func:`validate_label_name`); a file format's name is only the label inside the file, and
        must not be empty, and its path must not be a folder. Not checked on construction: the save
        dialog builds targets from half-typed names to show where they would go.
        """
        if self.format is LabelFormat.IRCAD:
            for folder in self.folder_names():
                validate_label_name(folder, where=self.path / "MASKS_DICOM")
            return self
        if not self.name.strip():
            validate_label_name(self.name, where=self.path)
        if self.path.is_dir():
            raise IsAFolderError(self.path, f"is a folder, not a file: give a file name ending in {self.format.suffix}")
        return self


@dataclass(frozen=True)
class SavedLabel:
    """A finished save; ``sources`` are the CT headers a DICOM (SEG, RTSTRUCT) save read, for the next one."""

    target: SaveTarget
    sources: list[Dataset] | None


def as_label_map(label: np.ndarray | LabelMap, name: str, fmt: LabelFormat | None = None) -> LabelMap:
    """What a save writes: a bool mask becomes one segment called ``name``; a label map of one segment
    is saved under ``name`` (the name the user gave in Save as); several segments keep theirs in a
    file, and in IRCAD take their folders' names (:func:`ctseg_core.io.ircad_labels.ircad_folder_names`)."""
    if fmt is LabelFormat.IRCAD:
        return named_as_folders(as_label_map(label, name), name)
    if isinstance(label, LabelMap):
        if len(label.segments) != 1 or not name.strip() or label.segments[0].name == name:
            return label
        return LabelMap(label.labels, (replace(label.segments[0], name=name),), label.notes)
    return LabelMap.from_mask(np.asarray(label).astype(bool, copy=False), name)


def save_label(
    label: np.ndarray | LabelMap,
    patient: Patient,
    target: SaveTarget,
    sources: list[Dataset] | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    algorithm_type: str = "MANUAL",
    replace_ground_truth: bool = False,
) -> SavedLabel:
    """Write ``label`` (a bool mask or a label map of named segments) in ``target``'s format: the one
    writer dispatch of the GUI and the batch API (:func:`ctseg_core.io.label_files.write_label_file`).

    Every segment is written with its name, value and colour (as far as the format holds them;
    :func:`as_label_map` says which name a single label takes, and which folder each segment
    takes in IRCAD). DICOM SEG and RTSTRUCT read the CT
    headers first unless given ``sources``; ``algorithm_type`` is "MANUAL" for labels drawn or
    corrected by hand, "AUTOMATIC" for the model's own output. The target's name is checked first
    (:meth:`SaveTarget.check`, each IRCAD folder's too); no save replaces the patient's ground
    truth (in any format, :meth:`SaveTarget.ground_truth_replaced`) unless ``replace_ground_truth``
    (GroundTruthProtectedError otherwise).
    """
    progress = progress or _no_progress
    label_map = as_label_map(label, target.check().name)
    target = target.for_segments(label_map.names).check()  # every IRCAD folder's name too
    label_map = as_label_map(label_map, target.name, target.format)
    replace_ok = replace_ground_truth or target.replace_ground_truth
    protected = None if replace_ok else target.ground_truth_replaced(patient)
    if protected is not None:
        raise GroundTruthProtectedError(None, protected)  # the text names the path
    raise_if_cancelled(should_cancel)
    if target.format.is_dicom and sources is None:
        progress(0, 0, "reading CT headers")
        if target.format is LabelFormat.RTSTRUCT:  # contours follow a tilted stack's slices
            sources = read_source_datasets(patient, purpose="RTSTRUCT", allow_tilt=True)
        else:
            sources = read_source_datasets(patient)
        raise_if_cancelled(should_cancel)
    if target.format.is_folder:
        progress(0, patient.source.shape[0] * len(label_map.segments), "writing mask")
    else:
        progress(0, 0, f"writing {target.format.value}")
    write_label_file(
        label_map,
        patient,
        target.path,
        target.format,
        algorithm_type=algorithm_type,
        source_datasets=sources,
        progress=progress,
        should_cancel=should_cancel,
        replace_ground_truth=replace_ok,
    )
    return SavedLabel(target, sources)


def _no_progress(done: int, total: int, stage: str) -> None:
    """Progress sink for callers that show none."""


@dataclass(frozen=True)
class LoadedLabel:
    """A label read onto the patient's grid: every segment (``labels``), and for single-label editing
    one ``mask`` with the ``name`` it was saved under."""

    mask: np.ndarray
    name: str
    path: Path
    note: str = ""
    labels: LabelMap | None = None
    #: the file names its segments (not a plain volume's values, which edit as one mask)
    named: bool = False

    @property
    def segment_map(self) -> LabelMap | None:
        """The segments an editor opens as its table: two or more named ones (a SEG, an RTSTRUCT, a
        ``.seg.nrrd``, IRCAD folders, a NIfTI, NRRD or MetaImage with its label description); None
        for a single label or a plain volume, which edit as :attr:`mask`."""
        several = self.labels is not None and len(self.labels.segments) > 1
        return self.labels if several and self.named else None


def _file_stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".seg.nrrd", ".nrrd", ".nhdr", ".mha", ".mhd"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _single(labels: LabelMap, path: Path, kind: str | None) -> tuple[np.ndarray, str, str]:
    """The one mask, name and note a single-label editor takes from a label map: a plain volume's
    (NIfTI, NRRD, MetaImage) non-zero voxels under the file's name (the LiTS convention), else the
    first segment, saying which of how many."""
    if kind in ("nifti", "itk"):
        return labels.labels > 0, _file_stem(path), ""
    if not labels.segments:
        raise CtsegError(path, "the label file holds no segment")
    first = labels.segments[0]
    count = len(labels.segments)
    note = f" (segment “{first.name}” of {count})" if count > 1 else ""
    return labels.labels == first.value, first.name, note


def load_label(
    path: str | Path, patient: Patient, progress: ProgressCallback, should_cancel: CancelCheck
) -> LoadedLabel:
    """Read a label in any format ctseg reads: a label file (NIfTI, NRRD, MetaImage, ``.seg.nrrd``,
    DICOM SEG, RTSTRUCT) or IRCAD mask folders (one ``image_K`` folder, a ``MASKS_DICOM`` folder or a
    patient folder holding one), with all its segments."""
    path = Path(path)
    if path.is_dir():
        labels = read_ircad_labels(path, patient, progress=progress, should_cancel=should_cancel)
        kind, named = None, True  # each folder's name
    else:
        kind = label_file_kind(path)
        progress(0, 0, f"reading {kind or 'label'}")
        labels = read_label_file(path, patient)
        named = is_named_label_file(path)
    raise_if_cancelled(should_cancel)
    mask, name, note = _single(labels, path, kind)
    return LoadedLabel(mask, name, path, note, labels, named)


def autosave(label: np.ndarray, patient: Patient, name: str, edits: int) -> Path:
    """Write the crash-recovery copy of a label (``ctseg_core.annotate.recovery``); its sidecar's path."""
    return save_recovery(label, patient, name, edits)
