"""NIfTI volumes and labels (nibabel), brought to ctseg's canonical [z, y, x] LPS grid and back.

NIfTI stores RAS millimetres; DICOM and ctseg use LPS, so x and y flip between the two. A NIfTI CT
may be stored in any axis order (RAS, LPS, RPI…): the loader keeps the file's own affine and maps
the data to the canonical grid by permutation and flips only. A label is accepted when its grid is
the CT grid up to axis permutation and flips; anything that would need resampling is refused.
Labels are written in the CT's stored axis order with the CT's affine — for a NIfTI CT the file's
own affine, unchanged — so they overlay the source voxel for voxel in any tool. Label maps of several
named segments are written with their values and an ITK-SNAP label description beside them
(:mod:`ctseg_core.io.label_table`), and read back with their names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.geometry import SLICE_ORDER_POSITION, VolumeGeometry
from ctseg_core.io.atomic import atomic_path
from ctseg_core.io.hu_values import hu_as_int16
from ctseg_core.io.label_grid import onto_canonical
from ctseg_core.io.label_table import (
    integer_values,
    label_map_from_values,
    label_table_beside,
    label_table_path,
    write_label_table,
)
from ctseg_core.io.memory_budget import LOAD_BYTES_PER_VOXEL, check_fits, out_of_memory
from ctseg_core.io.patient import Patient, SourceGrid
from ctseg_core.io.segments import LabelMap, label_dtype, present_values
from ctseg_core.orientation import canonicalise, oblique_warnings

_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: Axes whose directions are further than this from orthogonal (cosine) make a sheared grid.
_SHEAR_TOLERANCE = 1e-3


#: The header description of every NIfTI ctseg writes (see :func:`written_by_ctseg_nifti`).
CTSEG_DESCRIP = "ctseg label"


def written_by_ctseg_nifti(path: Path) -> bool:
    """Whether a NIfTI file says ctseg wrote it (its description); unreadable files are not ctseg's."""
    try:
        descrip = bytes(np.asarray(_load(Path(path)).header["descrip"]).item()).rstrip(b"\0 ")
    except Exception:  # nibabel raises many kinds on a foreign or broken file: not ctseg's
        return False
    return descrip.decode("latin-1") == CTSEG_DESCRIP


def _load(path: Path) -> Any:  # nibabel's image classes have no common typed base
    import nibabel as nib

    try:
        return nib.load(str(path))
    except FileNotFoundError as exc:
        raise CtsegError(path, "file does not exist") from exc
    except Exception as exc:  # nibabel raises several types for bad files
        raise CtsegError(path, f"not a readable NIfTI file ({exc.__class__.__name__}: {exc})") from exc


def stored_geometry(affine_ras: np.ndarray, path: Path, kind: str = "NIfTI") -> VolumeGeometry:
    """The geometry of a NIfTI data array transposed to [k, j, i] (our stored-stack order); ``kind``
    names the format in messages (NRRD and MetaImage volumes pass their RAS affine here too).

    Refuses degenerate and sheared affines: a sheared grid (e.g. gantry tilt left uncorrected by
    the converter) cannot be shown or scored without resampling, which ctseg never does silently.
    """
    affine = _LPS_FROM_RAS @ np.asarray(affine_ras, dtype=np.float64)
    columns = affine[:3, :3]
    if not np.all(np.isfinite(affine)):
        raise CtsegError(path, f"{kind} affine holds NaN or infinite values")
    lengths = np.linalg.norm(columns, axis=0)
    if np.any(lengths < 1e-6):
        raise CtsegError(path, f"degenerate {kind} affine: voxel sizes {lengths.round(4).tolist()} mm")
    units = columns / lengths
    cosines = np.abs(units.T @ units - np.eye(3)).max()
    if cosines > _SHEAR_TOLERANCE:
        angle = float(np.degrees(np.arcsin(min(1.0, cosines))))
        raise CtsegError(
            path,
            f"sheared {kind} affine (axes {angle:.1f}° from orthogonal): ctseg needs an orthogonal voxel "
            "grid; resample the volume first (e.g. dcm2niix corrects gantry tilt)",
        )
    zyx = affine[:, [2, 1, 0, 3]]
    return VolumeGeometry.from_affine_zyx(zyx)


