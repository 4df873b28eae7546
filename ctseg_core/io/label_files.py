"""One entry point for named label files: which format a file is, its segment names, and reading or
writing a :class:`~ctseg_core.io.segments.LabelMap` in any of them.

The loader, ``ctseg info`` and the writers dispatch here rather than on file endings of their own:
a DICOM file is told by its SOP class (SEG or RTSTRUCT), a NRRD by its Slicer segment fields, so a
``.dcm`` or ``.nrrd`` of any name is read as what it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydicom
from pydicom.errors import InvalidDicomError

from ctseg_core.errors import CtsegError
from ctseg_core.io.itk_image import is_itk_image, read_itk_labels
from ctseg_core.io.label_table import find_label_table, read_label_table
from ctseg_core.io.masks import CTSEG_MANUFACTURER, DicomMaskSource, NiftiMaskSource, is_ctseg_mask_folder
from ctseg_core.io.nifti import read_nifti_labels, write_nifti_labels, written_by_ctseg_nifti
from ctseg_core.io.patient import Patient
from ctseg_core.io.rtstruct import RTSTRUCT_SOP_CLASS, read_rtstruct, rtstruct_roi_names, write_rtstruct
from ctseg_core.io.seg import read_dicom_seg_labels, write_dicom_seg_labels
from ctseg_core.io.seg_nrrd import is_seg_nrrd, read_seg_nrrd, write_seg_nrrd
from ctseg_core.io.segments import LabelMap
from ctseg_core.io.sources import FolderSource, ZipSource

LabelKind = Literal["seg", "rtstruct", "seg.nrrd", "nifti", "itk"]
#: The formats a label map can be written in (``--format`` values), with their usual file ending.
WRITE_FORMATS: dict[str, str] = {"nifti": ".nii.gz", "seg": ".dcm", "rtstruct": ".dcm", "seg.nrrd": ".seg.nrrd"}
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"


def _dicom_header(path: Path) -> pydicom.Dataset | None:
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=True)
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
    header = _dicom_header(path)
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
        table = find_label_table(path)
        return [s.name for s in read_label_table(table)] if table is not None else []
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
    label_map: LabelMap, patient: Patient, path: str | Path, fmt: str, algorithm_type: str = "MANUAL"
) -> Path:
    """Write a label map as ``fmt`` (a key of :data:`WRITE_FORMATS`); NIfTI gets its ITK-SNAP
    description beside it. ``algorithm_type`` ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC") goes into SEG
    and RTSTRUCT."""
    path = Path(path)
    if fmt == "nifti":
        return write_nifti_labels(label_map, patient, path)
    if fmt == "seg":
        return write_dicom_seg_labels(label_map, patient, path, algorithm_type=algorithm_type)
    if fmt == "rtstruct":
        return write_rtstruct(label_map, patient, path, algorithm_type=algorithm_type)
    if fmt == "seg.nrrd":
        return write_seg_nrrd(label_map, patient, path)
    raise ValueError(f"format must be one of {', '.join(WRITE_FORMATS)}, got {fmt!r}")
