"""Synthetic abdominal CT "phantom patients", written as DICOM in the 3D-IRCADb-01 layout.

Why: the demo, the tests and the liver U-Net trainer need CT volumes with exact liver masks
and no patient data. Each seed is a different, fully deterministic patient (body habitus,
liver size/position/lobulation, tumours, spacing, noise), so a range of seeds is a small
training set. Geometry is defined in patient millimetres (in-plane) and in a normalised
position ``t`` along the scan (0 = lower pole of the kidneys, 1 = above the liver dome), so
the anatomy looks the same for any pixel size or slice count.

Patient axes follow DICOM (LPS): +x is the patient's left (image right), +y posterior
(image bottom), +z superior (higher slice index).

This module is the public face: :func:`make_phantom`, :func:`write_phantom` and
:class:`PhantomVolume`. The parts: :mod:`~ctseg_core.synth.shapes` (ellipses, ellipsoids, tubes
on a slice grid), :mod:`~ctseg_core.synth.anatomy` (the random draw of one patient),
:mod:`~ctseg_core.synth.render` (painting one slice) and :mod:`~ctseg_core.synth.phantom_dicom`
(the files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled
from ctseg_core.synth.anatomy import Z_ANAT_MM, Patient, draw_patient
from ctseg_core.synth.phantom_dicom import write_ircad_folders
from ctseg_core.synth.render import Texture, render_slice
from ctseg_core.synth.shapes import Grid

MASK_NAMES: tuple[str, ...] = ("liver", "livertumor", "spleen")
# Bumped whenever a seed would draw a different patient, so caches of written phantoms go stale.
PHANTOM_VERSION = 2

_HU_MIN, _HU_MAX = -1024, 3071
_PSF_MM = 0.45  # Gaussian blur sigma: real CT has soft edges, not aliased binary ones


@dataclass
class PhantomVolume:
    """One synthetic patient: HU volume, organ masks and the geometry written to DICOM."""

    hu: np.ndarray  # int16 (z, y, x)
    masks: dict[str, np.ndarray]  # bool (z, y, x): "liver", "livertumor", "spleen"
    spacing_mm: tuple[float, float, float]  # (dz, dy, dx)
    origin_mm: tuple[float, float, float]  # ImagePositionPatient of slice 0 (x, y, z)
    seed: int


def _geometry(p: Patient, slices: int, size: int) -> tuple[Grid, tuple[float, float, float]]:
    d = round(p.d512 * 512 / size, 4)
    x0 = round(-d * size / 2, 3)
    z0 = round(-(slices - 1) * p.dz / 2, 3)
    coords = (x0 + d * np.arange(size)).astype(np.float32)
    return Grid(coords, coords, d), (x0, x0, z0)


def _build(
    seed: int, slices: int, size: int, progress: ProgressCallback | None, should_cancel: CancelCheck | None
) -> PhantomVolume:
    if slices < 1 or size < 16:
        raise ValueError(f"phantom needs slices >= 1 and size >= 16, got slices={slices}, size={size}")
    p = draw_patient(seed)
    g, origin = _geometry(p, slices, size)
    texture = Texture(seed, g)
    noise_rng = np.random.default_rng([seed, 2])
    psf = _PSF_MM / g.d
    hu = np.empty((slices, size, size), np.int16)
    masks = {name: np.empty((slices, size, size), bool) for name in MASK_NAMES}
    for k in range(slices):
        raise_if_cancelled(should_cancel)
        t = (k + 0.5) / slices
        img, liver, tumour, spleen = render_slice(p, g, t, texture.at(t * Z_ANAT_MM))
        img = gaussian_filter(img, psf, truncate=3.0)
        img += noise_rng.standard_normal(img.shape, np.float32) * np.float32(p.noise_sd)
        np.rint(np.clip(img, _HU_MIN, _HU_MAX), out=img)
        hu[k] = img
        masks["liver"][k], masks["livertumor"][k], masks["spleen"][k] = liver, tumour, spleen
        if progress is not None:
            progress(k + 1, slices, "generating phantom")
    return PhantomVolume(hu, masks, (p.dz, g.d, g.d), origin, seed)


def make_phantom(seed: int = 0, slices: int = 64, size: int = 512) -> PhantomVolume:
    """Generate one synthetic abdominal CT (HU) with liver, tumour and spleen masks."""
    return _build(seed, slices, size, None, None)


def write_phantom(
    out_dir: str | Path,
    seed: int = 0,
    slices: int = 64,
    size: int = 512,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Path:
    """Write a phantom as PATIENT_DICOM/ and MASKS_DICOM/<organ>/ like 3D-IRCADb-01; return out_dir.

    Refuses a folder that already holds a PATIENT_DICOM rather than mixing two patients.
    On failure or cancel, the folders it created are removed again.
    """
    out = Path(out_dir)
    if (out / "PATIENT_DICOM").exists():
        raise FileExistsError(f"{out}: already holds a PATIENT_DICOM folder; choose an empty folder")
    vol = _build(seed, slices, size, progress, should_cancel)
    write_ircad_folders(out, vol, progress, should_cancel)
    return out
