"""What a file or folder is, from its name or its first tags: a NIfTI CT or a label, a DICOM image
of which study, a part of an IRCAD patient.

The patient-discovery rule (:mod:`ctseg_core.io.discovery`) and the layout of one patient
(:mod:`ctseg_core.io.layout`) both decide from these, so they never disagree about a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pydicom

from ctseg_core.io.dicom import NON_IMAGE_MODALITIES, looks_like_dicom
from ctseg_core.io.nifti import written_by_ctseg_nifti

NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: NIfTI files whose labels mean "liver" where label > 0 (LiTS convention).
LIVER_LABEL_PREFIXES = ("segmentation", "label", "labels", "seg")
NIFTI_VOLUME_PREFIXES = ("volume", "image", "imaging", "ct", "img")
#: NIfTI names that are labels, never the CT (besides the liver prefixes above).
NIFTI_LABEL_PREFIXES = (*LIVER_LABEL_PREFIXES, "mask", "gt", "truth", "pred")
#: ctseg's own predictions end so (``liver_pred.nii.gz``): a label, never a CT.
MODEL_OUTPUT_SUFFIX = "_pred"

#: The CT and the masks of the 3D-IRCADb-01 layout, as folders or as the archives downloaded.
IRCAD_CT_NAMES = ("PATIENT_DICOM", "PATIENT_DICOM.zip")
IRCAD_MASK_NAMES = ("MASKS_DICOM", "MASKS_DICOM.zip")
#: nnU-Net and the Medical Segmentation Decathlon: one CT per file in ``imagesTr``/``imagesTs``, its
#: label of the same case name in ``labelsTr``/``labelsTs`` beside (``liver_001_0000.nii.gz`` →
#: ``liver_001.nii.gz``: nnU-Net's ``_0000`` is the channel).
NIFTI_IMAGE_FOLDERS = ("imagesTr", "imagesTs")
NIFTI_LABEL_FOLDERS = ("labelsTr", "labelsTs")
#: TotalSegmentator writes one label file per structure here, beside ``ct.nii.gz``.
NIFTI_MASK_FOLDER = "segmentations"


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def nifti_stem(path: Path) -> str:
    """The name without ``.nii`` / ``.nii.gz``."""
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else name[: -len(".nii")]


def mask_name_for_nifti(path: Path) -> str:
    """The mask name a NIfTI label file gives: ``liver`` for LiTS-style names, else its stem."""
    stem = nifti_stem(path).lower()
    return "liver" if stem.startswith(LIVER_LABEL_PREFIXES) else nifti_stem(path)


def is_named_ct(path: Path) -> bool:
    """A NIfTI named like a CT volume (``image``, ``imaging`` (KiTS), ``volume`` (LiTS), ``ct``…)."""
    return nifti_stem(path).lower().startswith(NIFTI_VOLUME_PREFIXES)


def is_named_label(path: Path, siblings: frozenset[str] = frozenset()) -> bool:
    """A NIfTI that is a label by its name: a label prefix, ctseg's ``*_pred`` output, or a label
    saved beside one of ``siblings`` (the names in the same folder) as ``<sibling>_<name>.nii.gz``,
    as the viewer saves them."""
    stem = nifti_stem(path).lower()
    if stem.startswith(NIFTI_LABEL_PREFIXES) or stem.endswith(MODEL_OUTPUT_SUFFIX):
        return True
    return saved_label_owner(path.name, siblings) is not None


def saved_label_owner(name: str, siblings: frozenset[str]) -> str | None:
    """The sibling a ``<sibling>_<label>.nii[.gz]`` file was saved for, or None."""
    if not name.lower().endswith(NIFTI_SUFFIXES):
        return None
    owners = [s for s in siblings if s != name and name.startswith(f"{s}_")]
    return max(owners, key=len) if owners else None


def nifti_ct_candidates(files: list[Path], siblings: frozenset[str]) -> tuple[list[Path], list[Path]]:
    """The NIfTI files among ``files`` that could be a CT: (named like one, not named at all).

    Hidden files and labels (:func:`is_named_label`) are never candidates, nor is a file not named like
    a CT that ctseg wrote (its outputs and saved labels say so in their header, whatever their name).
    """
    nifti = sorted(p for p in files if is_nifti(p) and not p.name.startswith("."))
    named = [p for p in nifti if is_named_ct(p)]
    unnamed = [p for p in nifti if not is_named_ct(p) and not is_named_label(p, siblings)]
    return named, [p for p in unnamed if not written_by_ctseg_nifti(p)]


def case_key(path: Path) -> str:
    """What tells one case from another in a folder of several: ``volume-3`` and ``segmentation-3`` → "3"."""
    stem = nifti_stem(path).lower()
    for prefix in sorted((*NIFTI_VOLUME_PREFIXES, *NIFTI_LABEL_PREFIXES), key=len, reverse=True):
        if stem.startswith(prefix):
            return stem[len(prefix) :].strip("-_. ")
    return stem


def decathlon_label_of(image: Path) -> Path | None:
    """The label of a CT in an ``imagesTr``/``imagesTs`` folder (nnU-Net, MSD), if it is there."""
    if image.parent.name not in NIFTI_IMAGE_FOLDERS:
        return None
    case = re.sub(r"_\d{4}$", "", nifti_stem(image))
    labels = image.parent.parent / image.parent.name.replace("images", "labels")
    for suffix in NIFTI_SUFFIXES[::-1]:
        if (labels / f"{case}{suffix}").is_file():
            return labels / f"{case}{suffix}"
    return None


def is_ircad_patient(folder: Path) -> bool:
    """A folder holding ``PATIENT_DICOM/`` or ``PATIENT_DICOM.zip``."""
    folder_name, zip_name = IRCAD_CT_NAMES
    return (folder / folder_name).is_dir() or (folder / zip_name).is_file()


def ircad_patient_of(path: Path) -> Path | None:
    """The IRCAD patient a path is part of (its ``PATIENT_DICOM``, ``MASKS_DICOM`` or their zips), or None."""
    if path.name in (*IRCAD_CT_NAMES, *IRCAD_MASK_NAMES) and is_ircad_patient(path.parent):
        return path.parent
    return None


def has_own_masks(folder: Path, files: list[Path], siblings: frozenset[str]) -> bool:
    """Whether a folder carries masks of its own: a mask folder or zip, NIfTI labels inside, or a
    label saved beside it (``<folder>_<name>.nii.gz``)."""
    if any((folder / name).exists() for name in IRCAD_MASK_NAMES):
        return True
    if any(is_nifti(p) for p in files):
        return True
    return any(saved_label_owner(name, siblings) == folder.name for name in siblings)


@dataclass(frozen=True)
class DicomIdentity:
    """Whose image a DICOM file is: the patient, the study, and the image itself."""

    patient_id: str
    study_uid: str
    sop_instance_uid: str
    series_uid: str = ""

    @property
    def study(self) -> tuple[str, str]:
        return self.patient_id, self.study_uid


def dicom_identity(path: Path) -> DicomIdentity | None:
    """The identity of a DICOM image file from a few tags; None when it is not one (not DICOM,
    unreadable, or an object that is no image: a SEG, a structure set, a report, a DICOMDIR)."""
    try:
        with open(path, "rb") as handle:
            if not looks_like_dicom(handle.read(132)):
                return None
            handle.seek(0)
            tags = ["PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "Modality", "Rows"]
            ds = pydicom.dcmread(handle, stop_before_pixels=True, force=True, specific_tags=tags)
        rows = int(ds.get("Rows", 0) or 0)
        modality = str(ds.get("Modality", "") or "").upper()
    except Exception:  # any unreadable file simply says nothing about identity
        return None
    if rows <= 0 or modality in NON_IMAGE_MODALITIES:
        return None
    return DicomIdentity(
        str(ds.get("PatientID", "") or ""),
        str(ds.get("StudyInstanceUID", "") or ""),
        str(ds.get("SOPInstanceUID", "")),
        str(ds.get("SeriesInstanceUID", "") or ""),
    )
