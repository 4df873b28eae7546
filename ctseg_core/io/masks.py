"""Masks: reading them onto a patient's CT grid (DICOM per-slice masks, NIfTI labels).

A mask slice pairs with the CT slice at the same position along the slice normal; where masks
carry no position, with the CT slice of the same file name (IRCAD's ``image_K``), then with the
same index. Values are binarised with ``> 0``. A mask that does not fit the CT grid is an error,
never silently resampled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctseg_core.io.dicom import UnreadableSlice, read_stored_values, run_parallel
from ctseg_core.io.sources import DicomSource
from ctseg_core.errors import MaskMismatchError
from ctseg_core.geometry import nearest_slice
from ctseg_core.progress import CancelCheck, ProgressCallback


@dataclass(frozen=True)
class DicomMaskSource:
    """A folder (or zip prefix) of single-slice DICOM masks, e.g. ``MASKS_DICOM/liver``."""

    source: DicomSource


@dataclass(frozen=True)
class NiftiMaskSource:
    """A NIfTI label volume; voxels with label > 0 are in the mask."""

    path: Path


def load_mask(
    patient: "Patient",  # noqa: F821 - imported lazily to avoid a cycle
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
        from ctseg_core.io.nifti import read_nifti_mask

        mask = read_nifti_mask(source.path, patient)
    else:
        mask = _read_dicom_mask(source.source, patient, progress, should_cancel)
    patient.masks[name] = mask
    return mask


def read_mask_folder(
    folder: str | Path,
    patient: "Patient",  # noqa: F821
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> np.ndarray:
    """A folder of single-slice DICOM masks (e.g. an IRCAD ``MASKS_DICOM/<organ>``) on the patient's grid."""
    from ctseg_core.io.sources import FolderSource

    return _read_dicom_mask(FolderSource(Path(folder)), patient, progress, should_cancel)


def _read_dicom_mask(
    source: DicomSource,
    patient: "Patient",  # noqa: F821
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> np.ndarray:
    from ctseg_core.io.loading import read_headers

    headers, _ = read_headers(source, progress, should_cancel)
    images = [h for h in headers if h.is_image]
    depth, rows, columns = patient.shape
    if len(images) != depth:
        raise MaskMismatchError(
            source.label, f"{len(images)} mask slices for {depth} CT slices: counts must match"
        )
    for header in images:
        if (header.rows, header.columns) != (rows, columns):
            raise MaskMismatchError(
                header.name,
                f"mask is {header.rows}×{header.columns}, CT is {rows}×{columns}: grids must match",
            )
    indices = _pair_with_ct(images, patient, source.label)
    mask = np.zeros(patient.shape, dtype=bool)

    def read_one(i: int) -> None:
        np.greater(read_stored_values(source, images[i]), 0, out=mask[indices[i]])
        images[i].raw = None

    for result in run_parallel(list(range(len(images))), read_one, "reading mask", progress, should_cancel):
        if isinstance(result, UnreadableSlice):
            raise MaskMismatchError(source.label, str(result))
        if isinstance(result, BaseException):
            raise result
    return mask


def _pair_with_ct(images: list, patient: "Patient", label: str) -> list[int]:  # noqa: F821
    """CT slice index of each mask slice: by position, else by file name, else by order."""
    positions = patient.slice_positions_mm
    if positions is not None and all(h.position is not None for h in images):
        normal = patient.geometry.normal
        indices = []
        for header in images:
            along = float(np.dot(normal, header.position))
            nearest = nearest_slice(positions, along, patient.spacing_mm[0])
            if nearest is None:
                raise MaskMismatchError(header.name, f"mask slice at {along:.3f} mm along the normal matches no CT slice")
            indices.append(nearest)
        if len(set(indices)) != len(indices):
            raise MaskMismatchError(label, "two mask slices share one CT slice position")
        return indices
    ct_by_name = {os.path.basename(n): i for i, n in enumerate(patient.slice_names)}
    by_name = [ct_by_name.get(os.path.basename(h.name)) for h in images]
    if all(i is not None for i in by_name) and len(set(by_name)) == len(by_name):
        return by_name  # type: ignore[return-value]
    from ctseg_core.geometry import natural_sort_key

    order = sorted(range(len(images)), key=lambda i: natural_sort_key(images[i].name))
    indices = [0] * len(images)
    for slice_index, image_index in enumerate(order):
        indices[image_index] = slice_index
    return indices


def write_ircad_mask(
    mask: np.ndarray,
    patient: "Patient",  # noqa: F821
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

    target = Path(out_dir) / "MASKS_DICOM" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    series_uid = generate_uid()
    geometry = patient.geometry
    orientation = list(geometry.row_direction) + list(geometry.column_direction)
    try:
        for k in range(mask.shape[0]):
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
            ds.Rows, ds.Columns = mask.shape[1:]
            ds.BitsAllocated = 8
            ds.BitsStored = 8
            ds.HighBit = 7
            ds.PixelRepresentation = 0
            if k < len(patient.sop_instance_uids) and patient.sop_instance_uids[k]:
                reference = Dataset()
                reference.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
                reference.ReferencedSOPInstanceUID = patient.sop_instance_uids[k]
                ds.ReferencedImageSequence = [reference]
            ds.PixelData = (mask[k].astype(np.uint8) * 255).tobytes()
            ds.save_as(staging / f"image_{k}", enforce_file_format=True)
            if progress:
                progress(k + 1, mask.shape[0], "writing mask")
        backup = target.with_name(f".{name}.old")
        if target.exists():
            os.replace(target, backup)
        os.replace(staging, target)
        shutil.rmtree(backup, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _slice_position(patient: "Patient", k: int) -> list[float]:  # noqa: F821
    """ImagePositionPatient of CT slice k: the in-plane origin moved along the normal to its position."""
    geometry = patient.geometry
    if patient.slice_positions_mm is None:
        return [float(v) for v in geometry.slice_position_mm(k)]
    origin = np.asarray(geometry.origin_mm)
    normal = geometry.normal
    along = float(patient.slice_positions_mm[k]) - float(np.dot(normal, origin))  # type: ignore[index]
    return [float(v) for v in origin + normal * along]
