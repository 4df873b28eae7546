"""``load_patient``: any CT folder, IRCAD zip or NIfTI to a canonical HU volume + masks.

Which path is a patient is :mod:`ctseg_core.io.discovery`'s rule; where its CT and masks are is
:mod:`ctseg_core.io.layout`'s; this module reads the pixels into a :class:`Patient`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ctseg_core.errors import AllFilesCorruptError, CtsegError, EmptyFolderError, NoDicomError, NotACtError
from ctseg_core.io.dicom import SliceHeader, read_headers, summarise
from ctseg_core.io.dicomdir import read_dicomdir
from ctseg_core.io.ground_truth_files import LABEL_SOP_CLASSES, label_file_masks
from ctseg_core.io.hu_checks import describe_mask, hu_offset_problem, mask_values
from ctseg_core.io.itk_image import is_itk_image, load_itk_patient
from ctseg_core.io.layout import PatientLayout, resolve_layout
from ctseg_core.io.masks import load_mask
from ctseg_core.io.memory_budget import out_of_memory
from ctseg_core.io.nifti import load_nifti_patient
from ctseg_core.io.patient import Patient, SourceGrid
from ctseg_core.io.series import (
    OrderedSeries,
    SeriesSummary,
    SlicesUnreadable,
    choose_series,
    mask_like_series,
    order_series,
    read_volume,
    summarise_series,
)
from ctseg_core.io.sources import DicomSource
from ctseg_core.orientation import canonicalise, oblique_warnings
from ctseg_core.progress import CancelCheck, ProgressCallback

MaskSelection = Literal["all"] | Sequence[str] | None


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
    try:
        return _load(path, series_uid, masks, progress, should_cancel)
    except MemoryError as exc:  # a real out-of-memory the size check could not foresee
        raise out_of_memory(path, "loading") from exc


def _load(
    path: str | Path,
    series_uid: str | None,
    masks: MaskSelection,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> Patient:
    started = time.perf_counter()
    layout = resolve_layout(path)
    label_files = list(layout.label_files)
    if isinstance(layout.ct, Path):
        patient = load_itk_patient(layout.ct) if is_itk_image(layout.ct) else load_nifti_patient(layout.ct)
    else:
        patient, dicom_labels = _load_dicom_ct(
            layout, layout.ct, series_uid or layout.series_uid, progress, should_cancel
        )
        label_files += dicom_labels
    _check_values(patient)
    beside, beside_warnings = label_file_masks(patient, label_files, taken=layout.masks)
    patient.mask_sources = dict(layout.masks) | beside
    patient.warnings.extend(layout.warnings)
    patient.warnings.extend(beside_warnings)
    wanted = list(patient.mask_sources) if masks == "all" else [] if masks is None else list(masks)
    _load_masks(patient, [name for name in wanted if name in patient.mask_sources], progress, should_cancel)
    patient.load_seconds = time.perf_counter() - started
    return patient


def _check_values(patient: Patient) -> None:
    """Refuse a volume that is a mask saved as a scan; warn about HU stored with an offset."""
    values = mask_values(patient.hu)
    if values is not None:
        raise NotACtError(patient.source_path, f"not a CT: {describe_mask(values)}; open the CT itself")
    problem = hu_offset_problem(patient.hu)
    if problem is not None:
        patient.warnings.append(problem)


def _load_masks(
    patient: Patient, names: list[str], progress: ProgressCallback | None, should_cancel: CancelCheck | None
) -> None:
    """Load the named masks; a broken mask is a warning and a ``mask_errors`` entry, never a CT that fails."""
    for name in names:
        try:
            patient.masks[name] = load_mask(patient, name, progress=progress, should_cancel=should_cancel)
        except CtsegError as error:
            patient.mask_errors[name] = str(error)
            patient.warnings.append(f"mask {name!r} not loaded: {error}")


def _load_dicom_ct(
    layout: PatientLayout,
    source: DicomSource,
    series_uid: str | None,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> tuple[Patient, list[Path]]:
    """Headers → the chosen series in order → its pixels → a canonical Patient; and the SEG and RTSTRUCT
    files among the headers (its ground truth, when they reference it)."""
    label = str(layout.path)
    try:
        headers, warnings = read_headers(source, progress, should_cancel, empty_label=label)
    except (EmptyFolderError, NoDicomError) as error:
        raise _with_dicomdir(layout.path, error) from error
    warnings += _dicomdir_warnings(layout.path)
    label_files = (
        [Path(h.entry) for h in headers if h.sop_class_uid in LABEL_SOP_CLASSES] if source.is_file_backed() else []
    )
    masks_like = mask_like_series(source, headers)
    members, others, series_warnings = choose_series(headers, label, series_uid, masks_like)
    _let_go_of_others(source, headers, members)
    series, stack, skipped = _read_readable(source, members, label, progress, should_cancel)
    warnings = warnings + skipped + series_warnings + series.warnings + oblique_warnings(series.geometry)
    return _dicom_patient(layout.path, series, stack, others, warnings), label_files


def _let_go_of_others(source: DicomSource, headers: list[SliceHeader], members: list[SliceHeader]) -> None:
    """Zip bytes kept for slices of the series not loaded are let go before the volume is allocated."""
    chosen = {id(h) for h in members}
    release = getattr(source, "release", None)
    for header in headers:
        if header.raw is not None and id(header) not in chosen:
            if release is not None:
                release(len(header.raw))
            header.raw = None


def _index_folder(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _with_dicomdir(path: Path, error: CtsegError) -> CtsegError:
    """A folder without images that holds a DICOMDIR: say what its index lists and what is missing."""
    index = read_dicomdir(_index_folder(path))
    if index is None:
        return error
    return NoDicomError(path, f"no DICOM image here: {index.describe()}")


def _dicomdir_warnings(path: Path) -> list[str]:
    """Files a DICOMDIR beside the images lists that are not there (a partial copy of a disc)."""
    index = read_dicomdir(_index_folder(path))
    return [index.describe()] if index is not None and (index.missing or index.problem) else []


def _read_readable(
    source: DicomSource,
    members: list[SliceHeader],
    label: str,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> tuple[OrderedSeries, np.ndarray, list[str]]:
    """The series ordered and read; slices whose pixels cannot be read are dropped (with a warning) and
    the rest ordered and read again, as corrupt files are at the header pass. None readable is an error."""
    series = order_series(members, label)
    try:
        return series, read_volume(source, series, progress, should_cancel), []
    except SlicesUnreadable as unreadable:
        failed = {id(header) for header, _ in unreadable.failures}
        problems = [str(error) for _, error in unreadable.failures]
    readable = [h for h in members if id(h) not in failed]
    if not readable:
        raise AllFilesCorruptError(
            label, f"the pixel data of all {len(members)} slices is unreadable; first: {problems[0]}"
        )
    series = order_series(readable, label)
    warnings = summarise(
        [f"skipped slice whose pixels cannot be read: {p}" for p in problems], "unreadable slices skipped"
    )
    return series, read_volume(source, series, progress, should_cancel), warnings


def _dicom_patient(
    path: Path, series: OrderedSeries, stack: np.ndarray, others: list[SeriesSummary], warnings: list[str]
) -> Patient:
    """The Patient of an ordered series and its stored pixel stack, on the canonical grid."""
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
        source_path=path,
        source=grid,
        patient_name=first.patient_name,
        patient_id=first.patient_id,
        series_uid=first.series_uid,
        study_uid=first.study_uid,
        frame_of_reference_uid=first.frame_of_reference_uid,
        series_description=first.series_description,
        other_series=others,
        warnings=warnings,
    )


def patient_series(
    path: str | Path, progress: ProgressCallback | None = None, should_cancel: CancelCheck | None = None
) -> list[SeriesSummary]:
    """The image series of a patient, largest CT first, from headers only: what a viewer lists for
    the user to pick one (then ``load_patient(path, series_uid=…)``). A NIfTI or ITK volume is one
    series without a UID (an empty list here)."""
    layout = resolve_layout(path)
    if isinstance(layout.ct, Path):
        return []
    headers, _ = read_headers(layout.ct, progress, should_cancel, empty_label=str(layout.path))
    return summarise_series(headers)
