"""Masks: reading them onto a patient's CT grid (DICOM per-slice masks, NIfTI labels).

DICOM mask slices pair with the *stored* CT slices (at the same position along the slice normal;
where masks carry no position, by file name, IRCAD's ``image_K``, then by index) and the stored stack
is then brought to the canonical grid, so a mask of a flipped or coronal scan lands where it belongs.
Writers do the reverse: each mask file takes its CT slice's position, orientation and pixel layout.
Values are binarised with ``> 0``. A mask that does not fit the CT grid is an error,
never silently resampled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctseg_core.errors import MaskMismatchError
from ctseg_core.geometry import natural_sort_key, nearest_slice
from ctseg_core.io.dicom import SliceHeader, UnreadableSlice, read_headers, read_stored_values, run_parallel
from ctseg_core.io.nifti import read_nifti_mask
from ctseg_core.io.patient import Patient, SourceGrid
from ctseg_core.io.sources import DicomSource, FolderSource
from ctseg_core.progress import CancelCheck, ProgressCallback

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
        mask = read_nifti_mask(source.path, patient)
    elif isinstance(source, DicomMaskSource):
        mask = _read_dicom_mask(source.source, patient, progress, should_cancel)
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


def write_ircad_mask(
    mask: np.ndarray,
    patient: Patient,
    out_dir: Path,
    name: str = "liver",
    should_cancel: CancelCheck | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write ``MASKS_DICOM/<name>/image_K`` (8-bit, 0/255) on the CT slices' geometry.

    Each file references its source CT slice (ReferencedImageSequence) and shares the study and
    frame of reference, so other tools place it on the scan. The folder appears atomically: it is
    written under a temporary name and renamed, and a cancelled write leaves nothing behind.
    """
    import shutil
    import tempfile

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    from ctseg_core.progress import raise_if_cancelled

    if mask.shape != patient.shape:
        raise MaskMismatchError(out_dir, f"mask is {mask.shape}, CT is {patient.shape}: grids must match")
    grid = patient.source
    stored = grid.to_source(np.asarray(mask, dtype=bool), mask=True)
    target = Path(out_dir) / "MASKS_DICOM" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    series_uid = generate_uid()
    geometry = grid.geometry
    orientation = list(geometry.row_direction) + list(geometry.column_direction)
    try:
        for k in range(stored.shape[0]):
            raise_if_cancelled(should_cancel)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = meta.MediaStorageSOPClassUID
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.Modality = "OT"
            ds.PatientName = patient.patient_name
            ds.PatientID = patient.patient_id
            ds.StudyInstanceUID = patient.study_uid or generate_uid()
            ds.SeriesInstanceUID = series_uid
            ds.FrameOfReferenceUID = patient.frame_of_reference_uid or generate_uid()
            ds.SeriesDescription = f"ctseg {name} mask"
            ds.InstanceNumber = k + 1
            ds.ImagePositionPatient = _slice_position(patient, k)
            ds.ImageOrientationPatient = [float(v) for v in orientation]
            ds.PixelSpacing = [geometry.spacing_mm[1], geometry.spacing_mm[2]]
            ds.SliceThickness = geometry.spacing_mm[0]
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows, ds.Columns = stored.shape[1:]
            ds.BitsAllocated = 8
            ds.BitsStored = 8
            ds.HighBit = 7
            ds.PixelRepresentation = 0
            if k < len(grid.sop_instance_uids) and grid.sop_instance_uids[k]:
                reference = Dataset()
                reference.ReferencedSOPClassUID = _CT_IMAGE_STORAGE
                reference.ReferencedSOPInstanceUID = grid.sop_instance_uids[k]
                frame = grid.frame_numbers[k] if k < len(grid.frame_numbers) else None
                if frame is not None:
                    reference.ReferencedSOPClassUID = _ENHANCED_CT_IMAGE_STORAGE
                    reference.ReferencedFrameNumber = frame
                ds.ReferencedImageSequence = [reference]
            ds.PixelData = (stored[k].astype(np.uint8) * 255).tobytes()
            ds.save_as(staging / f"image_{k}", enforce_file_format=True)
            if progress:
                progress(k + 1, stored.shape[0], "writing mask")
        backup = target.with_name(f".{name}.old")
        if target.exists():
            os.replace(target, backup)
        os.replace(staging, target)
        shutil.rmtree(backup, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _slice_position(patient: Patient, k: int) -> list[float]:
    """ImagePositionPatient of stored CT slice k: its own measured position where it had one."""
    grid = patient.source
    if grid.positions_lps is not None:
        return [float(v) for v in grid.positions_lps[k]]
    return [float(v) for v in grid.geometry.slice_position_mm(k)]
