"""Where one patient's CT and masks are, before any pixel is read.

Accepted patients (which path is one patient: :mod:`ctseg_core.io.discovery`):
- the 3D-IRCADb-01 layout: ``PATIENT_DICOM/`` + ``MASKS_DICOM/<organ>/``, or the archives as
  downloaded, ``PATIENT_DICOM.zip`` + ``MASKS_DICOM.zip``, read in place;
- any folder holding a DICOM CT series (file names arbitrary, nested folders allowed), with
  optional NIfTI masks beside it (``<organ>.nii.gz``; LiTS ``segmentation*.nii*`` → liver);
- a NIfTI CT volume (``volume-N.nii``, ``image.nii.gz``…) with its label file (see nifti_io);
  in a folder of several cases, ``segmentation-N`` pairs with ``volume-N``; TotalSegmentator's
  ``segmentations/<structure>.nii.gz`` beside ``ct.nii.gz`` are masks too; a CT in nnU-Net's or
  the Decathlon's ``imagesTr`` has its label in ``labelsTr`` (named ``liver`` when the task's
  folder says liver, as ``Task03_Liver`` does, else ``label``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from ctseg_core.errors import NoDicomError, NotReadableError, PathMissingError, PermissionDeniedError
from ctseg_core.io.discovery import resolve_patient
from ctseg_core.io.file_kinds import (
    LIVER_LABEL_PREFIXES,
    NIFTI_MASK_FOLDER,
    case_key,
    decathlon_label_of,
    dicom_identity,
    is_ircad_patient,
    is_named_ct,
    is_nifti,
    mask_name_for_nifti,
    nifti_ct_candidates,
    nifti_stem,
)
from ctseg_core.io.ground_truth_files import dicom_label_files_in, label_volumes_in
from ctseg_core.io.itk_image import is_itk_image
from ctseg_core.io.label_table import find_label_table
from ctseg_core.io.masks import DicomMaskSource, NiftiMaskSource
from ctseg_core.io.seg_nrrd import is_seg_nrrd
from ctseg_core.io.sources import DicomSource, FolderSource, ZipSource


@dataclass(frozen=True)
class PatientLayout:
    """Where a patient's CT and masks live, before anything is read."""

    path: Path
    ct: DicomSource | Path  # a Path is a NIfTI, NRRD or MetaImage volume
    masks: dict[str, object]
    warnings: tuple[str, ...] = ()
    #: the series to load from a DICOM source (a DICOM file given itself: its own series), None: choose
    series_uid: str | None = None
    #: label files beside the CT whose segments are its ground truth (:mod:`ctseg_core.io.ground_truth_files`);
    #: a DICOM CT's SEG and RTSTRUCT files are found among its headers when it loads
    label_files: tuple[Path, ...] = ()


def resolve_layout(path: str | Path) -> PatientLayout:
    """Find the CT and the masks of a patient path without reading pixels.

    A parent holding one patient resolves to that patient; one holding several is an error naming them.
    """
    given = Path(path).expanduser()
    check_readable(given)
    patient = resolve_patient(given)
    if patient != given:
        check_readable(patient)
    return patient_layout(patient)


def patient_layout(patient: Path) -> PatientLayout:
    """The layout of a path that is one patient by the discovery rule (as :func:`find_patients` returns them)."""
    if patient.is_file():
        return _file_layout(patient)
    if is_ircad_patient(patient):
        return _ircad_layout(patient)
    return _folder_layout(patient)


def check_readable(path: Path) -> None:
    """Refuse a path that is missing, not a file or folder, or not readable, with a message saying which."""
    if not path.exists():
        raise PathMissingError(path, "path does not exist")
    if not path.is_file() and not path.is_dir():
        raise NotReadableError(path, "not a file or a folder (a device, pipe or socket): give a patient folder")
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        raise PermissionDeniedError(path, "permission denied")


def _file_layout(path: Path) -> PatientLayout:
    """A file given as the patient: a NIfTI CT, a zip of DICOM, or one DICOM file (its folder's series)."""
    if is_nifti(path):
        label = decathlon_label_of(path)
        if label is not None:
            name = "liver" if "liver" in path.parent.parent.name.lower() else "label"
            return PatientLayout(path, path, {name: NiftiMaskSource(label)})
        return PatientLayout(path, path, _nifti_masks(path.parent, ct=path), label_files=_labels_beside_file(path))
    if is_itk_image(path) and not is_seg_nrrd(path):  # a NRRD or MetaImage CT, read as it is
        return PatientLayout(path, path, _nifti_masks(path.parent), label_files=_labels_beside_file(path))
    if path.suffix.lower() == ".zip":
        return PatientLayout(path, ZipSource(path), {})
    identity = dicom_identity(path)
    if identity is None:  # a SEG, RTSTRUCT or Slicer .seg.nrrd given: the CT of its folder, said so
        folder = _folder_layout(path.parent)
        said = f"{path.name} is not a CT image (a label or other DICOM object): loaded the CT of its folder"
        return replace(folder, path=path, warnings=(*folder.warnings, said))
    series_uid = identity.series_uid or None
    labels = tuple(label_volumes_in(path.parent))
    return PatientLayout(
        path, FolderSource(path.parent), _nifti_masks(path.parent), series_uid=series_uid, label_files=labels
    )


def _labels_beside_file(ct: Path) -> tuple[Path, ...]:
    """The label volumes and DICOM SEG/RTSTRUCT files beside a one-file CT."""
    return tuple(label_volumes_in(ct.parent, ct) + dicom_label_files_in(ct.parent, ct))


