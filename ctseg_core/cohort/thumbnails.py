"""One small picture per series: its middle slice, windowed, as a PNG of at most 64 pixels a side.

The only pixels the index decodes. Pixels are read by the loader's own slice reader (any transfer
syntax, zip members, Enhanced CT frames). The slice is turned so that it looks as the viewer
shows it (anterior up, the patient's right on the left; superior up for coronal and sagittal
slices), and scaled by its pixel spacing so a non-square pixel does not stretch it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ctseg_core.display.windowing import PRESETS, apply_window
from ctseg_core.io.dicom import read_header, read_stored_values, stored_to_hu
from ctseg_core.io.sources import DicomSource

#: Longest side of a thumbnail, in pixels.
THUMBNAIL_PIXELS = 64
#: CT thumbnails show the abdomen window; other images their 1st to 99th percentile.
CT_WINDOW = PRESETS["Abdomen"]


def dicom_thumbnail(source: DicomSource, entry: str, modality: str) -> bytes | None:
    """The thumbnail of one DICOM image (the middle frame of a multi-frame file); None if it holds none."""
    headers = read_header(source, entry)
    if not headers:
        return None
    header = headers[len(headers) // 2]
    stored = read_stored_values(source, header)
    hu = np.empty(stored.shape, dtype=np.int16)
    stored_to_hu(stored, header.slope or 1.0, header.intercept, hu)
    grey = _grey(hu, modality == "CT")
    cosines = header.orientation or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    spacing = header.pixel_spacing or (1.0, 1.0)
    return _png(*_as_viewed(grey, np.asarray(cosines[:3]), np.asarray(cosines[3:6]), spacing))


def nifti_thumbnail(path: Path) -> bytes | None:
    """The thumbnail of a NIfTI CT: the middle plane of its third axis."""
    import nibabel as nib

    image: Any = nib.load(str(path))  # nibabel's image classes have no common typed base
    if len(image.shape) < 3:
        return None
    plane = np.asarray(image.dataobj[:, :, image.shape[2] // 2], dtype=np.float32)
    plane = plane.reshape(image.shape[:2]).T  # [j, i]: rows along the second axis, like a DICOM slice
    affine = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(image.affine, dtype=np.float64)[:3, :3]  # RAS → LPS
    zooms = image.header.get_zooms()
    grey = _grey(np.nan_to_num(plane), is_ct=True)
    return _png(*_as_viewed(grey, affine[:, 0], affine[:, 1], (float(zooms[1]), float(zooms[0]))))


def _grey(values: np.ndarray, is_ct: bool) -> np.ndarray:
    """uint8 grey levels: the abdomen window for CT, the 1st–99th percentile otherwise."""
    if is_ct:
        return apply_window(values, CT_WINDOW)
    low, high = np.percentile(values, [1, 99]) if values.size else (0.0, 1.0)
    scaled = (values.astype(np.float32) - low) / max(float(high - low), 1e-6)
    return np.clip(np.round(scaled * 255.0), 0, 255).astype(np.uint8)


def _as_viewed(
    grey: np.ndarray, across: np.ndarray, down: np.ndarray, spacing: tuple[float, float]
) -> tuple[np.ndarray, tuple[float, float]]:
    """The slice turned as the viewer shows it: rows along the later patient axis (y before x, z before
    both), columns towards the patient's left or back, rows towards the back or the feet.

    ``across``/``down``: the LPS directions of increasing column/row; ``spacing``: (row, column) mm.
    """
    if int(np.argmax(np.abs(down))) < int(np.argmax(np.abs(across))):
        grey, across, down, spacing = grey.T, down, across, (spacing[1], spacing[0])
    if _points_against_view(across):
        grey = grey[:, ::-1]
    if _points_against_view(down):
        grey = grey[::-1, :]
    return np.ascontiguousarray(grey), spacing


def _points_against_view(direction: np.ndarray) -> bool:
    """x and y should increase (to the patient's left, to the back), z decrease (superior at the top)."""
    axis = int(np.argmax(np.abs(direction)))
    wanted = -1.0 if axis == 2 else 1.0
    return bool(direction[axis] * wanted < 0)


def _png(grey: np.ndarray, spacing: tuple[float, float]) -> bytes:
    """A PNG of at most THUMBNAIL_PIXELS a side, the slice's millimetre aspect kept."""
    from PIL import Image

    height_mm, width_mm = grey.shape[0] * spacing[0], grey.shape[1] * spacing[1]
    scale = THUMBNAIL_PIXELS / max(height_mm, width_mm, 1e-6)
    size = (max(1, round(width_mm * scale)), max(1, round(height_mm * scale)))
    picture = Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False)
    return out.getvalue()
