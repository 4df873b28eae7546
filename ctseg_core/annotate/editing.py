"""Mask editing tools on a bool label volume ``[z, y, x]``: brush, flood fill, holes, interpolation, islands.

Every tool edits the label in place and stays cheap enough for a mouse move. Slice tools touch one
2-D section: an axial slice by default, or with ``axis=1`` / ``axis=2`` a coronal or sagittal one
(:func:`section`), whose rows run along z, so one coronal stroke may change several axial slices.
Volume tools return the axial slice indices they changed, so the edit history stores just those
slices. Sizes the user picks are in millimetres (a brush of radius 5 mm covers the same anatomy on
any pixel size and in any plane, as in 3D Slicer: on 0.7 × 0.7 × 2.5 mm voxels a coronal 5 mm disc
spans 2 rows of z either side of its centre and 7 columns of x) and intensity limits in HU.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import ndimage
from skimage.segmentation import flood

from ctseg_core.display.planes import Plane

HuRange = tuple[float, float]

#: Face connectivity: two voxels touch only through a shared face (4 in 2D, 6 in 3D).
_FACES_2D = ndimage.generate_binary_structure(2, 1)
_FACES_3D = ndimage.generate_binary_structure(3, 1)


def section(volume: np.ndarray, axis: int, index: int) -> np.ndarray:
    """Slice ``index`` along ``axis`` of a ``[z, y, x]`` array as a 2-D view (no copy; writes go through).

    Axis 0 gives the axial ``[y, x]``, axis 1 the coronal ``[z, x]``, axis 2 the sagittal ``[z, y]``
    section: rows and columns keep the volume's axis order (no screen flip), so a point of the section
    is (row, column) = the two other voxel coordinates, in order.
    """
    plane = Plane.along(axis)
    if not 0 <= index < volume.shape[axis]:
        raise IndexError(f"slice {index} is outside the volume's {volume.shape[axis]} slices along axis {axis}")
    return plane.section(volume, index)


def section_spacing(spacing_mm: tuple[float, float, float], axis: int) -> tuple[float, float]:
    """(row, column) pixel size in mm of a :func:`section` along ``axis``, from the voxel's (dz, dy, dx)."""
    row_mm, column_mm = (float(s) for a, s in enumerate(spacing_mm) if a != axis)
    return row_mm, column_mm


def axial_slices(changed: np.ndarray, axis: int, index: int) -> list[int]:
    """The axial slices (z) a change of section ``index`` along ``axis`` touches; ``changed`` is its 2-D
    mask of changed pixels. The edit history stores axial slices, so every plane's edit reports these."""
    if axis == 0:
        return [index] if changed.any() else []
    return [int(z) for z in np.flatnonzero(changed.any(axis=1))]  # the section's rows are z


