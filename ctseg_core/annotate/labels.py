"""Saving and loading an edited label in every format, as plain functions of ``(progress, should_cancel)``; no Qt.

They run on worker threads (the GUI's workers) and only compose ``ctseg_core`` writers and readers,
which are atomic: a failed or cancelled save leaves the previous file (or nothing), never half a
file. The label they get is a copy taken on the GUI thread, so editing can go on meanwhile.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ctseg_core.annotate.recovery import save_recovery
from ctseg_core.errors import CtsegError, GroundTruthProtectedError, IsAFolderError
from ctseg_core.io.label_files import ground_truth_at
from ctseg_core.io.masks import read_mask_folder, refuse_to_replace_ground_truth, validate_label_name, write_ircad_mask
from ctseg_core.io.nifti import read_nifti_mask, write_nifti_mask
from ctseg_core.io.patient import Patient
from ctseg_core.io.seg import read_dicom_seg, read_source_datasets, write_dicom_seg
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled


class LabelFormat(enum.Enum):
    """Where a label can be saved; the value is shown to the user."""

    IRCAD = "IRCAD mask folder (MASKS_DICOM/<name>/image_K)"
    NIFTI = "NIfTI (.nii.gz)"
    DICOM_SEG = "DICOM SEG (.dcm)"

    @classmethod
    def from_name(cls, name: str) -> LabelFormat:
        """The format for a command-line name: ``ircad``, ``nifti`` or ``seg``."""
        return {"ircad": cls.IRCAD, "nifti": cls.NIFTI, "seg": cls.DICOM_SEG}[name]

    @property
    def is_folder(self) -> bool:
        return self is LabelFormat.IRCAD

    @property
    def suffix(self) -> str:
        return {LabelFormat.IRCAD: "", LabelFormat.NIFTI: ".nii.gz", LabelFormat.DICOM_SEG: ".dcm"}[self]


@dataclass(frozen=True)
class SaveTarget:
    """Where and how to save: a file (NIfTI, SEG) or, for IRCAD, the patient or output folder."""

    format: LabelFormat
    path: Path
    name: str
    #: the user has agreed to replace a ground-truth mask folder (see :meth:`ground_truth_replaced`)
    replace_ground_truth: bool = False

    def ground_truth_replaced(self, patient: Patient | None = None) -> str | None:
        """What ground truth this save would replace, said for the user; None if none.

        In every format, a file or folder ctseg did not write that the loader reads as one of
        ``patient``'s masks (:func:`ctseg_core.io.label_files.ground_truth_at`); for IRCAD also
        any mask folder ctseg did not write, or a mask of that name in ``MASKS_DICOM.zip`` beside it.
        """
        if self.format is LabelFormat.IRCAD:
            try:
                refuse_to_replace_ground_truth(self.path, self.name)
            except GroundTruthProtectedError as protected:
                return str(protected)
        return ground_truth_at(self.written_path, patient) if patient is not None else None

    @property
    def written_path(self) -> Path:
        """What appears on disk: the file, or ``<folder>/MASKS_DICOM/<name>``."""
        if self.format is LabelFormat.IRCAD:
            return self.path / "MASKS_DICOM" / self.name
        return self.path

    def describe(self) -> str:
        return str(self.written_path)

    def check(self) -> SaveTarget:
        """This target, once it is known to be usable; InvalidLabelNameError or IsAFolderError otherwise.

        An IRCAD label's name is a folder name (:func:`validate_label_name`); a file format's name
        is only the label inside the file, and must not be empty, and its path must not be a
        folder. Not checked on construction: the save dialog builds targets from half-typed
        names to show where they would go.
        """
        if self.format is LabelFormat.IRCAD:
            validate_label_name(self.name, where=self.path / "MASKS_DICOM")
            return self
        if not self.name.strip():
            validate_label_name(self.name, where=self.path)
        if self.path.is_dir():
            raise IsAFolderError(self.path, f"is a folder, not a file: give a file name ending in {self.format.suffix}")
        return self


@dataclass(frozen=True)
class SavedLabel:
    """A finished save; ``sources`` are the CT headers a SEG save read, for the next one."""

    target: SaveTarget
    sources: list[Dataset] | None


def save_label(
    label: np.ndarray,
    patient: Patient,
    target: SaveTarget,
    sources: list[Dataset] | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    algorithm_type: str = "MANUAL",
    replace_ground_truth: bool = False,
) -> SavedLabel:
    """Write ``label`` in ``target``'s format: the one writer dispatch of the GUI and the batch API.

    DICOM SEG reads the CT headers first unless given ``sources``; ``algorithm_type`` is "MANUAL"
    for labels drawn or corrected by hand, "AUTOMATIC" for the model's own output. The target's
    name is checked first (:meth:`SaveTarget.check`); no save replaces the patient's ground truth
    (in any format, :meth:`SaveTarget.ground_truth_replaced`) unless ``replace_ground_truth``
    (GroundTruthProtectedError otherwise).
    """
    progress = progress or _no_progress
    target.check()
    protected = None if replace_ground_truth or target.replace_ground_truth else target.ground_truth_replaced(patient)
    if protected is not None:
        raise GroundTruthProtectedError(None, protected)  # the text names the path
    raise_if_cancelled(should_cancel)
    if target.format is LabelFormat.IRCAD:
        progress(0, label.shape[0], "writing mask")
        write_ircad_mask(
            label,
            patient,
            target.path,
            target.name,
            should_cancel=should_cancel,
            progress=progress,
            replace_ground_truth=replace_ground_truth or target.replace_ground_truth,
        )
    elif target.format is LabelFormat.NIFTI:
        progress(0, 0, "writing NIfTI")
        write_nifti_mask(label, patient, target.path)
    else:
        if sources is None:
            progress(0, 0, "reading CT headers")
            sources = read_source_datasets(patient)
            raise_if_cancelled(should_cancel)
        progress(0, 0, "writing DICOM SEG")
        write_dicom_seg(
            label, patient, target.path, name=target.name, source_datasets=sources, algorithm_type=algorithm_type
        )
    return SavedLabel(target, sources)


def _no_progress(done: int, total: int, stage: str) -> None:
    """Progress sink for callers that show none."""


@dataclass(frozen=True)
class LoadedLabel:
    """A label read onto the patient's grid, with the name it was saved under."""

    mask: np.ndarray
    name: str
    path: Path
    note: str = ""