def _ircad_layout(path: Path) -> PatientLayout:
    """``PATIENT_DICOM`` (folder, else zip) and the masks of both mask forms."""
    patient_dir, patient_zip = path / "PATIENT_DICOM", path / "PATIENT_DICOM.zip"
    masks, warnings = _ircad_masks(path)
    source: DicomSource
    if patient_dir.is_dir():
        check_readable(patient_dir)
        source = FolderSource(patient_dir)
    else:
        check_readable(patient_zip)
        source = ZipSource(patient_zip, "PATIENT_DICOM/")
        if not source.entries():
            source = ZipSource(patient_zip)
    return PatientLayout(path, source, masks | _nifti_masks(path), tuple(warnings), label_files=_label_volumes(path))


def _label_volumes(folder: Path) -> tuple[Path, ...]:
    return tuple(label_volumes_in(folder))


def _folder_layout(path: Path) -> PatientLayout:
    """A plain folder: its DICOM below (masks folders aside), else its NIfTI CT."""
    folder_source = FolderSource(path, exclude_dirs=frozenset({"MASKS_DICOM"}))
    volume = _nifti_ct(path)
    if volume is not None and not _has_dicom_images(folder_source):
        return PatientLayout(path, volume, _nifti_masks(path, ct=volume), label_files=_labels_beside_file(volume))
    masks, warnings = _ircad_masks(path)
    return PatientLayout(
        path, folder_source, masks | _nifti_masks(path), tuple(warnings), label_files=_label_volumes(path)
    )


def _ircad_masks(folder: Path) -> tuple[dict[str, object], list[str]]:
    """Mask sources of an IRCAD patient: ``MASKS_DICOM.zip`` and a ``MASKS_DICOM`` folder, both.

    Writing a label folder beside the archive must not hide the archive's organs, so both are read;
    where a name is in both, the folder's copy is used and a warning says so.
    """
    masks: dict[str, object] = {}
    warnings: list[str] = []
    mask_dir = folder / "MASKS_DICOM"
    mask_zip = folder / "MASKS_DICOM.zip"
    if mask_zip.is_file():
        archive = ZipSource(mask_zip, "MASKS_DICOM/")
        for organ_name in archive.subfolders():
            masks[organ_name] = DicomMaskSource(ZipSource(mask_zip, f"MASKS_DICOM/{organ_name}/"))
    if mask_dir.is_dir():
        for organ in sorted(p for p in mask_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if organ.name in masks:
                warnings.append(
                    f"mask {organ.name!r}: the folder {organ} is used instead of the copy in {mask_zip.name}"
                )
            masks[organ.name] = DicomMaskSource(FolderSource(organ))
    return masks, warnings


def _nifti_masks(folder: Path, ct: Path | None = None) -> dict[str, object]:
    """The NIfTI labels in a folder (and its TotalSegmentator ``segmentations/``) by mask name; beside
    one of several CT files (LiTS), only its case's."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_nifti(p) and not p.name.startswith("."))
    structures = folder / NIFTI_MASK_FOLDER
    if ct is not None and structures.is_dir():
        files += sorted(p for p in structures.iterdir() if p.is_file() and is_nifti(p) and not p.name.startswith("."))
    several_cts = ct is not None and sum(is_named_ct(p) for p in files) > 1
    ct_case = case_key(ct) if ct is not None and several_cts else None
    masks: dict[str, object] = {}
    for path in files:
        if path == ct or is_named_ct(path) or find_label_table(path) is not None:  # described: by segment
            continue
        if ct_case is not None and _is_case_label(path) and case_key(path) != ct_case:
            continue
        masks.setdefault(mask_name_for_nifti(path), NiftiMaskSource(path))
    return masks


def _is_case_label(path: Path) -> bool:
    """A label named for a case (``segmentation-3``), not for an organ (``liver``)."""
    return nifti_stem(path).lower().startswith(LIVER_LABEL_PREFIXES)


def _nifti_ct(folder: Path) -> Path | None:
    """The NIfTI CT of a folder: named like one (``image``, ``imaging`` (KiTS), ``volume``, ``ct``…),
    else the only NIfTI file not named like a label (``patient01.nii.gz``). Several candidates
    and none named like a CT is an error: guessing would score a label as the scan."""
    items = list(folder.iterdir())
    files = [p for p in items if p.is_file()]
    named, unnamed = nifti_ct_candidates(files, frozenset(p.name for p in items))
    if named:
        return named[0]
    if len(unnamed) == 1:
        return unnamed[0]
    if len(unnamed) > 1:
        listed = ", ".join(p.name for p in unnamed[:5])
        raise NoDicomError(
            folder,
            f"no DICOM, and {len(unnamed)} NIfTI files that could be the CT ({listed}): name the CT "
            "image.nii.gz (labels: <organ>.nii.gz or segmentation.nii.gz), or open the file itself",
        )
    return None


#: Files looked at for a DICOM image beside a NIfTI CT before the folder counts as holding none.
SNIFF_FILES = 64


def _has_dicom_images(source: FolderSource) -> bool:
    """Whether a folder holds DICOM images (not a SEG or RTSTRUCT, not a JSON sidecar or README): only
    then is a NIfTI beside them a mask rather than the CT."""
    candidates = [Path(e) for e in source.entries() if not is_nifti(Path(e)) and not is_itk_image(Path(e))]
    return any(dicom_identity(p) is not None for p in candidates[:SNIFF_FILES])
