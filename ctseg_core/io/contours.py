"""Closed planar contours of a mask slice, and the mask a set of contours encloses.

Tools disagree on where a contour runs. Marching-squares tools (plastimatch, Slicer's surface cuts)
draw the boundary between pixels and fill pixels whose centre lies inside; OpenCV tools (rt-utils,
hence TotalSegmentator) draw through the centres of the boundary pixels and fill boundary-inclusive,
after rounding each vertex to the nearest pixel. ctseg writes each contour a quarter pixel outside
the boundary pixels' centres (marching squares at level 0.75): a pixel-centre reader finds exactly
the mask inside it, and a rounding reader moves every vertex onto a boundary pixel centre and fills
exactly the mask too. ctseg reads with the even-odd rule on pixel centres (so a contour inside another
is a hole, whichever way either runs) and counts a centre lying on a contour as inside, so contours
drawn either way read back voxel for voxel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Marching-squares level between outside (0) and inside (1): a quarter pixel from the inside centres.
CONTOUR_LEVEL = 0.75
#: A pixel centre this close to a contour vertex lattice (pixels) lies on the contour.
_ON_CONTOUR = 1e-3


def mask_contours(plane: np.ndarray) -> list[np.ndarray]:
    """Closed contours around each island and hole of a 2D bool mask, as (n, 2) float arrays of
    (row, column) pixel coordinates, first point not repeated, collinear points dropped."""
    from skimage import measure

    plane = np.asarray(plane, dtype=bool)
    rows, columns = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    if rows.size == 0:
        return []
    top, left = int(rows[0]), int(columns[0])
    crop = plane[top : int(rows[-1]) + 1, left : int(columns[-1]) + 1]
    padded = np.pad(crop.astype(np.float32), 1)  # contours close inside the padding
    offset = np.array([top - 1.0, left - 1.0])
    contours = []
    for contour in measure.find_contours(padded, CONTOUR_LEVEL, fully_connected="high"):
        points = contour[:-1] if np.allclose(contour[0], contour[-1]) else contour
        contours.append(_without_collinear(points + offset))
    return contours


def _without_collinear(points: np.ndarray) -> np.ndarray:
    """The closed polygon without vertices that lie on the line through their neighbours."""
    if len(points) < 4:
        return points
    before = points - np.roll(points, 1, axis=0)
    after = np.roll(points, -1, axis=0) - points
    cross = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    keep = np.abs(cross) > 1e-9
    return points[keep] if np.count_nonzero(keep) >= 3 else points


def fill_contours(polygons: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The bool mask of a slice enclosed by ``polygons`` ((n, 2) row, column arrays): even-odd on
    pixel centres, centres on a contour included."""
    rows, columns = shape
    polygons = [np.asarray(p, dtype=np.float64) for p in polygons if len(p) >= 1]
    if not polygons:
        return np.zeros(shape, dtype=bool)
    inside = _even_odd(polygons, rows, columns)
    _mark_lattice_edges(polygons, inside)
    return inside


def _even_odd(polygons: list[np.ndarray], rows: int, columns: int) -> np.ndarray:
    """Pixels whose centre is strictly inside an odd number of polygons (scanline crossings)."""
    starts = np.concatenate(polygons)
    ends = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
    r0, c0, r1, c1 = starts[:, 0], starts[:, 1], ends[:, 0], ends[:, 1]
    low, high = np.minimum(r0, r1), np.maximum(r0, r1)
    first = np.maximum(np.ceil(low).astype(np.int64), 0)  # rows y with low <= y < high (half-open)
    last = np.minimum(np.ceil(high).astype(np.int64) - 1, rows - 1)
    counts = np.maximum(last - first + 1, 0)
    inside = np.zeros((rows, columns), dtype=bool)
    if counts.sum() == 0:
        return inside
    edge = np.repeat(np.arange(len(r0)), counts)
    y = first[edge] + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    x = c0[edge] + (y - r0[edge]) * (c1[edge] - c0[edge]) / (r1[edge] - r0[edge])
    order = np.lexsort((x, y))
    y, x = y[order], x[order]
    span_row, left, right = y[0::2], x[0::2], x[1::2]
    begin = np.clip(np.floor(left).astype(np.int64) + 1, 0, columns)
    stop = np.clip(np.ceil(right).astype(np.int64), 0, columns)  # centres c with left < c < right
    valid = stop > begin
    if not valid.any():
        return inside
    top, bottom = int(span_row[valid].min()), int(span_row[valid].max()) + 1
    change = np.zeros((bottom - top, columns + 1), dtype=np.int32)  # only the rows spans cross
    np.add.at(change, (span_row[valid] - top, begin[valid]), 1)
    np.add.at(change, (span_row[valid] - top, stop[valid]), -1)
    inside[top:bottom] = np.cumsum(change, axis=1)[:, :columns] > 0
    return inside


def _mark_lattice_edges(polygons: list[np.ndarray], inside: np.ndarray) -> None:
    """Set the pixels whose centres lie on contour edges that join pixel centres (OpenCV-style contours)."""
    rows, columns = inside.shape
    for polygon in polygons:
        starts = polygon
        ends = np.roll(polygon, -1, axis=0)
        rounded_start, rounded_end = np.rint(starts), np.rint(ends)
        lattice = np.all(np.abs(starts - rounded_start) < _ON_CONTOUR, axis=1) & np.all(
            np.abs(ends - rounded_end) < _ON_CONTOUR, axis=1
        )
        if not lattice.any():
            continue
        a = rounded_start[lattice].astype(np.int64)
        delta = rounded_end[lattice].astype(np.int64) - a
        steps = np.gcd(np.abs(delta[:, 0]), np.abs(delta[:, 1]))
        counts = steps + 1
        edge = np.repeat(np.arange(len(a)), counts)
        k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        unit = delta[edge] // np.maximum(steps[edge], 1)[:, None]
        points = a[edge] + unit * k[:, None]
        keep = (points[:, 0] >= 0) & (points[:, 0] < rows) & (points[:, 1] >= 0) & (points[:, 1] < columns)
        inside[points[keep, 0], points[keep, 1]] = True