def load_nifti_patient(path: Path) -> Patient:
    """A NIfTI CT volume as a Patient on the canonical grid (HU from the NIfTI scaling, int16)."""
    image = _load(path)
    shape = tuple(image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3 or min(shape) < 1:
        raise CtsegError(path, f"expected a 3D volume, found shape {tuple(image.shape)}")
    source_geometry = stored_geometry(image.affine, path)
    check_fits(path, shape, np.dtype(image.get_data_dtype()).itemsize + LOAD_BYTES_PER_VOXEL)
    try:
        # one read: slicing a gzipped file plane by plane would inflate it again for every plane
        data = np.asanyarray(image.dataobj).reshape(shape)
    except MemoryError as exc:
        raise out_of_memory(path, "reading", shape) from exc
    except (OSError, EOFError, ValueError) as exc:
        raise CtsegError(path, f"NIfTI data cannot be read ({exc.__class__.__name__}: {exc})") from exc
    stack, warnings = hu_as_int16(data.transpose(2, 1, 0))
    del data  # the file's array goes before the canonical copy is made: two volumes at a time, not three
    warnings += _orientation_warnings(image.header)
    return volume_file_patient(
        path, stack, source_geometry, "nifti", "NIfTI volume", warnings, np.asarray(image.affine, dtype=np.float64)
    )


def volume_file_patient(
    path: Path,
    stack: np.ndarray,
    source_geometry: VolumeGeometry,
    kind: Literal["nifti", "itk"],
    description: str,
    warnings: list[str],
    nifti_affine: np.ndarray | None = None,
) -> Patient:
    """A one-file volume (NIfTI, NRRD, MetaImage) as a Patient: its stored int16 [k, j, i] stack on the
    canonical grid, named after the file, with the oblique-grid warnings before the reader's own."""
    reorientation, geometry = canonicalise(source_geometry, stack.shape)
    grid = SourceGrid(
        kind=kind,
        shape=stack.shape,
        geometry=source_geometry,
        reorientation=reorientation,
        slice_names=[f"{path.name}[{k}]" for k in range(stack.shape[0])],
        nifti_affine=nifti_affine,
    )
    return Patient(
        hu=grid.to_canonical(stack),
        geometry=geometry,
        slice_order=SLICE_ORDER_POSITION,
        source_path=path,
        source=grid,
        patient_name=path.name.split(".")[0],
        series_description=description,
        warnings=oblique_warnings(source_geometry) + warnings,
    )


#: A qform and an sform further apart than this (mm, on any affine entry) disagree.
_FORM_TOLERANCE_MM = 1e-2


def _orientation_warnings(header: Any) -> list[str]:
    """What a NIfTI header's orientation fields leave unsure: neither qform nor sform set (the position
    and orientation are nibabel's guess from the voxel sizes), or both set and different (the sform is
    used, as nibabel does; another tool may use the qform and put the scan elsewhere)."""
    sform, s_code = header.get_sform(coded=True)
    qform, q_code = header.get_qform(coded=True)
    if not s_code and not q_code:
        return [
            "neither qform nor sform is set in the NIfTI header: position and orientation are guessed "
            "from the voxel sizes (RAS, origin at the corner); overlays from other tools may not line up"
        ]
    if s_code and q_code and not np.allclose(sform, qform, atol=_FORM_TOLERANCE_MM):
        apart = float(np.abs(np.asarray(sform) - np.asarray(qform)).max())
        return [
            f"the NIfTI header's qform and sform disagree (by up to {apart:.2f}): the sform is used, as nibabel "
            "does; a tool that reads the qform shows this scan elsewhere"
        ]
    return []


def read_nifti_mask(path: Path, patient: Patient) -> np.ndarray:
    """A NIfTI label on the patient's canonical grid as bool [z, y, x] (label > 0, LiTS liver convention)."""
    return _label_on_grid(path, patient) > 0


#: A label file without a description holding more values than this is several structures, not one organ.
MAX_UNNAMED_VALUES = 2


def read_nifti_ground_truth(path: Path, patient: Patient, name: str) -> np.ndarray:
    """A NIfTI label read as the patient's ground-truth mask ``name``, as bool [z, y, x].

    One value: that value. Two (LiTS: 1 liver, 2 tumour inside it): every non-zero voxel, and a warning
    says so. More, with no label description to name them (TotalSegmentator's multi-label files): which
    value is ``name`` is unknown, so nothing is guessed (a MaskMismatchError listing the values; the
    loader reports it and the CT still opens). Files with a description are read segment by segment.
    """
    values = _label_on_grid(path, patient)
    present = [v for v in _present_label_values(values) if v != 0]
    if len(present) > MAX_UNNAMED_VALUES:
        listed = ", ".join(map(str, present[:8])) + (" …" if len(present) > 8 else "")
        raise MaskMismatchError(
            path,
            f"holds {len(present)} labels (values {listed}) and no label description naming them: which one is "
            f"{name!r} is unknown, so none is taken; add an ITK-SNAP description ({path.name.split('.')[0]}.txt) "
            "or save one structure per file",
        )
    if len(present) == 2:
        patient.warnings.append(
            f"{path.name} holds 2 labels (values {present[0]}, {present[1]}) and no label description: mask "
            f"{name!r} is every non-zero voxel (the LiTS convention: 1 liver, 2 tumour inside it)"
        )
    return values > 0


def _present_label_values(values: np.ndarray) -> list[int]:
    """The values in a label volume; 8- and 16-bit ones counted a few slices at a time (a bincount of the
    whole volume makes an int64 copy of it: 8 bytes a voxel, four times the CT)."""
    if values.dtype == bool:
        values = values.view(np.uint8)
    if values.dtype.kind == "u" and values.dtype.itemsize <= 2:
        counts = np.zeros(1 << (8 * values.dtype.itemsize), dtype=np.int64)
        for start in range(0, values.shape[0], 8):
            counts += np.bincount(values[start : start + 8].ravel(), minlength=counts.size)
        return [int(v) for v in np.flatnonzero(counts)]
    whole = values if values.dtype.kind in "ui" else np.rint(values).astype(np.int64)
    return present_values(whole)


def _label_on_grid(path: Path, patient: Patient) -> np.ndarray:
    """A NIfTI label's values on the patient's canonical grid [z, y, x] (the file's dtype)."""
    image = _load(path)
    if len(image.shape) != 3:
        raise MaskMismatchError(path, f"expected a 3D label volume, found shape {image.shape}")
    ct_affine = patient.geometry.affine_ras()
    transform = np.linalg.inv(ct_affine) @ np.asarray(image.affine, dtype=np.float64)
    rotation = np.round(transform[:3, :3])
    is_permutation = np.allclose(transform[:3, :3], rotation, atol=1e-3) and all(
        np.count_nonzero(rotation[c]) == 1 for c in range(3)
    )
    if not is_permutation or sorted(int(np.argmax(np.abs(rotation[c]))) for c in range(3)) != [0, 1, 2]:
        raise MaskMismatchError(
            path, "label grid is rotated or scaled relative to the CT grid: it must be the same grid"
        )
    axes = [int(np.argmax(np.abs(rotation[c]))) for c in range(3)]
    try:
        data = np.asanyarray(image.dataobj)
    except (OSError, EOFError, ValueError) as exc:
        raise MaskMismatchError(path, f"label data cannot be read ({exc.__class__.__name__}: {exc})") from exc
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
    return np.ascontiguousarray(np.transpose(data, (2, 1, 0)))


def nifti_label_affine(patient: Patient) -> np.ndarray:
    """The RAS affine a label of this patient is written with: the NIfTI CT's own, else the stored
    DICOM stack's (for a gantry-tilted stack, the orthogonal grid it was resampled onto)."""
    source = patient.source
    if source.nifti_affine is not None:
        return source.nifti_affine
    return source.geometry.affine_ras()


def write_nifti_mask(mask: np.ndarray, patient: Patient, path: Path) -> Path:
    """Write a canonical [z, y, x] mask as uint8 .nii(.gz) in the CT's stored axis order, atomically."""
    mask = np.asarray(mask)
    if mask.shape != patient.shape:
        raise MaskMismatchError(path, f"mask is {mask.shape}, CT is {patient.shape}: grids must match")
    return _write_stored(mask.astype(np.uint8), patient, Path(path))


def write_nifti_labels(label_map: LabelMap, patient: Patient, path: Path) -> Path:
    """Write a label map as .nii(.gz) in the CT's stored axis order with its values, and its ITK-SNAP
    label description beside it (``label.nii.gz`` → ``label.txt``), both atomically."""
    if label_map.shape != patient.shape:
        raise MaskMismatchError(path, f"label map is {label_map.shape}, CT is {patient.shape}: grids must match")
    top = max([s.value for s in label_map.segments], default=1)
    written = _write_stored(label_map.labels.astype(label_dtype(top), copy=False), patient, Path(path))
    write_label_table(label_map.segments, label_table_path(written))
    return written


def _write_stored(canonical: np.ndarray, patient: Patient, path: Path) -> Path:
    """Write a canonical integer array as NIfTI on the CT's stored grid and affine, atomically."""
    import nibabel as nib

    if path.is_dir():
        raise CtsegError(path, "is a folder: give a file name ending in .nii.gz or .nii")
    stored = patient.source.reorientation.to_source(canonical)
    affine = nifti_label_affine(patient)
    image = nib.Nifti1Image(np.ascontiguousarray(np.transpose(stored, (2, 1, 0))), affine)
    image.header.set_xyzt_units("mm")
    image.header["descrip"] = CTSEG_DESCRIP.encode()  # how a later save tells ctseg's label from ground truth
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    suffix = ".nii.gz" if str(path).endswith(".gz") else ".nii"
    with atomic_path(path, suffix=suffix) as temporary:
        nib.save(image, str(temporary))
    return path


def read_nifti_labels(path: Path, patient: Patient) -> LabelMap:
    """A NIfTI label map on the patient's canonical grid with its values, named by the ITK-SNAP label
    description beside it or TotalSegmentator's table in its header
    (:func:`ctseg_core.io.label_table.label_table_beside`); without one, a file
    holding several values says so in the label map's notes."""
    path = Path(path)
    image = _load(path)
    shape = tuple(image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise MaskMismatchError(path, f"expected a 3D label volume, found shape {image.shape}")
    try:
        data = np.asanyarray(image.dataobj).reshape(shape)
    except (OSError, EOFError, ValueError) as exc:
        raise MaskMismatchError(path, f"label data cannot be read ({exc.__class__.__name__}: {exc})") from exc
    affine_ijk = _LPS_FROM_RAS @ np.asarray(image.affine, dtype=np.float64)
    values = onto_canonical(integer_values(data, path), affine_ijk, patient, path)
    return label_map_from_values(values, path, label_table_beside(path, image.header.extensions))
