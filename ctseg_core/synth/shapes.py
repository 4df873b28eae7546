"""Shapes the phantom is drawn with: a slice's pixel grid, ellipses, ellipsoids and tubes in patient mm.

Why: every organ is an ellipse, an ellipsoid cut by the slice or a tube, evaluated only on its
bounding box so small organs stay cheap at 512 × 512. A region is the crop of the slice that
holds the shape and a bool mask inside that crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Region = tuple[tuple[slice, slice], np.ndarray]  # crop of the slice and a bool mask inside it


@dataclass(frozen=True)
class Grid:
    """Patient coordinates (mm) of the pixel centres of one slice."""

    x: np.ndarray  # (size,) float32, x of each column
    y: np.ndarray  # (size,) float32, y of each row
    d: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y.size, self.x.size)

    def box(self, cx: float, cy: float, hx: float, hy: float) -> tuple[slice, slice] | None:
        """Rows/columns of the pixels in an axis-aligned box; None when it misses the image."""
        n = self.x.size
        j0 = max(int(np.floor((cx - hx - self.x[0]) / self.d)), 0)
        j1 = min(int(np.ceil((cx + hx - self.x[0]) / self.d)) + 1, n)
        i0 = max(int(np.floor((cy - hy - self.y[0]) / self.d)), 0)
        i1 = min(int(np.ceil((cy + hy - self.y[0]) / self.d)) + 1, n)
        if j0 >= j1 or i0 >= i1:
            return None
        return (slice(i0, i1), slice(j0, j1))


def ellipse(g: Grid, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> Region | None:
    """Pixels inside an ellipse, evaluated only on its bounding box (cheap for small organs)."""
    if rx <= 0.0 or ry <= 0.0:
        return None
    r = max(rx, ry)
    box = g.box(cx, cy, r, r) if angle else g.box(cx, cy, rx, ry)
    if box is None:
        return None
    dx = g.x[box[1]][None, :] - cx
    dy = g.y[box[0]][:, None] - cy
    if angle:
        c, s = np.cos(angle), np.sin(angle)
        dx, dy = dx * c + dy * s, dy * c - dx * s
    return box, (dx / rx) ** 2 + (dy / ry) ** 2 < 1.0


def paint(img: np.ndarray, region: Region | None, value: float, within: np.ndarray | None = None) -> np.ndarray | None:
    """Set ``value`` on a region (optionally clipped to a full-frame mask); return its crop mask."""
    if region is None:
        return None
    box, m = region
    if within is not None:
        m = m & within[box]
    img[box][m] = value
    return m


def add_region(full: np.ndarray, region: Region | None, within: np.ndarray | None = None) -> None:
    """OR a cropped region into a full-frame mask."""
    if region is not None:
        box, m = region
        full[box] |= m if within is None else m & within[box]


@dataclass(frozen=True)
class Ellipsoid:
    """Ellipsoid with one axis along z and an in-plane rotation (kidney, tumour, bowel loop)."""

    cx: float
    cy: float
    cz: float  # anatomical mm
    rx: float
    ry: float
    rz: float
    angle: float = 0.0

    def section(self, g: Grid, z: float, shrink: float = 0.0) -> Region | None:
        """The ellipse this ellipsoid cuts out of the slice at ``z``, its radii reduced by ``shrink`` mm."""
        h = 1.0 - ((z - self.cz) / self.rz) ** 2
        if h <= 0.0:
            return None
        f = float(np.sqrt(h))
        return ellipse(g, self.cx, self.cy, self.rx * f - shrink, self.ry * f - shrink, self.angle)


@dataclass(frozen=True)
class Tube:
    """Straight vessel or gut segment in (x, y, anatomical z) mm."""

    p0: tuple[float, float, float]
    p1: tuple[float, float, float]
    r: float

    def section(self, g: Grid, z: float, shrink: float = 0.0) -> Region | None:
        """Pixels of this slice within ``r - shrink`` of the segment (a disc, an oval or a band)."""
        r = self.r - shrink
        p0, v = np.array(self.p0), np.subtract(self.p1, self.p0)
        if v[2] != 0.0:  # only the part of the segment within r of this slice can show
            lo, hi = sorted(((z - r - p0[2]) / v[2], (z + r - p0[2]) / v[2]))
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        else:
            lo, hi = (0.0, 1.0) if abs(z - p0[2]) < r else (1.0, 0.0)
        if lo > hi or r <= 0.0:
            return None
        a, b = p0 + lo * v, p0 + hi * v
        box = g.box((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, abs(a[0] - b[0]) / 2 + r, abs(a[1] - b[1]) / 2 + r)
        if box is None:
            return None
        dx = g.x[box[1]][None, :] - p0[0]
        dy = g.y[box[0]][:, None] - p0[1]
        dz = z - p0[2]
        u = np.clip((dx * v[0] + dy * v[1] + dz * v[2]) / float(v @ v), 0.0, 1.0)
        dist2 = (dx - u * v[0]) ** 2 + (dy - u * v[1]) ** 2 + (dz - u * v[2]) ** 2
        return box, dist2 < r**2


def bump(t: float, centre: float, half: float) -> float:
    """Smooth 0..1 profile of an organ along the scan: a half-ellipse of half-length ``half``."""
    h = 1.0 - ((t - centre) / half) ** 2
    return float(np.sqrt(h)) if h > 0.0 else 0.0
