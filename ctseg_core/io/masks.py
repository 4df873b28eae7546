"""Masks: reading them onto a patient's CT grid (DICOM per-slice masks, NIfTI labels).

DICOM mask slices pair with the *stored* CT slices (at the same position along the slice normal;
where masks carry no position, by file name, IRCAD's ``image_K``, then by index) and the stored stack
is then brought to the canonical grid, so a mask of a flipped or coronal scan lands where it belongs.
Writers do the reverse: each mask file takes its CT slice's position, orientation and pixel layout.
Values are binarised with ``> 0``. A mask that does not fit the CT grid is an error,
never silently resampled.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import SecondaryCaptureImageStorage, generate_uid

from ctseg_core._version import __version__
from ctseg_core.errors import GroundTruthProtectedError, InvalidLabelNameError, MaskMismatchError
from ctseg_core.geometry import natural_sort_key, nearest_slice
from ctseg_core.io.dicom import SliceHeader, UnreadableSlice, read_headers, read_stored_values, run_parallel
from ctseg_core.io.dicom_build import ImagePlane, SeriesIds, image_dataset
from ctseg_core.io.nifti import read_nifti_ground_truth
from ctseg_core.io.patient import Patient, SourceGrid
from ctseg_core.io.sources import DicomSource, FolderSource
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
_ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"


@dataclass(frozen=True)
class DicomMaskSource:
    """A folder (or zip prefix) of single-slice DICOM masks, e.g. ``MASKS_DICOM/liver``."""

    source: DicomSource


@dataclass(frozen=True)
class NiftiMaskSource:
    """A NIfTI label volume; voxels with label > 0 are in the mask."""

    path: Path


def load_mask(
    patient: Patient,
    name: str,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> np.ndarray:
    """Read mask ``name`` of a patient onto its CT grid, as bool [z, y, x]; cached in ``patient.masks``."""
    if name in patient.masks:
        return patient.masks[name]
    source = patient.mask_sources.get(name)
    if source is None:
        raise KeyError(f"no mask named {name!r}; available: {', '.join(patient.available_masks)}")
    if isinstance(source, NiftiMaskSource):
        mask = read_nifti_ground_truth(source.path, patient, name)
    elif isinstance(source, DicomMaskSource):
        mask = _read_dicom_mask(source.source, patient, progress, should_cancel)
    elif callable(read := getattr(source, "read_mask", None)):  # a segment of a label file (io.ground_truth_files)
        mask = read(patient)
    else:
        raise TypeError(f"unknown mask source {source!r}")
    patient.masks[name] = mask
    return mask


def read_mask_folder(
    folder: str | Path,
    patient: Patient,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> np.ndarray:
    """A folder of single-slice DICOM masks (e.g. an IRCAD ``MASKS_DICOM/<organ>``) on the patient's grid."""
    return _read_dicom_mask(FolderSource(Path(folder)), patient, progress, should_cancel)


