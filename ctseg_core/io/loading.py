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

from ctseg_core.errors import PathMissingError, PermissionDeniedError
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
NIFTI_VOLUME_PREFIXES = ("volume", "image", "ct", "img")


@dataclass(frozen=True)
class PatientLayout:
    """Where a patient's CT and masks live, before anything is read."""

    path: Path
    ct: DicomSource | Path  # a Path is a NIfTI volume
    masks: dict[str, object]


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise PathMissingError(path, "path does not exist")
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


def _ircad_masks(folder: Path) -> dict[str, object]:
    masks: dict[str, object] = {}
    mask_dir = folder / "MASKS_DICOM"
    mask_zip = folder / "MASKS_DICOM.zip"
    if mask_dir.is_dir():
        for organ in sorted(p for p in mask_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            masks[organ.name] = DicomMaskSource(FolderSource(organ))
    elif mask_zip.is_file():
        archive = ZipSource(mask_zip, "MASKS_DICOM/")
        for organ_name in archive.subfolders():
            masks[organ_name] = DicomMaskSource(ZipSource(mask_zip, f"MASKS_DICOM/{organ_name}/"))
    return masks


def _nifti_masks(folder: Path, exclude: Path | None = None) -> dict[str, object]:
    masks: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and _is_nifti(path) and path != exclude:
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
    if patient_dir.is_dir():
        _check_readable(patient_dir)
        return PatientLayout(path, FolderSource(patient_dir), _ircad_masks(path) | _nifti_masks(path))
    if patient_zip.is_file():
        _check_readable(patient_zip)
        archive = ZipSource(patient_zip, "PATIENT_DICOM/")
        if not archive.entries():
            archive = ZipSource(patient_zip)
        return PatientLayout(path, archive, _ircad_masks(path) | _nifti_masks(path))
    volumes = [
        p
        for p in sorted(path.iterdir())
        if p.is_file() and _is_nifti(p) and _nifti_stem(p).lower().startswith(NIFTI_VOLUME_PREFIXES)
    ]
    source = FolderSource(path, exclude_dirs=frozenset({"MASKS_DICOM"}))
    if volumes and not _has_dicom_candidates(source):
        return PatientLayout(path, volumes[0], _nifti_masks(path, exclude=volumes[0]))
    return PatientLayout(path, source, _ircad_masks(path) | _nifti_masks(path))


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
    if any(_is_nifti(p) and _nifti_stem(p).lower().startswith(NIFTI_VOLUME_PREFIXES) for p in files):
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
    wanted = layout.masks if masks == "all" else [] if masks is None else list(masks)
    for name in wanted:
        if name in layout.masks:
            patient.masks[name] = load_mask(patient, name, progress=progress, should_cancel=should_cancel)
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
