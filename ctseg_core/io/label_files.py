"""One entry point for named label files: which format a file is, its segment names, and reading or
writing a :class:`~ctseg_core.io.segments.LabelMap` in any of them.

The loader, ``ctseg info`` and the writers dispatch here rather than on file endings of their own:
a DICOM file is told by its SOP class (SEG or RTSTRUCT), a NRRD by its Slicer segment fields, so a
``.dcm`` or ``.nrrd`` of any name is read as what it is.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Literal

import pydicom
from pydicom.errors import InvalidDicomError

from ctseg_core.errors import CtsegError
from ctseg_core.io.ircad_labels import write_ircad_labels
from ctseg_core.io.itk_image import is_itk_image, read_itk_labels
from ctseg_core.io.label_formats import LabelFormat
from ctseg_core.io.label_table import label_table_beside
from ctseg_core.io.masks import CTSEG_MANUFACTURER, DicomMaskSource, NiftiMaskSource, is_ctseg_mask_folder
from ctseg_core.io.nifti import read_nifti_labels, write_nifti_labels, written_by_ctseg_nifti
from ctseg_core.io.patient import Patient
from ctseg_core.io.rtstruct import RTSTRUCT_SOP_CLASS, read_rtstruct, rtstruct_roi_names, write_rtstruct
from ctseg_core.io.seg import read_dicom_seg_labels, write_dicom_seg_labels
from ctseg_core.io.seg_nrrd import is_seg_nrrd, read_seg_nrrd, write_seg_nrrd
from ctseg_core.io.segments import LabelMap, Segment
from ctseg_core.io.sources import FolderSource, ZipSource
from ctseg_core.progress import CancelCheck, ProgressCallback

LabelKind = Literal["seg", "rtstruct", "seg.nrrd", "nifti", "itk"]
#: The file formats a label map can be written in (``--format`` values), with their file ending
#: (from the one registry, :class:`ctseg_core.io.label_formats.LabelFormat`).
WRITE_FORMATS: dict[str, str] = {fmt.cli_name: fmt.suffix for fmt in LabelFormat if not fmt.is_folder}
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"


def _dicom_header(path: Path, tags: list[str] | None = None) -> pydicom.Dataset | None:
    """The header of a DICOM file (only ``tags`` when given), or None when it is not one."""
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=tags)
    except (OSError, InvalidDicomError, ValueError, TypeError, EOFError):
        return None


def label_file_kind(path: str | Path) -> LabelKind | None:
    """What label format a file holds (by content where the ending does not say), or None."""
    path = Path(path)
    if not path.is_file():
        return None
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if is_itk_image(path):
        return "seg.nrrd" if is_seg_nrrd(path) else "itk"
    header = _dicom_header(path, ["SOPClassUID", "Modality"])  # a folder of CT slices is searched quickly
    if header is None:
        return None
    sop_class = str(header.get("SOPClassUID", ""))
    if sop_class in (SEG_SOP_CLASS, LABELMAP_SEG_SOP_CLASS):
        return "seg"
    if sop_class == RTSTRUCT_SOP_CLASS or header.get("Modality") == "RTSTRUCT":
        return "rtstruct"
    return None


def written_by_ctseg(path: str | Path) -> bool:
    """Whether ctseg wrote this label file or mask folder (it says so in its header), in any format.

    Anything ctseg did not write (another tool's annotation, an archive, an unreadable file) may be
    ground truth, which a save never replaces without asking.
    """
    path = Path(path)
    if path.is_dir():
        return is_ctseg_mask_folder(path)
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return written_by_ctseg_nifti(path)
    header = _dicom_header(path)
    return header is not None and str(header.get("Manufacturer", "")) == CTSEG_MANUFACTURER


def mask_source_path(source: object) -> Path | None:
    """The file or folder a patient's mask is read from (a zip member's archive), or None."""
    if isinstance(source, NiftiMaskSource):
        return source.path
    if isinstance(source, DicomMaskSource):
        inner = source.source
        where = (
            inner.root if isinstance(inner, FolderSource) else inner.archive if isinstance(inner, ZipSource) else None
        )
        return Path(where) if where is not None else None
    where = getattr(source, "path", None)  # a segment of a label file beside the CT (io.ground_truth_files)
    return where if isinstance(where, Path) else None


def ground_truth_at(path: str | Path, patient: Patient) -> str | None:
    """Which of the patient's ground-truth masks ``path`` is (the loader reads it as one), said for the
    user; None when it is none, or when ctseg wrote it. The same rule for every format."""
    path = Path(path)
    if not path.exists() or written_by_ctseg(path):
        return None
    for name, source in patient.mask_sources.items():
        where = mask_source_path(source)
        if where is not None and where.exists() and where.resolve() == path.resolve():
            return (
                f"{path}: is the ground truth {name!r} that ctseg loads for this patient (a file or folder "
                "ctseg did not write): it is never replaced unless asked to; save the label elsewhere"
            )
    return None


def segment_names(path: str | Path) -> list[str]:
    """The segment names a label file declares, without reading its voxels (for listings).

    A NIfTI, NRRD or MetaImage without a label description declares none (its values name them)."""
    path = Path(path)
    kind = label_file_kind(path)
    if kind == "seg":
        header = _dicom_header(path)
        return [str(item.get("SegmentLabel", "")) for item in header.get("SegmentSequence", [])] if header else []
    if kind == "rtstruct":
        return rtstruct_roi_names(path)
    if kind == "seg.nrrd":
        import slicerio

        segments = slicerio.read_segmentation(str(path), skip_voxels=True).get("segments", [])
        return [str(s.get("name", s.get("id", ""))) for s in segments]
    if kind in ("nifti", "itk"):
        table = _label_table(path, kind)
        return [s.name for s in table] if table is not None else []
    raise CtsegError(path, "not a label file ctseg reads (DICOM SEG, RTSTRUCT, NIfTI, NRRD, MetaImage)")


def read_label_file(path: str | Path, patient: Patient) -> LabelMap:
    """Any label file ctseg reads, as a label map on the patient's canonical grid with its names."""
    path = Path(path)
    kind = label_file_kind(path)
    if kind == "seg":
        return read_dicom_seg_labels(path, patient)
    if kind == "rtstruct":
        return read_rtstruct(path, patient)
    if kind == "seg.nrrd":
        return read_seg_nrrd(path, patient)
    if kind == "nifti":
        return read_nifti_labels(path, patient)
    if kind == "itk":
        return read_itk_labels(path, patient)
    raise CtsegError(path, "not a label file ctseg reads (DICOM SEG, RTSTRUCT, NIfTI, NRRD, MetaImage)")


