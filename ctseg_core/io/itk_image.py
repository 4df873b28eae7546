"""NRRD and MetaImage volumes (``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``): CT and label maps.

Read with SimpleITK, which reads all four (detached headers and data files, gzip and zlib included)
and turns each file's own space — NRRD's ``space`` and ``space directions`` (RAS or LPS), MetaImage's
``TransformMatrix`` — into one LPS direction matrix, origin and spacing, the way ITK-SNAP does. pynrrd
alone reads NRRD only and leaves the space conventions to the caller; slicerio (on pynrrd) is used
where Slicer's segment metadata matters (:mod:`ctseg_core.io.seg_nrrd`).

The stored array (SimpleITK's ``[k, j, i]``) is brought to the canonical grid by permutation and flips
only, as for NIfTI (:mod:`ctseg_core.orientation`); a label map must lie on the CT's voxel centres
(:mod:`ctseg_core.io.label_grid`) and is named by an ITK-SNAP description beside it, or, for a NRRD
carrying Slicer's segment fields, by those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.hu_values import hu_as_int16
from ctseg_core.io.label_grid import onto_canonical
from ctseg_core.io.label_table import integer_values, label_map_from_values, label_table_beside
from ctseg_core.io.memory_budget import LOAD_BYTES_PER_VOXEL, check_fits
from ctseg_core.io.nifti import stored_geometry, volume_file_patient
from ctseg_core.io.patient import Patient
from ctseg_core.io.segments import LabelMap

#: File endings of the volumes this module reads.
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
_RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def is_itk_image(path: str | Path) -> bool:
    """Whether ``path`` names a NRRD or MetaImage file (by its ending)."""
    return str(path).lower().endswith(ITK_SUFFIXES)


def _format_name(path: Path) -> str:
    return "NRRD" if path.name.lower().endswith((".nrrd", ".nhdr")) else "MetaImage"


def _read_3d(path: Path) -> Any:  # SimpleITK.Image
    """The file as a 3D SimpleITK image of one value per voxel."""
    import SimpleITK as sitk

    if not path.is_file():
        raise CtsegError(path, "file does not exist")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
        raise CtsegError(path, f"not a readable {_format_name(path)} file ({reason})") from exc
    size = image.GetSize()
    if image.GetDimension() == 4 and size[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() != 3 or min(image.GetSize()) < 1:
        raise CtsegError(path, f"expected a 3D volume, found size {size}")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise CtsegError(path, f"holds {image.GetNumberOfComponentsPerPixel()} values per voxel: expected one")
    return image


def _check_declared_size(path: Path) -> None:
    """Refuse, from the header alone, a volume whose declared size does not fit in memory (read errors are
    left to the reader, which says them in its own words)."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return
    described = sitk.GetPixelIDValueAsString(reader.GetPixelID())  # "16-bit signed integer", "32-bit float"…
    bits = described.split("-bit")[0]
    itemsize = int(bits) // 8 if bits.isdigit() else 8
    check_fits(path, tuple(reversed(reader.GetSize())), itemsize + LOAD_BYTES_PER_VOXEL)


def image_affine_lps(image: Any) -> np.ndarray:
    """The (i, j, k, 1) → LPS mm affine of a SimpleITK image (ITK's physical space is LPS)."""
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = direction * np.asarray(image.GetSpacing(), dtype=np.float64)
    affine[:3, 3] = image.GetOrigin()
    return affine


def load_itk_patient(path: Path) -> Patient:
    """A NRRD or MetaImage CT (values in HU) as a Patient on the canonical grid, int16."""
    import SimpleITK as sitk

    path = Path(path)
    _check_declared_size(path)
    image = _read_3d(path)
    kind = _format_name(path)
    source_geometry: VolumeGeometry = stored_geometry(_RAS_FROM_LPS @ image_affine_lps(image), path, kind=kind)
    stack, warnings = hu_as_int16(sitk.GetArrayFromImage(image))
    return volume_file_patient(path, stack, source_geometry, "itk", f"{kind} volume", warnings)


def read_itk_labels(path: Path, patient: Patient) -> LabelMap:
    """A NRRD or MetaImage label map on the patient's canonical grid, named by Slicer's segment fields
    (a ``.seg.nrrd``) or by an ITK-SNAP label description beside it."""
    import SimpleITK as sitk

    from ctseg_core.io.seg_nrrd import is_seg_nrrd, read_seg_nrrd

    path = Path(path)
    if is_seg_nrrd(path):
        return read_seg_nrrd(path, patient)
    try:
        image = _read_3d(path)
    except CtsegError as exc:
        raise MaskMismatchError(path, exc.problem) from exc
    affine_kji = image_affine_lps(image)[:, [2, 1, 0, 3]]
    data = integer_values(sitk.GetArrayFromImage(image), path)
    values = onto_canonical(data, affine_kji, patient, path)
    return label_map_from_values(values, path, label_table_beside(path))