def _read_dicom_mask(
    source: DicomSource,
    patient: Patient,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> np.ndarray:
    """Mask slices paired with the stored CT slices, then brought to the canonical grid."""
    try:
        headers, _ = read_headers(source, progress, should_cancel, strict=True)
    except UnreadableSlice as error:
        raise MaskMismatchError(error.path, f"corrupt mask file: {error.problem}") from error
    images = [h for h in headers if h.is_image]
    grid = patient.source
    depth, rows, columns = grid.shape
    if len(images) != depth:
        raise MaskMismatchError(source.label, f"{len(images)} mask slices for {depth} CT slices: counts must match")
    for header in images:
        if (header.rows, header.columns) != (rows, columns):
            raise MaskMismatchError(
                header.name,
                f"mask is {header.rows}×{header.columns}, CT is {rows}×{columns}: grids must match",
            )
        _check_same_plane_grid(header, grid)
    indices = _pair_with_ct(images, patient, source.label)
    stored = np.zeros(grid.shape, dtype=bool)

    def read_one(i: int) -> None:
        np.greater(read_stored_values(source, images[i]), 0, out=stored[indices[i]])
        images[i].raw = None

    for result in run_parallel(list(range(len(images))), read_one, "reading mask", progress, should_cancel):
        if isinstance(result, UnreadableSlice):
            raise MaskMismatchError(source.label, str(result))
        if isinstance(result, BaseException):
            raise result
    return grid.to_canonical(stored, mask=True)


def _check_same_plane_grid(header: SliceHeader, grid: SourceGrid) -> None:
    """A mask slice must share the CT's pixel spacing and orientation, or it lies on another grid."""
    _, dy, dx = grid.geometry.spacing_mm
    if header.pixel_spacing is not None and not np.allclose(header.pixel_spacing, (dy, dx), rtol=1e-3):
        raise MaskMismatchError(
            header.name,
            f"mask PixelSpacing {list(header.pixel_spacing)} differs from the CT's [{dy:g}, {dx:g}]: "
            "another grid, not resampled",
        )
    if header.orientation is not None:
        expected = np.concatenate([grid.geometry.row_direction, grid.geometry.column_direction])
        if not np.allclose(np.asarray(header.orientation), expected, atol=1e-3):
            raise MaskMismatchError(
                header.name,
                f"mask ImageOrientationPatient {list(header.orientation)} differs from the CT's: another grid",
            )


def _pair_with_ct(images: list[SliceHeader], patient: Patient, label: str) -> list[int]:
    """Stored CT slice index of each mask slice: by position, else by file name, else by order."""
    grid = patient.source
    positions = grid.positions_along_normal()
    if positions is not None and grid.positions_lps is not None and all(h.position is not None for h in images):
        normal = grid.geometry.normal
        tolerance = max(0.01, 0.1 * min(grid.geometry.spacing_mm[1:]))
        indices = []
        for header in images:
            position = np.asarray(header.position, dtype=np.float64)
            along = float(np.dot(normal, position))
            nearest = nearest_slice(positions, along, grid.geometry.spacing_mm[0])
            if nearest is None:
                raise MaskMismatchError(
                    header.name, f"mask slice at {along:.3f} mm along the normal matches no CT slice"
                )
            shift = float(np.linalg.norm(position - grid.positions_lps[nearest]))
            if shift > tolerance + abs(along - positions[nearest]):
                raise MaskMismatchError(
                    header.name, f"mask slice is shifted {shift:.2f} mm in-plane from its CT slice: another grid"
                )
            indices.append(nearest)
        if len(set(indices)) != len(indices):
            raise MaskMismatchError(label, "two mask slices share one CT slice position")
        return indices
    ct_by_name = {os.path.basename(n): i for i, n in enumerate(grid.slice_names)}
    by_name = [ct_by_name.get(os.path.basename(h.name)) for h in images]
    if all(i is not None for i in by_name) and len(set(by_name)) == len(by_name):
        return [int(i) for i in by_name if i is not None]
    order = sorted(range(len(images)), key=lambda i: natural_sort_key(images[i].name))
    indices = [0] * len(images)
    for slice_index, image_index in enumerate(order):
        indices[image_index] = slice_index
    return indices


#: Longest label name accepted (a folder name that stays portable inside long patient paths).
LABEL_NAME_MAX = 100
#: Folder names of the IRCAD layout itself, never a label's.
_LAYOUT_FOLDERS = frozenset({"MASKS_DICOM", "PATIENT_DICOM"})
#: Device names Windows reserves in every folder (with or without an extension).
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]}
)
_FORBIDDEN_CHARACTERS = frozenset('<>:"/\\|?*')
#: Manufacturer written into every mask slice ctseg writes: how a ctseg folder is told from ground truth.
CTSEG_MANUFACTURER = "ctseg"


def validate_label_name(name: str, where: str | Path | None = None) -> str:
    """``name`` when it can be a label's mask folder ``MASKS_DICOM/<name>``; else InvalidLabelNameError.

    Refused: empty, all dots (``.`` would replace the whole MASKS_DICOM folder, ``..`` its
    parent), a leading dot (a hidden folder every loader skips), leading or trailing whitespace
    or a trailing dot, path separators, NUL, control and other characters Windows forbids
    (``<>:"/\\|?*``), the layout's own folder names (``MASKS_DICOM``, ``PATIENT_DICOM``, any case),
    Windows device names (``CON``, ``NUL``, ``COM1``…, also with an extension) and names over
    LABEL_NAME_MAX characters. ``where`` (the folder it would go into) is named in the error.
    """

    def refuse(problem: str) -> InvalidLabelNameError:
        return InvalidLabelNameError(where, f"label name {name!r} {problem}")

    if not isinstance(name, str):
        raise InvalidLabelNameError(where, f"label name must be text, got {type(name).__name__}")
    if not name:
        raise refuse("is empty")
    if name != name.strip():
        raise refuse("has leading or trailing whitespace")
    if set(name) == {"."}:
        raise refuse("is not a folder name (only dots)")
    if name.startswith("."):
        raise refuse("starts with a dot: it would be a hidden folder that loaders skip")
    bad = sorted({c for c in name if c in _FORBIDDEN_CHARACTERS or ord(c) < 32 or ord(c) == 127})
    if bad or (os.sep in name) or (os.altsep and os.altsep in name):
        shown = ", ".join(repr(c) for c in bad) or repr(os.sep)
        raise refuse(f'contains {shown}: path separators and characters such as <>:"|?* are not allowed')
    if name.endswith("."):
        raise refuse("ends with a dot")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse("is not valid text (undecodable bytes)") from None
    if name.upper() in _LAYOUT_FOLDERS:
        raise refuse("is a folder of the IRCAD layout itself, not a label")
    if name.split(".")[0].rstrip().upper() in _WINDOWS_RESERVED:
        raise refuse("is a device name reserved on Windows")
    if len(name) > LABEL_NAME_MAX:
        raise refuse(f"is {len(name)} characters long (at most {LABEL_NAME_MAX})")
    return name


