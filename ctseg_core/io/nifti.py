"""NIfTI volumes and labels (nibabel), mapped exactly onto ctseg's [z, y, x] LPS grid.

NIfTI stores RAS millimetres; DICOM and ctseg use LPS, so x and y flip between the two. A label
volume is accepted when its grid is the CT grid up to axis permutation and flips; anything that
would need resampling is refused with a clear error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.geometry import SLICE_ORDER_POSITION, VolumeGeometry

_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _load(path: Path):  # type: ignore[no-untyped-def]
    import nibabel as nib

    try:
        return nib.load(str(path))
    except Exception as exc:  # nibabel raises several types for bad files
        raise CtsegError(path, f"not a readable NIfTI file ({exc})") from exc


def geometry_from_affine(affine_ras: np.ndarray, shape_xyz: tuple[int, int, int]) -> tuple[VolumeGeometry, bool]:
    """ctseg geometry of a NIfTI grid, and whether its third axis runs against the slice normal.

    When it does, the caller flips the third axis so positions increase with the slice index.
    """
    affine = _LPS_FROM_RAS @ np.asarray(affine_ras, dtype=np.float64)
    columns = affine[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    if np.any(spacing == 0):
        raise ValueError("degenerate NIfTI affine")
    row_dir, col_dir, slice_dir = (columns / spacing).T
    normal = np.cross(row_dir, col_dir)
    flip = float(np.dot(normal, slice_dir)) < 0
    origin = affine[:3, 3] + (slice_dir * spacing[2] * (shape_xyz[2] - 1) if flip else 0.0)
    geometry = VolumeGeometry(
        tuple(float(v) for v in origin),  # type: ignore[arg-type]
        tuple(float(v) for v in row_dir),  # type: ignore[arg-type]
        tuple(float(v) for v in col_dir),  # type: ignore[arg-type]
        (float(spacing[2]), float(spacing[1]), float(spacing[0])),
    )
    return geometry, flip


def load_nifti_patient(path: Path) -> "Patient":  # noqa: F821
    """A NIfTI CT volume as a Patient (HU from the NIfTI scaling, kept as int16)."""
    from ctseg_core.io.patient import Patient

    image = _load(path)
    if len(image.shape) != 3:
        raise CtsegError(path, f"expected a 3D volume, found shape {image.shape}")
    geometry, flip = geometry_from_affine(image.affine, image.shape)
    nx, ny, nz = image.shape
    hu = np.empty((nz, ny, nx), dtype=np.int16)
    for k in range(nz):
        plane = np.asarray(image.dataobj[:, :, k])
        hu[nz - 1 - k if flip else k] = np.clip(np.rint(plane), -32768, 32767).astype(np.int16).T
    positions = np.array(
        [float(np.dot(geometry.normal, geometry.slice_position_mm(k))) for k in range(nz)]
    )
    return Patient(
        hu=hu,
        geometry=geometry,
        slice_order=SLICE_ORDER_POSITION,
        source_path=path,
        patient_name=path.name.split(".")[0],
        series_description="NIfTI volume",
        slice_names=[f"{path.name}[{k}]" for k in range(nz)],
        slice_positions_mm=positions,
    )


def read_nifti_mask(path: Path, patient: "Patient") -> np.ndarray:  # noqa: F821
    """A NIfTI label on the patient's grid as bool [z, y, x] (label > 0, LiTS liver convention)."""
    image = _load(path)
    if len(image.shape) != 3:
        raise MaskMismatchError(path, f"expected a 3D label volume, found shape {image.shape}")
    ct_affine = patient.geometry.affine_ras()
    transform = np.linalg.inv(ct_affine) @ np.asarray(image.affine, dtype=np.float64)
    rotation = np.round(transform[:3, :3])
    is_permutation = np.allclose(transform[:3, :3], rotation, atol=1e-3) and all(
        np.count_nonzero(rotation[c]) == 1 for c in range(3)
    )
    if not is_permutation:
        raise MaskMismatchError(
            path, "label grid is rotated or scaled relative to the CT grid: it must be the same grid"
        )
    axes = [int(np.argmax(np.abs(rotation[c]))) for c in range(3)]
    data = np.asanyarray(image.dataobj)
    data = np.transpose(data, axes)
    expected_xyz = (patient.shape[2], patient.shape[1], patient.shape[0])
    if data.shape != expected_xyz:
        raise MaskMismatchError(path, f"label grid is {data.shape} (x, y, z), CT is {expected_xyz}")
    for c in range(3):
        negative = rotation[c, axes[c]] < 0
        offset = transform[c, 3] - (data.shape[c] - 1 if negative else 0)
        if abs(offset) > 1e-2:
            raise MaskMismatchError(path, f"label grid is shifted by {offset:.2f} voxels along axis {c}")
        if negative:
            data = np.flip(data, c)
    return np.ascontiguousarray(np.transpose(data > 0, (2, 1, 0)))


def write_nifti_mask(mask: np.ndarray, geometry: VolumeGeometry, path: Path) -> None:
    """Write a [z, y, x] mask as uint8 .nii(.gz) with the CT's RAS affine, atomically."""
    import nibabel as nib

    from ctseg_core.io.atomic import atomic_path

    image = nib.Nifti1Image(np.transpose(mask.astype(np.uint8), (2, 1, 0)), geometry.affine_ras())
    image.header.set_xyzt_units("mm")
    image.set_qform(geometry.affine_ras(), code=1)
    image.set_sform(geometry.affine_ras(), code=1)
    suffix = ".nii.gz" if str(path).endswith(".gz") else ".nii"
    with atomic_path(path, suffix=suffix) as temporary:
        nib.save(image, str(temporary))
