"""The same scan stored in other orientations and formats, to test that ctseg's answer does not change.

Scans from other sites arrive with flipped rows or columns, reversed slices, coronal or sagittal
acquisitions, RAS NIfTI, gantry tilt or as one Enhanced (multi-frame) CT file. These writers take a
canonical volume (and its masks) and store it in any of those ways with a geometry that puts every
voxel at the same patient position, so a correct loader must give back exactly the canonical
arrays. They write real DICOM (pydicom, its datasets from :mod:`ctseg_core.io.dicom_build`, which
stores the tags it is given and computes no geometry) and NIfTI (nibabel), never through ctseg's mask,
SEG or NIfTI writers: every position and orientation comes from the layout's affine here, so a test
built on them checks the loader against an independent description of the geometry.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from nibabel.orientations import apply_orientation, inv_ornt_aff
from pydicom.dataset import Dataset
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.dicom_build import ImagePlane, Rescale, SeriesIds, image_dataset


@dataclass(frozen=True)
class Layout:
    """How a canonical [z, y, x] array is stored: nibabel's transform from canonical to stored axes."""

    name: str
    ornt: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]

    def store(self, canonical: np.ndarray) -> np.ndarray:
        """The canonical array in this layout (a copy, C order)."""
        return np.ascontiguousarray(apply_orientation(canonical, np.asarray(self.ornt, dtype=np.float64)))

    def stored_affine(self, geometry: VolumeGeometry, canonical_shape: tuple[int, int, int]) -> np.ndarray:
        """The (a0, a1, a2, 1) → LPS affine of the stored array."""
        return geometry.affine_zyx() @ inv_ornt_aff(np.asarray(self.ornt, dtype=np.float64), canonical_shape)


def all_layouts() -> list[Layout]:
    """All 48 axis permutations and flips (6 × 8)."""
    layouts = []
    for permutation in itertools.permutations(range(3)):
        for flips in itertools.product((1, -1), repeat=3):
            ornt = tuple((int(permutation[a]), int(flips[a])) for a in range(3))
            name = "perm" + "".join(map(str, permutation)) + "-flip" + "".join("n" if f < 0 else "p" for f in flips)
            layouts.append(Layout(name, ornt))  # type: ignore[arg-type]  # three pairs
    return layouts


#: The variants users meet most, by what they look like in a plain viewer. Canonical axes are
#: (z, y, x) = (inferior→superior, anterior→posterior, right→left); each layout says where each goes.
NAMED_LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("as stored", ((0, 1), (1, 1), (2, 1))),
        Layout("columns flipped", ((0, 1), (1, 1), (2, -1))),
        Layout("rows flipped", ((0, 1), (1, -1), (2, 1))),
        Layout("rows and columns flipped", ((0, 1), (1, -1), (2, -1))),
        Layout("transposed", ((0, 1), (2, 1), (1, 1))),
        Layout("rotated 90°", ((0, 1), (2, 1), (1, -1))),
        Layout("slices reversed", ((0, -1), (1, 1), (2, 1))),
        # coronal: slices run anterior→posterior, rows superior→inferior, columns right→left
        Layout("coronal", ((1, -1), (0, 1), (2, 1))),
        # sagittal: slices run right→left, rows superior→inferior, columns anterior→posterior
        Layout("sagittal", ((1, -1), (2, 1), (0, 1))),
    )
}


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@dataclass(frozen=True)
class _StackPlanes:
    """The slice planes of a stored stack, from its affine: what every slice's image plane shares."""

    affine: np.ndarray  # (a0, a1, a2, 1) → LPS of the stored array
    orientation: list[float]  # ImageOrientationPatient: row direction (along columns) first
    pixel_spacing: list[float]  # [between rows, between columns]
    thickness: float  # along the normal

    @classmethod
    def of(cls, affine: np.ndarray) -> _StackPlanes:
        slice_step, row_step, column_step = affine[:3, 0], affine[:3, 1], affine[:3, 2]
        row_dir, col_dir = _unit(column_step), _unit(row_step)
        return cls(
            affine,
            [float(v) for v in np.concatenate([row_dir, col_dir])],
            [float(np.linalg.norm(row_step)), float(np.linalg.norm(column_step))],
            float(abs(np.dot(slice_step, np.cross(row_dir, col_dir)))),
        )

    def plane(self, k: int, shift_rows: float = 0.0, *, with_thickness: bool = True) -> ImagePlane:
        """Slice ``k``'s plane, moved ``shift_rows`` rows along its columns (a tilted gantry)."""
        position = self.affine[:3, 3] + self.affine[:3, 0] * k + self.affine[:3, 1] * shift_rows
        thickness = self.thickness if with_thickness else None
        return ImagePlane([float(v) for v in position], self.orientation, self.pixel_spacing, thickness)