def write_label_file(
    label_map: LabelMap,
    patient: Patient,
    path: str | Path,
    fmt: str | LabelFormat,
    algorithm_type: str = "MANUAL",
    source_datasets: list[pydicom.Dataset] | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    replace_ground_truth: bool = False,
) -> Path:
    """Write a label map as ``fmt`` (a :class:`LabelFormat` or its ``--format`` name), atomically;
    the file written, or for IRCAD the ``MASKS_DICOM`` folder ``path`` (the patient or output
    folder) now holds, one mask folder per segment. NIfTI gets its ITK-SNAP description beside it.
    ``algorithm_type`` ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC") goes into SEG and RTSTRUCT, which
    read the CT's DICOM headers unless given ``source_datasets``. Progress and cancelling reach
    the IRCAD writer (the one writing a file per slice), which never replaces a ground-truth mask
    folder unless ``replace_ground_truth``; :func:`ctseg_core.annotate.labels.save_label` protects
    ground truth in every format."""
    path = Path(path)
    if isinstance(fmt, str):
        if fmt not in WRITE_FORMATS and fmt != LabelFormat.IRCAD.cli_name:
            raise ValueError(f"format must be one of {', '.join(f.cli_name for f in LabelFormat)}, got {fmt!r}")
        fmt = LabelFormat.from_name(fmt)
    if fmt is LabelFormat.IRCAD:
        write_ircad_labels(label_map, patient, path, should_cancel, progress, replace_ground_truth)
        return path / "MASKS_DICOM"
    if fmt is LabelFormat.NIFTI:
        return write_nifti_labels(label_map, patient, path)
    if fmt is LabelFormat.DICOM_SEG:
        return write_dicom_seg_labels(label_map, patient, path, source_datasets, algorithm_type=algorithm_type)
    if fmt is LabelFormat.RTSTRUCT:
        return write_rtstruct(label_map, patient, path, source_datasets, algorithm_type=algorithm_type)
    return write_seg_nrrd(label_map, patient, path)


#: Folders of the IRCAD layout whose files are CT slices or binary masks, never label files.
_LAYOUT_FOLDERS = frozenset({"MASKS_DICOM", "PATIENT_DICOM"})
#: The most files a search for label files opens (it reads DICOM headers).
_SEARCH_LIMIT = 5000


def find_label_files(folder: str | Path, skip: Collection[str] = ()) -> list[Path]:
    """The named label files in a patient folder and below, by content: DICOM SEG and RTSTRUCT,
    Slicer ``.seg.nrrd``, and NIfTI, NRRD or MetaImage label maps with a label description beside
    them (plain NIfTI masks are the loader's). ``skip``: paths not to open (the CT's own slices);
    IRCAD's ``PATIENT_DICOM`` and ``MASKS_DICOM`` folders and hidden files are not searched."""
    folder = Path(folder)
    skipped = {str(Path(p)) for p in skip}
    found: list[Path] = []
    opened = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _LAYOUT_FOLDERS and not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith(".") or str(path) in skipped or opened >= _SEARCH_LIMIT:
                continue
            opened += 1
            if is_named_label_file(path):
                found.append(path)
    return found


def is_named_label_file(path: Path) -> bool:
    """Whether a label file names its segments: SEG, RTSTRUCT and ``.seg.nrrd`` always, a NIfTI,
    NRRD or MetaImage only with a label description (else its values are all it holds)."""
    kind = label_file_kind(path)
    if kind in ("seg", "rtstruct", "seg.nrrd"):
        return True
    return kind in ("nifti", "itk") and _label_table(path, kind) is not None


def _label_table(path: Path, kind: LabelKind) -> list[Segment] | None:
    """The segments a NIfTI, NRRD or MetaImage label file's description (or NIfTI header) names."""
    if kind != "nifti":
        return label_table_beside(path)
    import nibabel as nib

    try:
        extensions = getattr(nib.load(str(path)).header, "extensions", ())  # the header only
    except Exception:  # nibabel raises many kinds on a broken file: no table to read there
        extensions = ()
    return label_table_beside(path, extensions)


def describe_label_file(path: str | Path) -> dict[str, object]:
    """What ``ctseg info`` says of a label file: its path, format, segment names (no voxel read) and
    whether it is ground truth (ctseg did not write it); an unreadable one says why instead."""
    path = Path(path)
    described: dict[str, object] = {
        "path": str(path),
        "format": label_file_kind(path),
        "ground_truth": not written_by_ctseg(path),
    }
    try:
        return described | {"segments": segment_names(path)}
    except (CtsegError, OSError, ValueError, KeyError) as exc:
        return described | {"segments": [], "error": str(exc)}
