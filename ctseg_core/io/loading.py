"""``load_patient``: any CT folder, IRCAD zip or NIfTI to a canonical HU volume + masks.

Accepted inputs:
- the 3D-IRCADb-01 layout: ``PATIENT_DICOM/`` + ``MASKS_DICOM/<organ>/``, or the archives as
  downloaded, ``PATIENT_DICOM.zip`` + ``MASKS_DICOM.zip``, read in place;
- any folder holding a DICOM CT series (file names arbitrary, nested folders allowed), with
  optional NIfTI masks beside it (``<organ>.nii.gz``; LiTS ``segmentation*.nii*`` → liver);
- a NIfTI CT volume (``volume-N.nii``, ``image.nii.gz``…) with its label file (see nifti_io).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ctseg_core.errors import CtsegError, NoDicomError, NotReadableError, PathMissingError, PermissionDeniedError
from ctseg_core.io.dicom import read_headers
from ctseg_core.io.masks import DicomMaskSource, NiftiMaskSource, load_mask
from ctseg_core.io.nifti import load_nifti_patient
from ctseg_core.io.patient import Patient, SourceGrid
from ctseg_core.io.series import choose_series, order_series, read_volume
from ctseg_core.io.sources import DicomSource, FolderSource, ZipSource
from ctseg_core.orientation import canonicalise, oblique_warnings
from ctseg_core.progress import CancelCheck, ProgressCallback

MaskSelection = Literal["all"] | Sequence[str] | None

NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: NIfTI files whose labels mean "liver" where label > 0 (LiTS convention).
LIVER_LABEL_PREFIXES = ("segmentation", "label", "labels", "seg")
NIFTI_VOLUME_PREFIXES = ("volume", "image", "imaging", "ct", "img")
#: NIfTI names that are labels, never the CT (besides the liver prefixes above).
NIFTI_LABEL_PREFIXES = (*LIVER_LABEL_PREFIXES, "mask", "gt", "truth", "pred")


@dataclass(frozen=True)
class PatientLayout:
    """Where a patient's CT and masks live, before anything is read."""

    path: Path
    ct: DicomSource | Path  # a Path is a NIfTI volume
    masks: dict[str, object]
    warnings: tuple[str, ...] = ()


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise PathMissingError(path, "path does not exist")
    if not path.is_file() and not path.is_dir():
        raise NotReadableError(path, "not a file or a folder (a device, pipe or socket): give a patient folder")
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        raise PermissionDeniedError(path, "permission denied")


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def _nifti_stem(path: Path) -> str:
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else name[: -len(".nii")]


def _mask_name_for_nifti(path: Path) -> str:
    stem = _nifti_stem(path).lower()
    return "liver" if stem.startswith(LIVER_LABEL_PREFIXES) else _nifti_stem(path)


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


def _nifti_masks(folder: Path, exclude: Path | None = None) -> dict[str, object]:
    masks: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and _is_nifti(path) and path != exclude and not path.name.startswith("."):
            stem = _nifti_stem(path).lower()
            if not stem.startswith(NIFTI_VOLUME_PREFIXES):
                masks.setdefault(_mask_name_for_nifti(path), NiftiMaskSource(path))
    return masks


def resolve_layout(path: str | Path) -> PatientLayout:
    """Find the CT and the masks of a patient path without reading pixels."""
    path = Path(path).expanduser()
    _check_readable(path)
    if path.is_file():
        if _is_nifti(path):
            return PatientLayout(path, path, _nifti_masks(path.parent, exclude=path))
        if path.suffix.lower() == ".zip":
            if path.name == "PATIENT_DICOM.zip":
                return resolve_layout(path.parent)
            return PatientLayout(path, ZipSource(path), {})
        return PatientLayout(path, FolderSource(path.parent), _nifti_masks(path.parent))
    patient_dir, patient_zip = path / "PATIENT_DICOM", path / "PATIENT_DICOM.zip"
    if patient_dir.is_dir() or patient_zip.is_file():
        masks, warnings = _ircad_masks(path)
        source: DicomSource
        if patient_dir.is_dir():
            _check_readable(patient_dir)
            source = FolderSource(patient_dir)
        else:
            _check_readable(patient_zip)
            source = ZipSource(patient_zip, "PATIENT_DICOM/")
            if not source.entries():
                source = ZipSource(patient_zip)
        return PatientLayout(path, source, masks | _nifti_masks(path), tuple(warnings))
    folder_source = FolderSource(path, exclude_dirs=frozenset({"MASKS_DICOM"}))
    volume = _nifti_ct(path)
    if volume is not None and not _has_dicom_candidates(folder_source):
        return PatientLayout(path, volume, _nifti_masks(path, exclude=volume))
    masks, warnings = _ircad_masks(path)
    return PatientLayout(path, folder_source, masks | _nifti_masks(path), tuple(warnings))