def _nifti_name(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_label(
    path: str | Path, patient: Patient, progress: ProgressCallback, should_cancel: CancelCheck
) -> LoadedLabel:
    """Read a label saved as NIfTI, DICOM SEG (its first segment) or an IRCAD mask folder (``image_K`` files)."""
    path = Path(path)
    if path.is_dir():
        mask = read_mask_folder(path, patient, progress=progress, should_cancel=should_cancel)
        result = LoadedLabel(mask, path.name, path)
    elif path.name.lower().endswith((".nii", ".nii.gz")):
        progress(0, 0, "reading NIfTI")
        result = LoadedLabel(read_nifti_mask(path, patient), _nifti_name(path), path)
    else:
        progress(0, 0, "reading DICOM SEG")
        segments = read_dicom_seg(path, patient)
        if not segments:
            raise CtsegError(path, "the DICOM SEG holds no segment")
        name = next(iter(segments))
        note = f" (segment “{name}” of {len(segments)})" if len(segments) > 1 else ""
        result = LoadedLabel(segments[name], name, path, note)
    raise_if_cancelled(should_cancel)
    return result


def autosave(label: np.ndarray, patient: Patient, name: str, edits: int) -> Path:
    """Write the crash-recovery copy of a label (``ctseg_core.annotate.recovery``); its sidecar's path."""
    return save_recovery(label, patient, name, edits)