def is_ctseg_mask_folder(folder: str | Path) -> bool:
    """Whether a mask folder was written by ctseg (an empty folder counts: there is nothing to lose).

    Its slices say Manufacturer "ctseg" (earlier versions: Modality OT, SeriesDescription
    "ctseg <name> mask"). Anything else, unreadable files included, is taken as ground truth.
    """
    import pydicom

    folder = Path(folder)
    try:
        entries = sorted(
            (p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: natural_sort_key(p.name)
        )
    except OSError:
        return False
    files = [p for p in entries if p.is_file()]
    if not files:
        return not entries  # only sub-folders: not ours
    try:
        ds = pydicom.dcmread(
            files[0], stop_before_pixels=True, specific_tags=["Manufacturer", "Modality", "SeriesDescription"]
        )
    except Exception:  # not DICOM, truncated, unreadable: not a file ctseg wrote
        return False
    if str(ds.get("Manufacturer", "")) == CTSEG_MANUFACTURER:
        return True
    description = str(ds.get("SeriesDescription", ""))
    return str(ds.get("Modality", "")) == "OT" and description.startswith("ctseg ") and description.endswith(" mask")


def zipped_mask_names(archive: Path) -> set[str]:
    """Mask names ``<name>`` with members ``MASKS_DICOM/<name>/…`` in an IRCAD ``MASKS_DICOM.zip``."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return set()
    return {m.split("/")[1] for m in members if m.startswith("MASKS_DICOM/") and m.count("/") >= 2}


def refuse_to_replace_ground_truth(out_dir: Path, name: str) -> None:
    """GroundTruthProtectedError when ``out_dir/MASKS_DICOM/<name>`` is (or would hide) ground truth.

    Ground truth is a mask folder ctseg did not write (:func:`is_ctseg_mask_folder`), or mask
    ``<name>`` inside ``out_dir/MASKS_DICOM.zip``, which a folder of that name would shadow.
    """
    target = Path(out_dir) / "MASKS_DICOM" / name
    if target.is_dir():
        if not is_ctseg_mask_folder(target):
            raise GroundTruthProtectedError(
                target,
                "is the ground truth (a mask folder ctseg did not write): it is never replaced unless "
                "asked to (replace_ground_truth=True); save the label under another name",
            )
        return
    archive = Path(out_dir) / "MASKS_DICOM.zip"
    if archive.is_file() and name in zipped_mask_names(archive):
        raise GroundTruthProtectedError(
            archive,
            f"holds the ground truth {name!r} (MASKS_DICOM/{name}/): writing {target} would hide it; "
            "save the label under another name, or pass replace_ground_truth=True",
        )


def write_ircad_mask(
    mask: np.ndarray,
    patient: Patient,
    out_dir: Path,
    name: str = "liver",
    should_cancel: CancelCheck | None = None,
    progress: ProgressCallback | None = None,
    replace_ground_truth: bool = False,
    series_number: int | None = None,
) -> Path:
    """Write ``MASKS_DICOM/<name>/image_K`` (8-bit, 0/255) on the CT slices' geometry.

    Each file references its source CT slice (ReferencedImageSequence) and shares the study and
    frame of reference, so other tools place it on the scan. The folder appears atomically
    (:func:`ctseg_core.io.atomic.atomic_folder`): a cancelled, failed or killed write leaves the
    previous folder (or nothing). ``name`` must pass :func:`validate_label_name`; an existing
    ground-truth folder (or a mask of that name in ``MASKS_DICOM.zip``) is only replaced with
    ``replace_ground_truth=True``. Every slice says Manufacturer "ctseg", which is how the next
    write tells this folder from ground truth. ``series_number`` (a segment's label value, see
    :mod:`ctseg_core.io.ircad_labels`) is written as the slices' SeriesNumber.
    """
    from ctseg_core.io.atomic import atomic_folder

    out_dir = Path(out_dir)
    validate_label_name(name, where=out_dir / "MASKS_DICOM")
    if mask.shape != patient.shape:
        raise MaskMismatchError(out_dir, f"mask is {mask.shape}, CT is {patient.shape}: grids must match")
    grid = patient.source
    stored = grid.to_source(np.asarray(mask, dtype=bool), mask=True)
    target = out_dir / "MASKS_DICOM" / name
    if not replace_ground_truth:  # before anything is created (an empty MASKS_DICOM hides MASKS_DICOM.zip)
        refuse_to_replace_ground_truth(out_dir, name)
    created_beside_zip = not target.parent.exists() and (out_dir / "MASKS_DICOM.zip").is_file()
    try:
        with atomic_folder(target) as staging:
            if not replace_ground_truth:  # again, now that an interrupted write's backup is restored
                refuse_to_replace_ground_truth(out_dir, name)
            ids = _mask_series_ids(patient)
            _write_mask_slices(stored, patient, staging, name, ids, should_cancel, progress, series_number)
    except BaseException:
        if created_beside_zip:
            with contextlib.suppress(OSError):
                target.parent.rmdir()  # only when empty
        raise
    return target


def _write_mask_slices(
    stored: np.ndarray,
    patient: Patient,
    folder: Path,
    name: str,
    ids: SeriesIds,
    should_cancel: CancelCheck | None,
    progress: ProgressCallback | None,
    series_number: int | None = None,
) -> None:
    """The ``image_K`` files of a mask in stored slice order, on the CT slices' geometry."""
    for k in range(stored.shape[0]):
        raise_if_cancelled(should_cancel)
        ds = _mask_slice_dataset(stored[k], patient, k, name, ids)
        if series_number is not None:
            ds.SeriesNumber = series_number
        ds.save_as(folder / f"image_{k}", enforce_file_format=True)
        if progress:
            progress(k + 1, stored.shape[0], "writing mask")


def _mask_series_ids(patient: Patient) -> SeriesIds:
    """A new mask series' identity: the CT's patient, study and frame of reference.

    A CT without a study or frame-of-reference UID gets new ones, once for the whole mask series, so
    every slice of the mask names the same study and frame.
    """
    return SeriesIds(
        patient.patient_name,
        patient.patient_id,
        patient.study_uid or generate_uid(),
        generate_uid(),
        patient.frame_of_reference_uid or generate_uid(),
    )


def _mask_slice_dataset(pixels: np.ndarray, patient: Patient, k: int, name: str, ids: SeriesIds) -> Dataset:
    """Slice ``k`` of a mask (0/255) on stored CT slice k's plane, referencing that slice."""
    geometry = patient.source.geometry
    plane = ImagePlane(
        _slice_position(patient, k),
        [float(v) for v in list(geometry.row_direction) + list(geometry.column_direction)],
        [geometry.spacing_mm[1], geometry.spacing_mm[2]],
        geometry.spacing_mm[0],
    )
    ds = image_dataset(
        SecondaryCaptureImageStorage,
        ids,
        "OT",
        pixels.astype(np.uint8) * 255,
        instance_number=k + 1,
        plane=plane,
        Manufacturer=CTSEG_MANUFACTURER,
        SoftwareVersions=__version__,
        SeriesDescription=f"ctseg {name} mask",
    )
    reference = _source_reference(patient.source, k)
    if reference is not None:
        ds.ReferencedImageSequence = [reference]
    return ds


def _source_reference(grid: SourceGrid, k: int) -> Dataset | None:
    """The CT slice (or Enhanced CT frame) stored slice k came from, for ReferencedImageSequence."""
    if k >= len(grid.sop_instance_uids) or not grid.sop_instance_uids[k]:
        return None
    reference = Dataset()
    reference.ReferencedSOPClassUID = _CT_IMAGE_STORAGE
    reference.ReferencedSOPInstanceUID = grid.sop_instance_uids[k]
    frame = grid.frame_numbers[k] if k < len(grid.frame_numbers) else None
    if frame is not None:
        reference.ReferencedSOPClassUID = _ENHANCED_CT_IMAGE_STORAGE
        reference.ReferencedFrameNumber = frame
    return reference


def _slice_position(patient: Patient, k: int) -> list[float]:
    """ImagePositionPatient of stored CT slice k: its own measured position where it had one."""
    grid = patient.source
    if grid.positions_lps is not None:
        return [float(v) for v in grid.positions_lps[k]]
    return [float(v) for v in grid.geometry.slice_position_mm(k)]