def _nifti_ct(folder: Path) -> Path | None:
    """The NIfTI CT of a folder: named like one (``image``, ``imaging`` (KiTS), ``volume``, ``ct``…),
    else the only NIfTI file not named like a label (``patient01.nii.gz``). Several candidates
    and none named like a CT is an error: guessing would score a label as the scan."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and _is_nifti(p) and not p.name.startswith("."))
    named = [p for p in files if _nifti_stem(p).lower().startswith(NIFTI_VOLUME_PREFIXES)]
    if named:
        return named[0]
    unnamed = [p for p in files if not _nifti_stem(p).lower().startswith(NIFTI_LABEL_PREFIXES)]
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


def is_patient_folder(path: Path) -> bool:
    """Whether a folder is one patient (not a parent folder of several patients).

    IRCAD layout (folders or zips), a NIfTI volume, or DICOM files directly inside are one patient.
    A folder whose DICOM lies only in sub-folders is one patient when those sub-folders belong to
    one patient and study (series in sub-folders, as many exports do), and a parent of patients when
    they belong to different ones (read from one header per sub-folder).
    """
    if (path / "PATIENT_DICOM").is_dir() or (path / "PATIENT_DICOM.zip").is_file():
        return True
    try:
        items = sorted(path.iterdir())
    except OSError:
        return False
    files = [p for p in items if p.is_file() and not p.name.startswith(".")]
    if any(_is_nifti(p) and not _nifti_stem(p).lower().startswith(NIFTI_LABEL_PREFIXES) for p in files):
        return True
    if any(_identity(p) is not None for p in files[:8]):
        return True
    identities = {identity for sub in items if sub.is_dir() and (identity := _first_identity(sub)) is not None}
    return len(identities) == 1


def _identity(path: Path) -> tuple[str, str] | None:
    """(PatientID, StudyInstanceUID) of a DICOM file, None when it is not one."""
    import pydicom

    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
            if len(head) < 132 or head[128:132] != b"DICM":
                return None
            handle.seek(0)
            ds = pydicom.dcmread(handle, stop_before_pixels=True, specific_tags=["PatientID", "StudyInstanceUID"])
    except Exception:  # any unreadable file simply says nothing about identity
        return None
    return str(ds.get("PatientID", "")), str(ds.get("StudyInstanceUID", ""))


def _first_identity(folder: Path, budget: int = 64) -> tuple[str, str] | None:
    """The identity of the first DICOM file found below ``folder`` (looking at ``budget`` files at most)."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            budget -= 1
            if budget < 0:
                return None
            identity = _identity(Path(root) / name)
            if identity is not None:
                return identity
    return None


def _has_dicom_candidates(source: FolderSource) -> bool:
    return any(not _is_nifti(Path(e)) for e in source.entries())


def load_patient(
    path: str | Path,
    *,
    series_uid: str | None = None,
    masks: MaskSelection = "all",
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Patient:
    """Load a patient's CT as int16 HU with geometry, and the masks asked for.

    ``masks``: "all", a list of names (missing names are ignored), or None for none; masks not
    loaded now stay listed in ``mask_sources`` and load later with ``mask_io.load_mask``.
    Raises a :class:`~ctseg_core.errors.CtsegError` subclass naming the path and the problem,
    or :class:`~ctseg_core.errors.Cancelled`.
    """
    started = time.perf_counter()
    layout = resolve_layout(path)
    if isinstance(layout.ct, Path):
        patient = load_nifti_patient(layout.ct)
    else:
        patient = _load_dicom_ct(layout, series_uid, progress, should_cancel)
    patient.mask_sources = dict(layout.masks)
    patient.warnings.extend(layout.warnings)
    wanted = layout.masks if masks == "all" else [] if masks is None else list(masks)
    for name in wanted:
        if name in layout.masks:
            try:
                patient.masks[name] = load_mask(patient, name, progress=progress, should_cancel=should_cancel)
            except CtsegError as error:  # a broken mask must not keep the CT from opening
                patient.mask_errors[name] = str(error)
                patient.warnings.append(f"mask {name!r} not loaded: {error}")
    patient.load_seconds = time.perf_counter() - started
    return patient


def _load_dicom_ct(
    layout: PatientLayout,
    series_uid: str | None,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> Patient:
    source = layout.ct
    assert not isinstance(source, Path)
    headers, warnings = read_headers(source, progress, should_cancel, empty_label=str(layout.path))
    members, others, series_warnings = choose_series(headers, str(layout.path), series_uid)
    series = order_series(members, str(layout.path))
    stack = read_volume(source, series, progress, should_cancel)
    first = series.headers[0]
    reorientation, geometry = canonicalise(series.geometry, stack.shape)
    grid = SourceGrid(
        kind="dicom",
        shape=stack.shape,
        geometry=series.geometry,
        reorientation=reorientation,
        slice_names=[h.name for h in series.headers],
        sop_instance_uids=[h.sop_instance_uid for h in series.headers],
        frame_numbers=[None if h.frame is None else h.frame + 1 for h in series.headers],
        positions_lps=series.positions_lps,
        tilt_shift_px=series.tilt_shift_px,
    )
    return Patient(
        hu=grid.to_canonical(stack),
        geometry=geometry,
        slice_order=series.slice_order,
        source_path=layout.path,
        source=grid,
        patient_name=first.patient_name,
        patient_id=first.patient_id,
        series_uid=first.series_uid,
        study_uid=first.study_uid,
        frame_of_reference_uid=first.frame_of_reference_uid,
        series_description=first.series_description,
        other_series=others,
        warnings=warnings + series_warnings + series.warnings + oblique_warnings(series.geometry),
    )
