"""The one patient-discovery rule: is this path a patient or a parent of patients, and which patients
are under it. ``ctseg segment``, ``ctseg info``, ``ctseg train``, fine-tuning and the viewer's Open
all ask here, so a folder is the same patients for each of them.

A *patient* is one CT scan (one study of one person) with the masks that belong to it, rooted at
one path: where its masks and ctseg's saved labels live. A folder is, in this order:

1. **an IRCAD patient** when it holds ``PATIENT_DICOM/`` or ``PATIENT_DICOM.zip`` (its masks:
   ``MASKS_DICOM/`` and ``MASKS_DICOM.zip``); nothing below it is searched;
2. **a DICOM patient** when it holds DICOM images directly (SEG, RTSTRUCT, SR and DICOMDIR are no
   images); NIfTI files beside them are its masks;
3. **a NIfTI patient** when it holds one NIfTI CT (named like one: ``image``, ``volume``, ``ct``…,
   or the only NIfTI not named like a label); several files named like a CT (LiTS ships
   ``volume-0.nii`` … beside ``segmentation-0.nii`` …) are a patient each, the file itself, and
   so is every NIfTI in an ``imagesTr``/``imagesTs`` folder (nnU-Net, the Medical Segmentation
   Decathlon: the labels are in ``labelsTr``/``labelsTs`` beside it, never searched themselves).
   Labels are never a CT: label names (``segmentation``, ``mask``, ``gt``…), ctseg's ``*_pred``
   outputs and labels saved beside a sibling (``<sibling>_<name>.nii.gz``);
4. otherwise **a parent**: its patients are those of its sub-folders, searched the same way —
   except that sub-folders which are only *parts of one study* (DICOM of one PatientID and
   StudyInstanceUID, no masks of their own, no copy of one another) are series of one patient, and
   that patient is the folder holding them.

A patient with masks of its own never merges into the folder above, so a parent holding one patient
(or a patient and its backup copy) is a parent, and the patient keeps its masks; a folder holding
only one mask-less DICOM series is that series' patient (what loads is the same either way).
A path naming part of an IRCAD patient (``PATIENT_DICOM``, ``MASKS_DICOM`` or their zips) names
that patient; a file is the patient it holds. Never searched: hidden entries, ``MASKS_DICOM``
(masks, never a CT), links leading outside the folder given (reported in ``skipped``), folders
deeper than :data:`~ctseg_core.io.sources.MAX_FOLDER_DEPTH` levels.

Examples (→ the patients found)::

    3Dircadb1.1/{PATIENT_DICOM.zip, MASKS_DICOM.zip}        → 3Dircadb1.1
    ircad/{3Dircadb1.1, 3Dircadb1.2}/PATIENT_DICOM/         → 3Dircadb1.1, 3Dircadb1.2
    parent/p1/{PATIENT_DICOM/, MASKS_DICOM/}                → parent/p1 (not parent: its masks stay)
    parent/{p1, p1_backup}/…  (a patient and its copy)      → parent/p1, parent/p1_backup
    ct/{IM0001.dcm, …, liver.nii.gz}                        → ct
    study/{series1, series2}/*.dcm  (one PatientID, study)  → study
    export/{PAT1, PAT2}/ST1/{SE1, SE2}/*.dcm, DICOMDIR      → export/PAT1, export/PAT2
    export/PAT2/{ST1, ST2}/…  (two studies of PAT2)         → export/PAT2/ST1, export/PAT2/ST2
    cohort/{a, b, c}/*.dcm  (three PatientIDs)              → cohort/a, cohort/b, cohort/c
    lits/{volume-0.nii, segmentation-0.nii, volume-1.nii…}  → lits/volume-0.nii, lits/volume-1.nii
    nifti/{p1, p2}/{image.nii.gz, liver.nii.gz}             → nifti/p1, nifti/p2
    Task03_Liver/{imagesTr, labelsTr}/liver_0.nii.gz        → Task03_Liver/imagesTr/liver_0.nii.gz
    totalseg/s0001/{ct.nii.gz, segmentations/liver.nii.gz}  → totalseg/s0001

Besides a folder of several NIfTI CTs, the smallest unit is a folder: DICOM files of several
patients dumped into one folder are one "patient" whose largest CT series loads (the loader lists
the others).

Who asks what a DICOM file is can answer from its own records: :func:`find_patients` takes the
``identity`` reader (the cohort index passes one that knows unchanged files without opening them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ctseg_core.errors import SeveralPatientsError
from ctseg_core.io.file_kinds import (
    IRCAD_MASK_NAMES,
    NIFTI_IMAGE_FOLDERS,
    NIFTI_LABEL_FOLDERS,
    DicomIdentity,
    dicom_identity,
    has_own_masks,
    ircad_patient_of,
    is_ircad_patient,
    is_nifti,
    nifti_ct_candidates,
)
from ctseg_core.io.sources import MAX_FOLDER_DEPTH, SKIPPED_NAMES, leads_inside

#: Files looked at for a DICOM image directly in a folder before it counts as holding none.
SNIFF_FILES = 64
#: Patients named in the message of a path that holds several.
LISTED_PATIENTS = 5
#: What a file is as a DICOM image (None: no image); :func:`~ctseg_core.io.file_kinds.dicom_identity` reads it.
IdentityReader = Callable[[Path], DicomIdentity | None]


@dataclass(frozen=True)
class Discovery:
    """The patients found under one path (in name order), and what the search left out: (path, why)."""

    root: Path
    patients: tuple[Path, ...]
    skipped: tuple[tuple[str, str], ...] = ()


def find_patients(path: str | Path, identity: IdentityReader = dicom_identity) -> Discovery:
    """The patients at or below ``path`` by the module's rule (none when it holds no patient or cannot be read).

    ``identity`` says what a file is as a DICOM image; by default its first tags are read.
    """
    root = Path(path).expanduser()
    owner = ircad_patient_of(root)
    if owner is not None:
        return Discovery(root, (owner,))
    if root.is_file():
        return Discovery(root, (root,))
    if not root.is_dir():
        return Discovery(root, ())
    walk = _Walk(root, identity)
    units = walk.scan(root, depth=0, siblings=frozenset())
    return Discovery(root, tuple(unit.path for unit in units), tuple(walk.skipped))


def resolve_patient(path: str | Path) -> Path:
    """The one patient a path given as a patient means (``ctseg info``, the viewer's Open).

    The path itself when it is a patient (or holds none: the loader then says what is wrong), the
    single patient under a parent, the IRCAD patient of its ``PATIENT_DICOM``; a path holding several
    patients is a :class:`~ctseg_core.errors.SeveralPatientsError` naming them.
    """
    path = Path(path).expanduser()
    owner = ircad_patient_of(path)
    if owner is not None:
        return owner
    if not path.is_dir():
        return path
    found = find_patients(path).patients
    if len(found) <= 1:
        return found[0] if found else path
    names = ", ".join(str(p.relative_to(path)) for p in found[:LISTED_PATIENTS])
    more = " …" if len(found) > LISTED_PATIENTS else ""
    raise SeveralPatientsError(
        path,
        f"holds {len(found)} patients ({names}{more}): open one of them (ctseg segment takes a parent of patients)",
    )


@dataclass(frozen=True)
class _Unit:
    """A patient found, and what decides whether it merges into its parent folder."""

    path: Path
    #: (PatientID, StudyInstanceUID) of a DICOM-only unit without masks of its own; None: never merged
    study: tuple[str, str] | None = None
    #: SOPInstanceUIDs of the images looked at: the same image in two units makes them copies
    sops: frozenset[str] = frozenset()


class _Walk:
    """One search: the root's real path (links must stay inside it), folders seen, what was skipped."""

    def __init__(self, root: Path, identity: IdentityReader = dicom_identity) -> None:
        self.root = root
        self.identity = identity
        self.real_root = os.path.realpath(root)
        self.seen: set[tuple[int, int]] = set()
        self.skipped: list[tuple[str, str]] = []

    def scan(self, folder: Path, depth: int, siblings: frozenset[str]) -> list[_Unit]:
        """The patients at or below ``folder``; ``siblings``: the names beside it (for saved labels)."""
        if is_ircad_patient(folder):
            return [_Unit(folder)]
        listing = self._list(folder)
        if listing is None:
            return []
        files, folders = listing
        names = frozenset(p.name for p in files + folders)
        direct = _direct_patients(folder, files, names, siblings, self.identity)
        if direct is not None:
            return direct
        if depth >= MAX_FOLDER_DEPTH:
            if folders:
                self.skipped.append((str(folder), f"deeper than {MAX_FOLDER_DEPTH} folder levels, not searched"))
            return []
        units = [unit for sub in folders for unit in self.scan(sub, depth + 1, names)]
        return _merged(folder, units, has_own_masks(folder, files, siblings))

    def _list(self, folder: Path) -> tuple[list[Path], list[Path]] | None:
        """(files, sub-folders) of a folder, in name order; None when it was seen before or cannot be read."""
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in self.seen:
                return None  # reached again through a link
            self.seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.skipped.append((str(folder), f"cannot be listed ({exc.strerror or exc})"))
            return None
        files: list[Path] = []
        folders: list[Path] = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name in SKIPPED_NAMES or entry.name == "__MACOSX":
                continue
            if entry.is_symlink() and not leads_inside(entry.path, self.real_root):
                self.skipped.append((entry.path, f"a link leading outside {self.root}, not followed"))
                continue
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir and entry.name not in IRCAD_MASK_NAMES and entry.name not in NIFTI_LABEL_FOLDERS:
                folders.append(Path(entry.path))
            elif is_file:
                files.append(Path(entry.path))
        return files, folders


def _direct_patients(
    folder: Path, files: list[Path], names: frozenset[str], siblings: frozenset[str], read: IdentityReader
) -> list[_Unit] | None:
    """The patients a folder's own files make (rules 2 and 3), or None when it holds no CT itself."""
    candidates = [p for p in files if not is_nifti(p)][:SNIFF_FILES]
    identity = next((found for p in candidates if (found := read(p)) is not None), None)
    if identity is not None:
        mergeable = not has_own_masks(folder, files, siblings)
        sops = frozenset({identity.sop_instance_uid} - {""})
        return [_Unit(folder, identity.study if mergeable else None, sops)]
    if folder.name in NIFTI_IMAGE_FOLDERS:
        return [_Unit(path) for path in sorted(p for p in files if is_nifti(p))] or None
    named, unnamed = nifti_ct_candidates(files, names)
    if len(named) > 1:
        return [_Unit(path) for path in named]
    if named or unnamed:
        return [_Unit(folder)]
    return None


def _merged(folder: Path, units: list[_Unit], folder_has_masks: bool) -> list[_Unit]:
    """Sub-folders that are parts of one study become one patient, the folder (rule 4); others stay apart."""
    if not units or any(unit.study is None for unit in units) or len({unit.study for unit in units}) != 1:
        return units
    sops = frozenset().union(*(unit.sops for unit in units))
    if sum(len(unit.sops) for unit in units) != len(sops):
        return units  # the same image in two sub-folders: copies of one study, each a patient
    return [_Unit(folder, None if folder_has_masks else units[0].study, sops)]