def axial_box(shape: tuple[int, ...], axis: int, index: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1): where section ``index`` along ``axis`` crosses each axial slice of a volume of
    ``shape`` (one row for coronal, one column for sagittal); None for an axial section (all of it).
    The edit history then keeps and compares only that part of each slice a coronal edit reaches."""
    _, rows, columns = shape[:3]
    if axis == 1:
        return (index, index + 1, 0, columns)
    if axis == 2:
        return (0, rows, index, index + 1)
    return None


def stroke_rows(points_rc: Sequence[tuple[float, float]], radius_mm: float, spacing_rc: tuple[float, float]) -> range:
    """Rows of a section a brush stroke through ``points_rc`` may paint (unclipped): the points' rows
    widened by the disk's half height. For a coronal or sagittal stroke these rows are the axial
    slices to record before painting."""
    if not points_rc:
        return range(0)
    half = disk_footprint(radius_mm, spacing_rc).shape[0] // 2
    rows = [int(np.rint(point[0])) for point in points_rc]  # stroke_centres rounds between these
    return range(min(rows) - half, max(rows) + half + 1)


@lru_cache(maxsize=64)
def _footprint(radius_mm: float, dy: float, dx: float) -> np.ndarray:
    ry, rx = int(radius_mm // dy), int(radius_mm // dx)
    y = np.arange(-ry, ry + 1)[:, None] * dy
    x = np.arange(-rx, rx + 1)[None, :] * dx
    disk = y * y + x * x <= radius_mm * radius_mm
    disk.flags.writeable = False
    return disk


def disk_footprint(radius_mm: float, spacing_yx: tuple[float, float]) -> np.ndarray:
    """Pixels within ``radius_mm`` of the centre pixel: a disk in mm, an ellipse in pixels when dy ≠ dx.

    Always holds at least the centre pixel, so a brush smaller than a pixel still paints. The array is
    cached and read-only.
    """
    if radius_mm < 0:
        raise ValueError(f"brush radius must be ≥ 0 mm, got {radius_mm}")
    dy, dx = (float(s) for s in spacing_yx)
    if dy <= 0 or dx <= 0:
        raise ValueError(f"pixel spacing must be positive, got {spacing_yx}")
    return _footprint(float(radius_mm), dy, dx)


def _hu_window(hu: np.ndarray | None, hu_range: HuRange | None) -> HuRange | None:
    if hu_range is None:
        return None
    if hu is None:
        raise ValueError("masking by intensity needs the HU volume: pass hu with hu_range")
    lo, hi = hu_range
    return (min(lo, hi), max(lo, hi))


def _hu_section(hu: np.ndarray | None, window: HuRange | None, axis: int, index: int) -> np.ndarray | None:
    """The HU section matching a label section, when intensity masking is on (``_hu_window`` checked hu)."""
    return None if window is None or hu is None else section(hu, axis, index)


def _stamp(
    plane: np.ndarray,
    footprint: np.ndarray,
    centre: tuple[int, int],
    value: bool,
    hu_plane: np.ndarray | None,
    window: HuRange | None,
) -> None:
    """Set ``footprint`` centred at ``centre`` to ``value`` on one slice, clipped at its borders."""
    fy, fx = footprint.shape[0] // 2, footprint.shape[1] // 2
    cy, cx = centre
    y0, y1 = max(cy - fy, 0), min(cy + fy + 1, plane.shape[0])
    x0, x1 = max(cx - fx, 0), min(cx + fx + 1, plane.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    where = footprint[y0 - cy + fy : y1 - cy + fy, x0 - cx + fx : x1 - cx + fx]
    if window is not None:
        region = hu_plane[y0:y1, x0:x1]  # type: ignore[index]  # hu_plane is set whenever a window is
        where = where & (region >= window[0]) & (region <= window[1])
    plane[y0:y1, x0:x1][where] = value


def _pixel(point_yx: Sequence[float]) -> tuple[int, int]:
    return int(np.rint(point_yx[0])), int(np.rint(point_yx[1]))


def paint(
    label: np.ndarray,
    z: int,
    centre_yx: tuple[float, float],
    radius_mm: float,
    spacing_yx: tuple[float, float],
    value: bool,
    hu: np.ndarray | None = None,
    hu_range: HuRange | None = None,
    axis: int = 0,
) -> None:
    """Paint (``value=True``) or erase a disk of ``radius_mm`` at (row, col) on slice ``z``.

    With ``hu_range`` = (lo, hi) HU only voxels whose HU lies in [lo, hi] change (Slicer's "masking by
    intensity"): painting liver at 0–200 HU leaves fat and bone untouched. With ``axis`` 1 or 2 the
    slice is coronal or sagittal (:func:`section`) and ``spacing_yx`` its (row, column) pixel size.
    """
    window = _hu_window(hu, hu_range)
    hu_plane = _hu_section(hu, window, axis, z)
    _stamp(section(label, axis, z), disk_footprint(radius_mm, spacing_yx), _pixel(centre_yx), value, hu_plane, window)


def stroke_centres(points_yx: Sequence[tuple[float, float]], step_px: float) -> list[tuple[int, int]]:
    """Pixel centres along a polyline, at most ``step_px`` apart, duplicates removed, in order."""
    if not points_yx:
        return []
    points = np.asarray(points_yx, dtype=np.float64).reshape(-1, 2)
    samples = [points[:1]]
    for start, end in itertools.pairwise(points):
        count = max(1, int(np.ceil(np.hypot(*(end - start)) / step_px)))
        t = np.arange(1, count + 1)[:, None] / count
        samples.append(start + t * (end - start))
    pixels = np.rint(np.concatenate(samples)).astype(np.int64)
    keep = np.ones(len(pixels), dtype=bool)
    keep[1:] = np.any(pixels[1:] != pixels[:-1], axis=1)
    return [(int(y), int(x)) for y, x in pixels[keep]]


def paint_stroke(
    label: np.ndarray,
    z: int,
    points_yx: Sequence[tuple[float, float]],
    radius_mm: float,
    spacing_yx: tuple[float, float],
    value: bool,
    hu: np.ndarray | None = None,
    hu_range: HuRange | None = None,
    axis: int = 0,
) -> None:
    """Paint a brush stroke through ``points_yx`` (row, col) on slice ``z``, with no gaps between points.

    Fast mouse moves deliver points far apart; the disk is stamped every half radius (in pixels, at
    least every half pixel) along each segment so the stroke is a continuous band. With ``axis`` 1 or
    2 the slice is coronal or sagittal (:func:`section`) and ``spacing_yx`` its (row, column) pixel size.
    """
    footprint = disk_footprint(radius_mm, spacing_yx)
    radius_px = min(footprint.shape) // 2
    step_px = max(radius_px / 2, 0.5)
    window = _hu_window(hu, hu_range)
    hu_plane = _hu_section(hu, window, axis, z)
    plane = section(label, axis, z)
    for centre in stroke_centres(points_yx, step_px):
        _stamp(plane, footprint, centre, value, hu_plane, window)


def flood_fill_2d(
    label: np.ndarray,
    z: int,
    seed_yx: tuple[float, float],
    hu: np.ndarray,
    hu_range: HuRange,
    value: bool = True,
    axis: int = 0,
) -> int:
    """Set the 4-connected region of voxels with HU in ``hu_range`` that holds the seed; voxels changed.

    2D on slice ``z`` only (axial, or coronal / sagittal with ``axis`` 1 / 2, :func:`section`), so a
    leak through a thin gap cannot spread through the whole volume. A seed outside the image or
    outside the HU range changes nothing.
    """
    return flood_fill_section(section(label, axis, z), seed_yx, section(hu, axis, z), hu_range, value)


def flood_fill_section(
    plane: np.ndarray, seed_rc: tuple[float, float], hu_plane: np.ndarray, hu_range: HuRange, value: bool = True
) -> int:
    """:func:`flood_fill_2d` on one 2-D section and its HU (any plane); voxels changed."""
    lo, hi = _hu_window(hu_plane, hu_range)  # type: ignore[misc]  # a (low, high) pair whenever hu_range is
    seed = _pixel(seed_rc)
    if not (0 <= seed[0] < plane.shape[0] and 0 <= seed[1] < plane.shape[1]):
        return 0
    in_range = (hu_plane >= lo) & (hu_plane <= hi)
    if not in_range[seed]:
        return 0
    region = flood(in_range, seed, connectivity=1)
    changed = int(np.count_nonzero(plane[region] != value))
    plane[region] = value
    return changed


def fill_holes_2d(label: np.ndarray, z: int, axis: int = 0) -> int:
    """Fill background enclosed by the mask on slice ``z`` (vessels inside the liver); voxels added.

    Axial by default; coronal or sagittal with ``axis`` 1 or 2 (:func:`section`).
    """
    return fill_holes_section(section(label, axis, z))


def fill_holes_section(plane: np.ndarray) -> int:
    """:func:`fill_holes_2d` on one 2-D section of the label (any plane); voxels added."""
    if not plane.any():
        return 0
    box = _bounding_box(plane, margin=1)  # holes lie inside the mask's box; its margin is outside
    filled = ndimage.binary_fill_holes(plane[box])
    added = int(np.count_nonzero(filled) - np.count_nonzero(plane[box]))
    plane[box] = filled
    return added


def _bounding_box(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    """Slices of the smallest box holding ``mask`` grown by ``margin`` voxels, clipped to the array."""
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(np.any(mask, axis=other))
        box.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + margin + 1, mask.shape[axis])))
    return tuple(box)


def _signed_distance(mask: np.ndarray, spacing_yx: tuple[float, float]) -> np.ndarray:
    """Distance to the mask's edge, negative inside (mm, or pixels with unit spacing)."""
    outside = ndimage.distance_transform_edt(~mask, sampling=spacing_yx)
    inside = ndimage.distance_transform_edt(mask, sampling=spacing_yx)
    return outside - inside


def _annotated(label: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.any(label, axis=(1, 2)))


def interpolate_slices(
    label: np.ndarray, z_a: int, z_b: int, spacing_yx: tuple[float, float] = (1.0, 1.0)
) -> list[int]:
    """Shape-based interpolation: fill the slices strictly between two annotated slices; slices changed.

    Each in-between slice becomes the zero level of the linear blend of the two slices' signed distance
    maps, so a contour drawn every few slices grows into a smooth 3D shape. The two maps are first
    moved onto the linearly interpolated centroid, so a structure that drifts between the slices
    (a tumour further than its own size) moves instead of vanishing halfway. Both slices must hold
    mask voxels (an empty slice has no shape to blend), else ``ValueError``.
    """
    z_a, z_b = sorted((int(z_a), int(z_b)))
    first, last = label[z_a], label[z_b]
    if not (first.any() and last.any()):
        raise ValueError(f"slices {z_a} and {z_b} must both be annotated to interpolate between them")
    if z_b - z_a < 2:
        return []
    drift = np.subtract(ndimage.center_of_mass(last), ndimage.center_of_mass(first))
    # Every blended shape lies within the union's box grown by the drift; a one-pixel background
    # margin beyond that keeps the distances inside the box exact.
    box = _bounding_box(first | last, margin=1 + int(np.ceil(np.abs(drift).max())))
    spacing = (float(spacing_yx[0]), float(spacing_yx[1]))
    distance_a = _signed_distance(first[box], spacing)
    distance_b = _signed_distance(last[box], spacing)
    changed = []
    for z in range(z_a + 1, z_b):
        t = (z - z_a) / (z_b - z_a)
        blend = (1.0 - t) * _moved(distance_a, t * drift) + t * _moved(distance_b, (t - 1.0) * drift)
        shape = np.zeros_like(label[z])
        shape[box] = blend < 0
        if not np.array_equal(shape, label[z]):
            label[z] = shape
            changed.append(z)
    return changed


def _moved(distance: np.ndarray, shift_yx: np.ndarray) -> np.ndarray:
    """A distance map shifted by (rows, cols) pixels, edges extended (they are far from the shape)."""
    if not np.any(shift_yx):
        return distance
    return ndimage.shift(distance, shift_yx, order=1, mode="nearest")


def interpolate_all(label: np.ndarray, spacing_yx: tuple[float, float] = (1.0, 1.0)) -> list[int]:
    """Interpolate every run of empty slices between consecutive annotated slices; slices changed.

    Annotated slices are never modified, so contours drawn by hand stay exactly as drawn.
    """
    annotated = _annotated(label)
    changed: list[int] = []
    for z_a, z_b in itertools.pairwise(annotated):
        if z_b - z_a > 1:
            changed.extend(interpolate_slices(label, int(z_a), int(z_b), spacing_yx))
    return changed


def _components(label: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray, np.ndarray]:
    """Face-connected components of the label, labelled inside its bounding box, and their sizes."""
    box = _bounding_box(label, margin=0)
    components, _ = ndimage.label(label[box], structure=_FACES_3D)
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return box, components, sizes


def _remove(label: np.ndarray, box: tuple[slice, ...], removed: np.ndarray) -> list[int]:
    """Clear ``removed`` (a mask of the box) from the label; the slices that changed."""
    label[box][removed] = False
    return [int(z) + box[0].start for z in np.flatnonzero(np.any(removed, axis=(1, 2)))]


def remove_small_islands(label: np.ndarray, min_voxels: int) -> list[int]:
    """Delete 3D face-connected components smaller than ``min_voxels``; slices changed.

    Stray brush dots and noise from automatic segmentation are small islands; the organ is not.
    """
    if not label.any():
        return []
    box, components, sizes = _components(label)
    small = (sizes > 0) & (sizes < min_voxels)
    if not small.any():
        return []
    return _remove(label, box, small[components])


def keep_largest_component(label: np.ndarray) -> list[int]:
    """Keep only the largest 3D face-connected component (the liver is one piece); slices changed."""
    if not label.any():
        return []
    box, components, sizes = _components(label)
    others = sizes > 0
    others[int(np.argmax(sizes))] = False
    if not others.any():
        return []
    return _remove(label, box, others[components])
