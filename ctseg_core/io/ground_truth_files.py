"""Label files beside a CT as its ground truth: DICOM SEG, RTSTRUCT, Slicer ``.seg.nrrd``, NRRD/MetaImage
label maps and NIfTI label maps with a label description, each segment a mask of the patient by name.

A folder exported from another workstation holds the CT and its annotation side by side; opening the
folder opens both, as the IRCAD layout's ``MASKS_DICOM`` does. Which file is which format, and reading
it onto the CT's grid, is :mod:`ctseg_core.io.label_files`' (one reader per format, shared with the
viewer's File ▸ Load label); this module only finds the files and names the masks. A SEG or RTSTRUCT
counts when it references this CT (its series or frame of reference); a file on another grid is read
and refused by its reader, and both kinds are reported in the warnings, never loaded as this CT's truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom

from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.io.file_kinds import MODEL_OUTPUT_SUFFIX, NIFTI_LABEL_PREFIXES, is_nifti
from ctseg_core.io.itk_image import is_itk_image
from ctseg_core.io.label_files import label_file_kind, read_label_file, segment_names
from ctseg_core.io.label_table import find_label_table
from ctseg_core.io.patient import Patient
from ctseg_core.io.segments import LabelMap

#: SOP classes of DICOM objects that hold a segmentation of a CT.
LABEL_SOP_CLASSES = frozenset(
    {"1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7", "1.2.840.10008.5.1.4.1.1.481.3"}
)


class LabelFileReader:
    """One label file, read once for the patient it was read for, whatever number of its segments are asked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._read: tuple[int, LabelMap] | None = None

    def label_map(self, patient: Patient) -> LabelMap:
        if self._read is None or self._read[0] != id(patient):
            try:
                self._read = (id(patient), read_label_file(self.path, patient))
            except CtsegError:
                raise
            except (ValueError, KeyError, AttributeError, TypeError) as exc:  # a malformed file
                raise MaskMismatchError(self.path, f"label file cannot be read ({exc})") from exc
        return self._read[1]


@dataclass(frozen=True, eq=False)
class LabelSegmentSource:
    """A patient's mask that is one segment of a label file (``masks.load_mask`` calls ``read_mask``)."""

    path: Path
    segment: str
    reader: LabelFileReader = field(repr=False)

    def read_mask(self, patient: Patient) -> np.ndarray:
        label_map = self.reader.label_map(patient)
        try:
            return label_map.mask(self.segment)
        except KeyError as exc:  # a file without a description holding several values names them by value
            raise MaskMismatchError(
                self.path, f"no segment named {self.segment!r} (it holds {', '.join(label_map.names) or 'none'})"
            ) from exc


def is_label_volume(path: Path, ct: Path | None = None) -> bool:
    """A NIfTI, NRRD or MetaImage file beside a CT that is a label map ctseg names by segment: a Slicer
    ``.seg.nrrd``, or one with a label description (NIfTI); a NRRD/MetaImage named like a label."""
    if path == ct or path.name.startswith("."):
        return False
    kind = label_file_kind(path) if (is_nifti(path) or is_itk_image(path)) else None
    if kind == "seg.nrrd":
        return True
    if kind == "nifti":
        return find_label_table(path) is not None
    if kind == "itk":
        return path.name.lower().startswith(NIFTI_LABEL_PREFIXES) or find_label_table(path) is not None
    return False


def label_volumes_in(folder: Path, ct: Path | None = None) -> list[Path]:
    """The label volumes (:func:`is_label_volume`) directly in ``folder``, by name."""
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:
        return []
    return [p for p in files if is_label_volume(p, ct)]


def dicom_label_files_in(folder: Path, ct: Path | None = None) -> list[Path]:
    """SEG and RTSTRUCT files directly in ``folder`` (by their SOP class), for a CT that is not DICOM."""
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p != ct and not p.name.startswith("."))
    except OSError:
        return []
    return [p for p in files if not is_nifti(p) and not is_itk_image(p) and label_file_kind(p) in ("seg", "rtstruct")]


def _referenced_uids(path: Path) -> set[str]:
    """Every series and frame-of-reference UID a SEG or RTSTRUCT names below its top level."""
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception:  # unreadable: its reader says why
        return set()
    found: set[str] = set()

    def walk(item: pydicom.Dataset, depth: int) -> None:
        for element in item:
            if element.VR == "SQ":
                for child in element.value:
                    walk(child, depth + 1)
            elif depth and element.keyword in ("SeriesInstanceUID", "FrameOfReferenceUID"):
                found.add(str(element.value))
            elif element.keyword == "FrameOfReferenceUID":
                found.add(str(element.value))  # a SEG shares its CT's frame of reference at the top level

    walk(ds, 0)
    return found


def _reference_problem(path: Path, patient: Patient) -> str | None:
    """Why a SEG or RTSTRUCT is not this DICOM CT's ground truth, or None when it references it."""
    ours = {uid for uid in (patient.series_uid, patient.frame_of_reference_uid) if uid}
    if not ours:
        return None  # a NIfTI or NRRD CT has no UIDs: the grid decides
    referenced = _referenced_uids(path)
    if not referenced or referenced & ours:
        return None
    return (
        f"{path}: a {label_file_kind(path) or 'label'} file that references another series or frame of reference, "
        "not this CT: not loaded as its ground truth"
    )


def label_file_masks(
    patient: Patient, files: Iterable[Path], taken: Iterable[str] = ()
) -> tuple[dict[str, object], list[str]]:
    """The mask sources of label files beside the patient's CT, one per segment by name, and what was
    left out (files of another CT, unreadable files). A name already taken, and every segment of ctseg's
    own prediction (``liver_pred.seg.dcm``), is suffixed with the file: a prediction never scores itself."""
    names_taken = set(taken)
    masks: dict[str, object] = {}
    warnings: list[str] = []
    for path in files:
        problem = _reference_problem(path, patient) if label_file_kind(path) in ("seg", "rtstruct") else None
        if problem is not None:
            warnings.append(problem)
            continue
        try:
            names = segment_names(path) or [_stem(path)]
        except (CtsegError, OSError, ValueError, KeyError) as error:
            warnings.append(f"{path}: label file not read ({error})")
            continue
        reader = LabelFileReader(path)
        prediction = MODEL_OUTPUT_SUFFIX in _stem(path).lower()  # ctseg's own output is never "liver" itself
        for name in names:
            key = name if name not in names_taken and not prediction else f"{name} ({path.name})"
            names_taken.add(key)
            masks[key] = LabelSegmentSource(path, name, reader)
    return masks, warnings


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