def _variant_ids(name: str, series_uid: str, study_uid: str, frame_uid: str) -> SeriesIds:
    """Each variant series is its own patient ``Variant^<name>`` (the masks too, named by organ)."""
    return SeriesIds(f"Variant^{name}", name, study_uid, series_uid, frame_uid)


def _variant_dataset(
    sop_class: str,
    ids: SeriesIds,
    modality: str,
    pixels: np.ndarray,
    number: int | None = None,
    plane: ImagePlane | None = None,
    **attributes: Any,
) -> Dataset:
    """A dataset of one variant series; its description names the variant."""
    description = f"ctseg variant {ids.patient_id}"
    return image_dataset(
        sop_class,
        ids,
        modality,
        pixels,
        instance_number=number,
        plane=plane,
        SeriesDescription=description,
        **attributes,
    )


def _variant_series(name: str, mask_names: list[str]) -> tuple[SeriesIds, dict[str, SeriesIds]]:
    """New UIDs for the CT series and one mask series per name, all in one study and frame."""
    ct_ids = _variant_ids(name, generate_uid(), generate_uid(), generate_uid())
    mask_ids = {
        mask: _variant_ids(mask, generate_uid(), ct_ids.study_uid, ct_ids.frame_of_reference_uid) for mask in mask_names
    }
    return ct_ids, mask_ids


def _ct_slice(ids: SeriesIds, pixels: np.ndarray, number: int, plane: ImagePlane) -> Dataset:
    return _variant_dataset(
        CTImageStorage,
        ids,
        "CT",
        pixels,
        number,
        plane,
        rescale=Rescale(0, 1),
        ImageType=["ORIGINAL", "PRIMARY", "AXIAL"],
    )


def _mask_slice(ids: SeriesIds, mask: np.ndarray, number: int, plane: ImagePlane) -> Dataset:
    """A 0/255 Secondary Capture slice (Modality OT), as IRCAD's mask folders hold."""
    return _variant_dataset(SecondaryCaptureImageStorage, ids, "OT", mask.astype(np.uint8) * 255, number, plane)


def write_dicom_variant(
    folder: Path,
    hu: np.ndarray,
    geometry: VolumeGeometry,
    layout: Layout,
    masks: dict[str, np.ndarray] | None = None,
    *,
    tilt_rows_per_slice: float = 0.0,
    transfer_syntax: str = ExplicitVRLittleEndian,
    preamble: bool = True,
    seed: int = 0,
) -> Path:
    """Write a canonical volume as an IRCAD-layout patient (``PATIENT_DICOM``, ``MASKS_DICOM``) in ``layout``.

    Files are named ``image_K`` in a shuffled order, so only geometry can sort them.
    ``tilt_rows_per_slice`` > 0 makes a gantry-tilted stack: slice k is moved k × that many rows
    along its column direction (position and pixels together, as a tilted gantry images it), so a
    loader that undoes the tilt gets the canonical volume back. ``transfer_syntax`` may be Explicit VR
    Big Endian or Implicit VR Little Endian; ``preamble=False`` writes legacy files without the
    128-byte preamble and file meta (what pydicom reads with ``force=True``).
    """
    stored = layout.store(hu.astype(np.int16))
    planes = _StackPlanes.of(layout.stored_affine(geometry, hu.shape))
    stored_masks = {name: layout.store(mask.astype(bool)) for name, mask in (masks or {}).items()}
    order = np.random.default_rng(seed).permutation(stored.shape[0])
    ct_ids, mask_ids = _variant_series(layout.name.replace(" ", "_"), list(stored_masks))
    fill = int(stored.min())
    for k in range(stored.shape[0]):
        shift = tilt_rows_per_slice * k
        pixels, mask_pixels = _tilted(stored[k], {name: m[k] for name, m in stored_masks.items()}, shift, fill)
        number, file_name = int(order[k]) + 1, f"image_{order[k]}"
        ct = _ct_slice(ct_ids, pixels, number, planes.plane(k, shift))
        _save(ct, folder / "PATIENT_DICOM" / file_name, transfer_syntax, preamble)
        for name, plane in mask_pixels.items():
            mask = _mask_slice(mask_ids[name], plane, number, planes.plane(k, shift, with_thickness=False))
            _save(mask, folder / "MASKS_DICOM" / name / file_name, ExplicitVRLittleEndian, True)
    return folder


