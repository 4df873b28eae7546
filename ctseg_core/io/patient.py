"""The loaded patient: canonical HU volume, geometry and masks, and the scan as it was stored.

Everything downstream (viewer, model, metrics, editing, autosave) works on the canonical arrays of
:mod:`ctseg_core.orientation`. :class:`SourceGrid` keeps what a writer needs to put a mask back on
the stored pixels exactly: the stored stack's shape, geometry and per-slice identity (file, SOP
Instance UID, frame, position), the permutation/flips to canonical and, for gantry-tilted stacks,
the in-plane shift of each slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.series import SeriesSummary
from ctseg_core.orientation import Reorientation


@dataclass(frozen=True)
class SourceGrid:
    """The scan as stored, and the exact map between its grid and the canonical one.

    ``shape`` and ``geometry`` describe the stored stack: for DICOM the slices sorted along their
    normal, ``[slice, row, column]`` of each file; for NIfTI the data array transposed to
    ``[k, j, i]``; for NRRD and MetaImage (``"itk"``) SimpleITK's ``[k, j, i]`` array. For a tilted
    DICOM stack ``geometry`` is the orthogonal grid it was resampled onto, ``positions_lps`` the true
    slice positions and ``tilt_shift_px`` the shift per slice.
    """

    kind: Literal["dicom", "nifti", "itk"]
    shape: tuple[int, int, int]
    geometry: VolumeGeometry
    reorientation: Reorientation
    slice_names: list[str] = field(default_factory=list)
    sop_instance_uids: list[str] = field(default_factory=list)
    #: frame number (1-based) of each slice inside a multi-frame file; empty for single-frame files
    frame_numbers: list[int | None] = field(default_factory=list)
    #: ImagePositionPatient of each stored slice (n, 3), when the slices had positions
    positions_lps: np.ndarray | None = None
    tilt_shift_px: np.ndarray | None = None
    #: the NIfTI file's own affine (RAS), written back unchanged on NIfTI labels
    nifti_affine: np.ndarray | None = None

    @property
    def is_tilted(self) -> bool:
        return self.tilt_shift_px is not None

    @property
    def is_multiframe(self) -> bool:
        return any(n is not None for n in self.frame_numbers)

    def to_canonical(self, stored: np.ndarray, *, mask: bool = False) -> np.ndarray:
        """A stored-grid array on the canonical grid (C-contiguous); masks stay bool."""
        if self.tilt_shift_px is not None:
            stored = shift_slices(stored, self.tilt_shift_px, mask=mask)
        return np.ascontiguousarray(self.reorientation.to_canonical(stored))

    def to_source(self, canonical: np.ndarray, *, mask: bool = False) -> np.ndarray:
        """A canonical array back on the stored grid: exact for permutations and flips; a tilted
        stack's slices are shifted back (linear interpolation, masks at 0.5)."""
        stored = self.reorientation.to_source(canonical)
        if self.tilt_shift_px is not None:
            stored = shift_slices(stored, -self.tilt_shift_px, mask=mask)
        return np.ascontiguousarray(stored)

    def positions_along_normal(self) -> np.ndarray | None:
        """Each stored slice's position along the stored normal (mm), when measured."""
        if self.positions_lps is None:
            return None
        return np.asarray(self.positions_lps @ self.geometry.normal, dtype=np.float64)


def shift_slices(volume: np.ndarray, shifts_px: np.ndarray, *, mask: bool = False) -> np.ndarray:
    """Each slice ``k`` moved in-plane by ``shifts_px[k]`` (rows, columns): out(p) = in(p − shift).

    Linear interpolation; outside the stored field of view HU is the volume's minimum (air) and
    masks are empty. Used only to undo gantry tilt.
    """
    from scipy import ndimage

    source = volume.astype(np.float32)
    fill = 0.0 if mask else float(volume.min())
    out = np.empty_like(source)
    for k in range(volume.shape[0]):
        ndimage.shift(source[k], shifts_px[k], output=out[k], order=1, mode="constant", cval=fill)
    if mask:
        return out >= 0.5
    return np.rint(out).astype(volume.dtype)


@dataclass
class Patient:
    """One CT series in HU with its geometry, masks and provenance, on the canonical grid.

    ``hu`` is int16 [z, y, x] with z inferior → superior, y anterior → posterior and x patient
    right → left (:mod:`ctseg_core.orientation`); masks are bool arrays of the same shape.
    ``geometry`` is the canonical grid's; ``source`` is how the scan was stored.
    """

    hu: np.ndarray
    geometry: VolumeGeometry
    slice_order: str
    source_path: Path
    source: SourceGrid
    patient_name: str = ""
    patient_id: str = ""
    series_uid: str = ""
    study_uid: str = ""
    frame_of_reference_uid: str = ""
    series_description: str = ""
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    mask_sources: dict[str, object] = field(default_factory=dict)
    #: masks that exist but could not be read, with the reason (the CT opened regardless)
    mask_errors: dict[str, str] = field(default_factory=dict)
    other_series: list[SeriesSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    load_seconds: float = 0.0

    @property
    def shape(self) -> tuple[int, int, int]:
        depth, rows, columns = self.hu.shape
        return (depth, rows, columns)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return self.geometry.spacing_mm

    @property
    def available_masks(self) -> list[str]:
        """Mask names that exist for this patient, loaded or not."""
        return sorted(set(self.mask_sources) | set(self.masks))

    @cached_property
    def slice_positions_mm(self) -> np.ndarray:
        """Each canonical slice's position along the canonical slice axis (mm): measured where the
        slices are the stored slices (so uneven spacing shows), else from the geometry.

        Computed once (the geometry and stored positions never change): the slice label reads it on
        every slice change. Read-only."""
        geometry, source = self.geometry, self.source
        axis = geometry.slice_axis
        stored_axis, flip = source.reorientation.ornt[0]
        if source.positions_lps is not None and stored_axis == 0:
            positions = source.positions_lps @ axis
            result = np.array(positions[::-1] if flip < 0 else positions, dtype=np.float64)
        else:
            start = float(np.dot(axis, geometry.origin_mm))
            result = start + geometry.spacing_mm[0] * np.arange(self.shape[0], dtype=np.float64)
        result.flags.writeable = False
        return result

    def slice_z_mm(self, index: int) -> float:
        """Position of canonical slice ``index`` along the slice axis (≈ superior, mm), for display."""
        return float(self.slice_positions_mm[index])

    def title(self) -> str:
        """Short human label: patient name and series description."""
        name = self.patient_name.replace("^", " ").strip() or self.source_path.name
        return f"{name} — {self.series_description}" if self.series_description else name