def _tilted(
    plane: np.ndarray, masks: dict[str, np.ndarray], shift: float, fill: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A slice and its mask planes as a gantry tilted by ``shift`` rows images them (unchanged at 0)."""
    if not shift:
        return plane.astype(np.int16), masks
    moved = {name: _shift_rows(m.astype(np.int16), shift, 0) > 0 for name, m in masks.items()}
    return _shift_rows(plane, shift, fill).astype(np.int16), moved


def _shift_rows(plane: np.ndarray, rows: float, fill: int) -> np.ndarray:
    """The plane's content moved up by ``rows`` (what a slice imaged ``rows`` further down shows)."""
    from scipy import ndimage

    moved = ndimage.shift(plane.astype(np.float32), (-rows, 0.0), order=1, mode="constant", cval=float(fill))
    return np.rint(moved).astype(plane.dtype)


def _save(ds: Dataset, path: Path, transfer_syntax: str, preamble: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if transfer_syntax == ExplicitVRBigEndian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
        # pydicom writes big-endian pixel data as it is given: swap the words ourselves
        bits = int(ds.BitsAllocated)
        if bits == 16:
            values = np.frombuffer(ds.PixelData, dtype="<i2" if ds.PixelRepresentation else "<u2")
            ds.PixelData = values.astype(values.dtype.newbyteorder(">")).tobytes()
        ds.save_as(path, enforce_file_format=True, little_endian=False, implicit_vr=False)
        return
    if transfer_syntax == ImplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    if not preamble:
        bare = Dataset(ds)  # no file meta, no preamble: a legacy ACR-NEMA style file
        pydicom.dcmwrite(path, bare, enforce_file_format=False, implicit_vr=True, little_endian=True)
        return
    ds.save_as(path, enforce_file_format=True)


def write_enhanced_ct(
    path: Path,
    hu: np.ndarray,
    geometry: VolumeGeometry,
    layout: Layout,
    *,
    compress: bool = False,
    shuffle_frames: bool = True,
    seed: int = 0,
) -> Path:
    """Write a canonical volume as ONE Enhanced CT (multi-frame) file, frames in ``layout``'s slice order
    (shuffled unless asked not to), geometry in the functional groups; RLE Lossless if ``compress``."""
    stored = layout.store(hu.astype(np.int16))
    affine = layout.stored_affine(geometry, hu.shape)
    order = np.random.default_rng(seed).permutation(stored.shape[0]) if shuffle_frames else np.arange(stored.shape[0])
    ids = _variant_ids("enhanced", generate_uid(), generate_uid(), generate_uid())
    ds = _variant_dataset(
        EnhancedCTImageStorage, ids, "CT", stored[order], ImageType=["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    )
    ds.SharedFunctionalGroupsSequence = [_shared_groups(affine)]
    ds.PerFrameFunctionalGroupsSequence = [_frame_group(affine, int(k)) for k in order]
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        ds.compress(RLELossless)
    ds.save_as(path, enforce_file_format=True)
    return path


def _shared_groups(affine: np.ndarray) -> Dataset:
    """The functional groups every frame shares: orientation, pixel measures and the HU rescale."""
    slice_step, row_step, column_step = affine[:3, 0], affine[:3, 1], affine[:3, 2]
    orientation = Dataset()
    orientation.ImageOrientationPatient = [float(v) for v in np.concatenate([_unit(column_step), _unit(row_step)])]
    measures = Dataset()
    measures.PixelSpacing = [float(np.linalg.norm(row_step)), float(np.linalg.norm(column_step))]
    measures.SliceThickness = float(np.linalg.norm(slice_step))
    rescale = Dataset()
    rescale.RescaleIntercept = 0
    rescale.RescaleSlope = 1
    rescale.RescaleType = "HU"
    shared = Dataset()
    shared.PlaneOrientationSequence = [orientation]
    shared.PixelMeasuresSequence = [measures]
    shared.PixelValueTransformationSequence = [rescale]
    return shared


def _frame_group(affine: np.ndarray, k: int) -> Dataset:
    """The per-frame group of stored slice ``k``: its position."""
    plane = Dataset()
    plane.ImagePositionPatient = [float(v) for v in affine[:3, 3] + affine[:3, 0] * k]
    item = Dataset()
    item.PlanePositionSequence = [plane]
    return item


def write_nifti_variant(
    folder: Path,
    hu: np.ndarray,
    geometry: VolumeGeometry,
    axcodes: Sequence[str] = ("R", "A", "S"),
    masks: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``image.nii.gz`` (and ``<mask>.nii.gz``) with nibabel, reoriented to ``axcodes``
    (nibabel's RAS letters for the data axes i, j, k: ('R','A','S') is what most tools write)."""
    import nibabel as nib
    from nibabel.orientations import axcodes2ornt, io_orientation, ornt_transform

    folder.mkdir(parents=True, exist_ok=True)
    for name, volume, dtype in [("image", hu, np.int16)] + [
        (name, mask, np.uint8) for name, mask in (masks or {}).items()
    ]:
        image = nib.Nifti1Image(np.ascontiguousarray(volume.astype(dtype).T), geometry.affine_ras())
        transform = ornt_transform(io_orientation(image.affine), axcodes2ornt(tuple(axcodes)))
        reoriented = image.as_reoriented(transform)
        reoriented.set_sform(reoriented.affine, code=1)
        reoriented.set_qform(reoriented.affine, code=1)
        nib.save(reoriented, str(folder / f"{name}.nii.gz"))
    return folder


def thick_partial_scan(
    hu: np.ndarray,
    mask: np.ndarray,
    spacing_mm: tuple[float, float, float],
    region: str = "inferior",
    slices: int = 10,
    thickness_mm: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """A scan that covers only part of the liver with thick slices, made from a full canonical scan.

    ``region``: "inferior" (the lower end of the liver upwards, as an abdominal or renal protocol
    that stops early sees it) or "dome" (the top of the liver downwards). Slabs of ``thickness_mm``
    are averaged (HU mean; the mask is the slab's majority), as a scanner reconstructs thick slices.
    Returns HU int16, mask and the new spacing.
    """
    dz = spacing_mm[0]
    per_slab = max(1, round(thickness_mm / dz))
    liver_slices = np.flatnonzero(mask.any(axis=(1, 2)))
    if liver_slices.size == 0:
        raise ValueError("the mask is empty: no liver to crop to")
    span = per_slab * slices
    if region == "inferior":
        start = max(0, int(liver_slices[0]) - per_slab)
    elif region == "dome":
        start = max(0, int(liver_slices[-1]) + per_slab + 1 - span)
    else:
        raise ValueError(f"region must be 'inferior' or 'dome', got {region!r}")
    stop = min(hu.shape[0], start + span)
    count = (stop - start) // per_slab
    shape = (count, per_slab, *hu.shape[1:])
    slab_hu = hu[start : start + count * per_slab].astype(np.float32).reshape(shape).mean(axis=1)
    slab_mask = mask[start : start + count * per_slab].reshape(shape).mean(axis=1) >= 0.5
    return np.rint(slab_hu).astype(np.int16), slab_mask, (dz * per_slab, spacing_mm[1], spacing_mm[2])
