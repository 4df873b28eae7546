"""Synthetic abdominal CT "phantom patients", written as DICOM in the 3D-IRCADb-01 layout.

Why: the demo, the tests and the liver U-Net trainer need CT volumes with exact liver masks
and no patient data. Each seed is a different, fully deterministic patient (body habitus,
liver size/position/lobulation, tumours, spacing, noise), so a range of seeds is a small
training set. Geometry is defined in patient millimetres (in-plane) and in a normalised
position ``t`` along the scan (0 = lower pole of the kidneys, 1 = above the liver dome), so
the anatomy looks the same for any pixel size or slice count.

Patient axes follow DICOM (LPS): +x is the patient's left (image right), +y posterior
(image bottom), +z superior (higher slice index).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid
from scipy.ndimage import gaussian_filter

from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

MASK_NAMES: tuple[str, ...] = ("liver", "livertumor", "spleen")
# Bumped whenever a seed would draw a different patient, so caches of written phantoms go stale.
PHANTOM_VERSION = 2

_Z_ANAT_MM = 200.0  # anatomical length the scan spans, whatever the slice count
_HU_MIN, _HU_MAX = -1024, 3071
_STORE_OFFSET = 1024  # stored value = HU + 1024, RescaleIntercept -1024, as scanners do
_TEXTURE_CELL_MM = 10.0
_TEXTURE_EXTENT_MM = 260.0  # texture grid covers +-this in x and y, whatever the FOV
_PSF_MM = 0.45  # Gaussian blur sigma: real CT has soft edges, not aliased binary ones

_Region = tuple[tuple[slice, slice], np.ndarray]  # crop of the slice and a bool mask inside it


@dataclass
class PhantomVolume:
    """One synthetic patient: HU volume, organ masks and the geometry written to DICOM."""

    hu: np.ndarray  # int16 (z, y, x)
    masks: dict[str, np.ndarray]  # bool (z, y, x): "liver", "livertumor", "spleen"
    spacing_mm: tuple[float, float, float]  # (dz, dy, dx)
    origin_mm: tuple[float, float, float]  # ImagePositionPatient of slice 0 (x, y, z)
    seed: int


# ----------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Grid:
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


def _ellipse(g: _Grid, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> _Region | None:
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


def _paint(
    img: np.ndarray, region: _Region | None, value: float, within: np.ndarray | None = None
) -> np.ndarray | None:
    """Set ``value`` on a region (optionally clipped to a full-frame mask); return its crop mask."""
    if region is None:
        return None
    box, m = region
    if within is not None:
        m = m & within[box]
    img[box][m] = value
    return m


def _add(full: np.ndarray, region: _Region | None, within: np.ndarray | None = None) -> None:
    """OR a cropped region into a full-frame mask."""
    if region is not None:
        box, m = region
        full[box] |= m if within is None else m & within[box]


@dataclass(frozen=True)
class _Ellipsoid:
    """Ellipsoid with one axis along z and an in-plane rotation (kidney, tumour, bowel loop)."""

    cx: float
    cy: float
    cz: float  # anatomical mm
    rx: float
    ry: float
    rz: float
    angle: float = 0.0

    def section(self, g: _Grid, z: float, shrink: float = 0.0) -> _Region | None:
        """The ellipse this ellipsoid cuts out of the slice at ``z``, its radii reduced by ``shrink`` mm."""
        h = 1.0 - ((z - self.cz) / self.rz) ** 2
        if h <= 0.0:
            return None
        f = float(np.sqrt(h))
        return _ellipse(g, self.cx, self.cy, self.rx * f - shrink, self.ry * f - shrink, self.angle)


@dataclass(frozen=True)
class _Tube:
    """Straight vessel or gut segment in (x, y, anatomical z) mm."""

    p0: tuple[float, float, float]
    p1: tuple[float, float, float]
    r: float

    def section(self, g: _Grid, z: float, shrink: float = 0.0) -> _Region | None:
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


def _bump(t: float, centre: float, half: float) -> float:
    """Smooth 0..1 profile of an organ along the scan: a half-ellipse of half-length ``half``."""
    h = 1.0 - ((t - centre) / half) ** 2
    return float(np.sqrt(h)) if h > 0.0 else 0.0


# ----------------------------------------------------------------------------- patient


@dataclass(frozen=True)
class _Body:
    """Outer outline and layer thicknesses; every organ is placed relative to these."""

    a: float  # lateral semi-axis
    b_ant: float
    b_post: float
    fat: float  # subcutaneous fat thickness
    wall: float  # abdominal muscle wall thickness
    phase: float
    fat_hu: float
    wall_hu: float
    cavity_hu: float

    def axes(self, t: float) -> tuple[float, float, float]:
        """Semi-axes at ``t``; they breathe a little along z so no two slices share an outline."""
        fa = 1.0 + 0.04 * np.sin(2 * np.pi * 0.8 * t + self.phase)
        fb = 1.0 + 0.03 * np.sin(2 * np.pi * 0.6 * t + 2 * self.phase)
        return self.a * fa, self.b_ant * fb, self.b_post * fb


@dataclass(frozen=True)
class _Spine:
    """Vertebral column: the posterior landmark for kidneys, aorta, IVC and muscles."""

    y: float  # centre of the vertebral body
    rx: float
    ry: float
    cancellous_hu: float
    cortex_hu: float
    disc_phase: float


@dataclass(frozen=True)
class _Liver:
    """Right-lobe ellipse, its z profile and outline harmonics, plus what lies inside the liver."""

    cx: float
    cy: float
    rx: float
    ry: float
    t_tip: float
    t_dome: float
    orders: tuple[int, ...]  # angular harmonics of the outline
    amps: tuple[float, ...]
    freqs: tuple[float, ...]  # how fast each harmonic's phase drifts along t
    phases: tuple[float, ...]
    hu: float
    vessel_hu: float
    tumour_hu: tuple[float, ...]
    tumours: tuple[_Ellipsoid, ...]
    vessels: tuple[_Tube, ...]

    def scales(self, t: float) -> tuple[float, float]:
        """Size of the right and left lobes at ``t``: tapering tip below, round dome above."""
        u = (t - self.t_tip) / (self.t_dome - self.t_tip)
        if u <= 0.0 or u >= 1.0:
            return 0.0, 0.0
        peak = 0.72
        right = np.sin(np.pi / 2 * u / peak) ** 0.7 if u < peak else np.sqrt(1 - ((u - peak) / (1 - peak)) ** 2)
        left = np.sin(np.pi * (u - 0.38) / 0.62) ** 0.8 if u > 0.38 else 0.0
        return float(right), float(left)

    def centre(self, t: float) -> tuple[float, float]:
        """Right-lobe centre: the tip lies lower, more lateral and more posterior."""
        right, _ = self.scales(t)
        u = (t - self.t_tip) / (self.t_dome - self.t_tip)
        w = (1.0 - right) if u < 0.72 else 0.0
        return self.cx - 0.25 * self.rx * w, self.cy + 0.25 * self.ry * w

    def point(self, t: float, angle: float, frac: float) -> tuple[float, float, float]:
        """A point inside the right lobe at ``t`` (anatomical mm), for tumours and vessels."""
        right, _ = self.scales(t)
        cx, cy = self.centre(t)
        reach = right * frac
        return cx + np.cos(angle) * self.rx * reach, cy + np.sin(angle) * self.ry * reach, t * _Z_ANAT_MM


@dataclass(frozen=True)
class _Patient:
    """Every random choice of one seed, drawn once so that all slices agree."""

    d512: float  # pixel spacing at 512 px
    dz: float
    noise_sd: float
    body: _Body
    spine: _Spine
    aorta: tuple[float, float, float, float]  # cx, cy, r, hu
    ivc: tuple[float, float, float, float, float]  # cx, cy, rx, ry, hu
    kidneys: tuple[_Ellipsoid, ...]
    kidney_hu: tuple[float, float]  # cortex, medulla
    spleen: _Ellipsoid
    spleen_hu: float
    stomach: _Ellipsoid
    stomach_gas: float  # fraction of the stomach's height filled with gas
    gut: tuple[tuple[_Ellipsoid | _Tube, bool], ...]  # loop, has gas
    gallbladder: _Ellipsoid
    gallbladder_hu: float
    rib_phases: tuple[float, ...]
    liver: _Liver


def _draw_liver(rng: np.random.Generator) -> _Liver:
    scale = rng.uniform(0.85, 1.15)
    n = int(rng.integers(2, 5))
    orders = tuple(int(k) for k in rng.choice(np.arange(2, 7), size=n, replace=False))
    base = _Liver(
        cx=-62.0 + rng.uniform(-15, 15),
        cy=-8.0 + rng.uniform(-15, 15),
        rx=72.0 * scale,
        ry=82.0 * scale,
        t_tip=rng.uniform(0.2, 0.28),
        t_dome=rng.uniform(0.9, 0.97),
        orders=orders,
        amps=tuple(rng.uniform(0.03, 0.08, n) / np.sqrt(np.array(orders) / 2)),
        freqs=tuple(rng.uniform(0.5, 1.5, n)),
        phases=tuple(rng.uniform(0, 2 * np.pi, 2 * n)),
        hu=rng.uniform(60, 110),
        vessel_hu=0.0,
        tumour_hu=(),
        tumours=(),
        vessels=(),
    )
    portal_phase = rng.random() < 0.7
    vessel_hu = rng.uniform(150, 200) if portal_phase else base.hu - rng.uniform(10, 20)
    span = base.t_dome - base.t_tip
    tumours = []
    for _ in range(int(rng.integers(1, 4))):
        t = base.t_tip + span * rng.uniform(0.35, 0.8)
        r = rng.uniform(8, 20)
        tumours.append(
            _Ellipsoid(  # type: ignore[call-arg]  # a centre and three radii: mypy cannot count the stars
                *base.point(t, rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.6)),
                *(r * rng.uniform(0.8, 1.25, 3)),
                rng.uniform(0, np.pi),
            )
        )
    hilum_t = base.t_tip + 0.5 * span
    hilum = (base.cx + 0.5 * base.rx, base.cy + 0.15 * base.ry, hilum_t * _Z_ANAT_MM)
    portal = [
        base.point(base.t_tip + span * rng.uniform(0.25, 0.8), rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 0.85))
        for _ in range(int(rng.integers(4, 7)))
    ]
    vessels = [_Tube(hilum, end, rng.uniform(2.5, 5.0)) for end in portal]
    top = (base.cx + 0.75 * base.rx, base.cy + 0.55 * base.ry, (base.t_dome - 0.06) * _Z_ANAT_MM)  # meets the IVC
    hepatic = [
        base.point(base.t_tip + span * rng.uniform(0.5, 0.8), angle, rng.uniform(0.6, 0.9))
        for angle in (np.pi * 1.1, np.pi * 1.4, np.pi * 1.75)
    ]
    vessels += [_Tube(top, end, rng.uniform(3.0, 5.0)) for end in hepatic]
    return replace(
        base,
        vessel_hu=vessel_hu,
        tumour_hu=tuple(base.hu - rng.uniform(15, 40, len(tumours))),
        tumours=tuple(tumours),
        vessels=tuple(vessels),
    )


def _draw_gut(rng: np.random.Generator, body: _Body) -> tuple[tuple[_Ellipsoid | _Tube, bool], ...]:
    """Colon (ascending, transverse, descending) and small-bowel loops in the lower abdomen."""
    a, b = body.a - body.fat - body.wall, body.b_ant - body.fat - body.wall
    z = _Z_ANAT_MM
    colon: list[tuple[_Ellipsoid | _Tube, bool]] = [
        (_Tube((-0.62 * a, 0.05 * b, -20.0), (-0.6 * a, -0.15 * b, 0.5 * z), rng.uniform(18, 24)), True),
        (_Tube((-0.6 * a, -0.3 * b, 0.48 * z), (0.55 * a, -0.45 * b, 0.52 * z), rng.uniform(15, 20)), True),
        (_Tube((0.68 * a, 0.15 * b, -20.0), (0.62 * a, 0.0, 0.72 * z), rng.uniform(14, 18)), True),
    ]
    loops: list[tuple[_Ellipsoid | _Tube, bool]] = [
        (
            _Ellipsoid(
                rng.uniform(-0.45, 0.5) * a,
                rng.uniform(-0.75, 0.1) * b,
                rng.uniform(0.0, 0.5) * z,
                rng.uniform(10, 18),
                rng.uniform(10, 18),
                rng.uniform(15, 35),
                rng.uniform(0, np.pi),
            ),
            bool(rng.random() < 0.35),
        )
        for _ in range(int(rng.integers(12, 18)))
    ]
    return tuple(colon + loops)


def _draw_patient(seed: int) -> _Patient:
    rng = np.random.default_rng(seed)
    u = rng.uniform
    d512 = round(float(u(0.65, 0.85)), 4)
    dz = float(rng.choice([1.5, 2.0, 2.5]))
    a = min(u(150, 175), 0.46 * d512 * 512)  # keep the flanks inside the narrowest field of view
    b = u(105, 125)
    body = _Body(
        a=a,
        b_ant=b,
        b_post=0.92 * b,
        fat=u(10, 20),
        wall=u(8, 13),
        phase=u(0, 2 * np.pi),
        fat_hu=u(-110, -90),
        wall_hu=u(35, 55),
        cavity_hu=u(-100, -80),
    )
    spine = _Spine(
        y=body.b_post - u(62, 70),
        rx=u(18, 22),
        ry=u(14, 17),
        cancellous_hu=u(300, 450),
        cortex_hu=u(800, 1000),
        disc_phase=u(0, 1),
    )
    aorta_r = u(9, 12)
    aorta = (u(10, 18), spine.y - spine.ry - aorta_r - u(2, 6), aorta_r, u(200, 300))
    ivc = (-u(22, 28), aorta[1] - u(0, 6), u(12, 16), u(8, 11), u(90, 115))
    left_z = u(0.26, 0.32) * _Z_ANAT_MM
    kidneys = tuple(
        _Ellipsoid(
            cx=side * u(62, 72),
            cy=spine.y + u(-6, 4),
            cz=left_z - (side < 0) * u(6, 14),  # right one lower
            rx=u(24, 28),
            ry=u(19, 23),
            rz=u(50, 60),
            angle=side * np.deg2rad(u(30, 45)),
        )
        for side in (1.0, -1.0)
    )
    spleen = _Ellipsoid(
        cx=0.62 * a + u(-8, 8),
        cy=0.3 * b + u(-8, 8),
        cz=u(0.66, 0.74) * _Z_ANAT_MM,
        rx=u(45, 55),
        ry=u(22, 28),
        rz=u(38, 48),
        angle=np.deg2rad(u(-70, -50)),
    )
    stomach = _Ellipsoid(
        cx=0.35 * a + u(-10, 10),
        cy=-0.2 * b + u(-8, 8),
        cz=u(0.7, 0.78) * _Z_ANAT_MM,
        rx=u(45, 60),
        ry=u(32, 42),
        rz=u(45, 55),
        angle=np.deg2rad(u(-30, 10)),
    )
    liver = _draw_liver(rng)
    # The IVC enhances with the hepatic veins that drain into it, so it stands out from the
    # parenchyma in every phase (bright in the portal phase, darker before it); an IVC at liver
    # HU would be an unlabelled hole that no image evidence shows. The 90–115 HU drawn above
    # becomes the offset from the veins, so the random stream, and every other structure a
    # seed draws, stays as it was.
    ivc = (*ivc[:4], liver.vessel_hu - 0.8 * (ivc[4] - 90.0))
    gb_t = liver.t_tip + 0.3 * (liver.t_dome - liver.t_tip)  # in the fossa under the lower liver
    gallbladder = _Ellipsoid(
        cx=liver.cx + 0.55 * liver.rx,
        cy=liver.cy - 0.3 * liver.ry,
        cz=gb_t * _Z_ANAT_MM,
        rx=u(12, 16),
        ry=u(15, 20),
        rz=u(25, 35),
        angle=np.deg2rad(u(-60, -30)),
    )
    return _Patient(
        d512=d512,
        dz=dz,
        noise_sd=rng.uniform(10, 20),
        body=body,
        spine=spine,
        aorta=aorta,
        ivc=ivc,
        kidneys=kidneys,
        kidney_hu=(rng.uniform(140, 170), rng.uniform(90, 115)),
        spleen=spleen,
        spleen_hu=rng.uniform(45, 55),
        stomach=stomach,
        stomach_gas=rng.uniform(0.2, 0.5),
        gut=_draw_gut(rng, body),
        gallbladder=gallbladder,
        gallbladder_hu=rng.uniform(0, 20),
        rib_phases=tuple(rng.uniform(0, 1, 16)),
        liver=liver,
    )


# ----------------------------------------------------------------------------- organs


def _paint_body(img: np.ndarray, g: _Grid, body: _Body, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Skin, subcutaneous fat, muscle wall, intra-abdominal fat; return (inside fat, cavity)."""
    a, b_ant, b_post = body.axes(t)
    x2 = g.x[None, :] ** 2
    y = g.y[:, None]

    def inside(inset: float, ant: float = 1.0, post: float = 1.0) -> np.ndarray:
        by = np.where(y < 0, b_ant - ant * inset, b_post - post * inset)
        return x2 / (a - inset) ** 2 + y**2 / by**2 < 1.0

    img[inside(0.0)] = 30.0  # skin
    img[inside(2.0)] = body.fat_hu
    within_fat = inside(body.fat)
    img[within_fat] = body.wall_hu
    # the wall is thinner over the rectus than over the lumbar muscles
    cavity = inside(body.fat + body.wall, 0.85, 1.5)
    img[cavity] = body.cavity_hu
    return within_fat, cavity


def _paint_table(img: np.ndarray, g: _Grid, body: _Body) -> None:
    """Two carbon-fibre shells of the patient table below the back, as on every real scan."""
    top = body.b_post * 1.035 + 3.0
    for y in (top, top + 28.0):
        box = g.box(0.0, y + 1.5, 0.4 * g.d * g.x.size, 1.5)
        if box is not None:
            img[box] = 150.0


def _paint_lungs(img: np.ndarray, g: _Grid, p: _Patient, t: float, cavity: np.ndarray) -> None:
    """Posterior lung bases above the liver dome level, which the liver and spleen then overwrite."""
    grow = np.clip((t - (p.liver.t_dome - 0.14)) / 0.16, 0.0, 1.0)
    if grow <= 0.0:
        return
    a, _, b_post = p.body.axes(t)
    a_c, b_c = a - p.body.fat - p.body.wall, b_post - p.body.fat - p.body.wall
    for side in (-1.0, 1.0):
        _paint(img, _ellipse(g, side * 0.55 * a_c, 0.45 * b_c, 0.5 * a_c * grow, 0.6 * b_c * grow), -850.0, cavity)


def _paint_gut(img: np.ndarray, g: _Grid, p: _Patient, z: float, cavity: np.ndarray) -> None:
    """Bowel loops and stomach: a soft-tissue wall around gas or fluid."""
    for loop, gas in p.gut:
        region = loop.section(g, z)
        _paint(img, region, 40.0, cavity)
        _paint(img, loop.section(g, z, 3.0), -900.0 if gas else 15.0, cavity)
    st = p.stomach
    if _paint(img, st.section(g, z), 40.0, cavity) is None:
        return
    inner = st.section(g, z, 4.0)
    lumen = _paint(img, inner, 20.0, cavity)
    if lumen is not None and inner is not None:
        box, _ = inner
        level = st.cy - st.ry * (1.0 - 2.0 * p.stomach_gas)
        gas_pixels = lumen & (g.y[box[0]][:, None] < level)  # gas rises anteriorly in a supine patient
        img[box][gas_pixels] = -900.0


def _paint_muscles(
    img: np.ndarray, g: _Grid, p: _Patient, t: float, within_fat: np.ndarray, blocked: np.ndarray
) -> None:
    """Paraspinal muscles and psoas/crura beside the spine."""
    s = p.spine
    psoas = 0.35 + 0.65 * float(np.clip((0.6 - t) / 0.6, 0.0, 1.0))
    for side in (-1.0, 1.0):
        para = _ellipse(g, side * (s.rx + 14), s.y + s.ry + 24, 24, 22)
        _paint(img, para, p.body.wall_hu + 5, within_fat)
        _add(blocked, para, within_fat)
        ps = _ellipse(g, side * (s.rx + 8 + 4 * psoas), s.y - 2, 14 * psoas, 15 * psoas)
        _paint(img, ps, p.body.wall_hu, within_fat)
        _add(blocked, ps)


def _paint_kidneys(img: np.ndarray, g: _Grid, p: _Patient, z: float, blocked: np.ndarray) -> None:
    """Cortex, darker medulla and a fatty sinus at the anteromedial hilum."""
    for k in p.kidneys:
        outer = k.section(g, z)
        _paint(img, outer, p.kidney_hu[0])
        _add(blocked, outer)
        _paint(img, k.section(g, z, 7.0), p.kidney_hu[1])
        side = np.sign(k.cx)
        f = _bump(z, k.cz, k.rz * 0.6)
        _paint(img, _ellipse(g, k.cx - side * 0.7 * k.rx, k.cy - 0.35 * k.ry, 9 * f, 6 * f), -80.0)


def _paint_great_vessels(img: np.ndarray, g: _Grid, p: _Patient, blocked: np.ndarray) -> None:
    """Contrast-filled aorta, and the IVC that lies in a groove on the liver's posterior surface."""
    cx, cy, r, hu = p.aorta
    aorta = _ellipse(g, cx, cy, r, r)
    _paint(img, aorta, hu)
    _add(blocked, aorta)
    cx, cy, rx, ry, hu = p.ivc
    ivc = _ellipse(g, cx, cy, rx, ry)
    _paint(img, ivc, hu)
    _add(blocked, ivc)


def _retroperitoneum(g: _Grid, p: _Patient, z: float) -> np.ndarray:
    """Space the liver never enters: behind and left of the IVC, and behind the kidneys."""
    off = np.zeros(g.shape, bool)
    cx, cy = 15.0, p.spine.y + 15.0
    front = p.aorta[1] - p.aorta[2] - 6.0
    _add(off, _ellipse(g, cx, cy, cx - p.ivc[0] - 0.3 * p.ivc[2], cy - front))
    # The IVC lies in a groove on the liver's posterior surface: the liver never closes behind it.
    ivc_x, ivc_y, ivc_rx = p.ivc[0], p.ivc[1], p.ivc[2]
    _add(off, _ellipse(g, ivc_x, ivc_y + 40.0, 1.1 * ivc_rx, 40.0))
    for k in p.kidneys:
        shadow = _Ellipsoid(k.cx + np.sign(k.cx) * 10.0, k.cy + 22.0, k.cz, k.rx + 8.0, k.ry + 14.0, k.rz, k.angle)
        _add(off, shadow.section(g, z))
    return off


def _paint_spine(img: np.ndarray, g: _Grid, p: _Patient, z: float, within_fat: np.ndarray, blocked: np.ndarray) -> None:
    """Vertebral body (cortical rim, cancellous core) or disc, arch, canal and spinous process."""
    s = p.spine
    body = _ellipse(g, 0.0, s.y, s.rx, s.ry)
    _add(blocked, body)
    is_disc = (z / 30.0 + s.disc_phase) % 1.0 < 0.2
    if is_disc:
        _paint(img, body, 90.0)
    else:
        _paint(img, body, s.cortex_hu)
        _paint(img, _ellipse(g, 0.0, s.y, s.rx - 2.5, s.ry - 2.5), s.cancellous_hu)
    canal_y = s.y + s.ry + 9.0
    arch = _ellipse(g, 0.0, canal_y, 14.0, 13.0)
    _paint(img, arch, s.cortex_hu - 150)
    _add(blocked, arch)
    spinous = _ellipse(g, 0.0, canal_y + 24.0, 5.0, 14.0)
    _paint(img, spinous, s.cortex_hu - 150, within_fat)
    if 0.45 < (z / 30.0 + s.disc_phase) % 1.0 < 0.7:  # transverse processes: mid-vertebra only
        for side in (-1.0, 1.0):
            tp = _ellipse(g, side * (s.rx + 14), s.y + s.ry + 4, 15.0, 5.0, side * 0.25)
            _paint(img, tp, s.cortex_hu - 200)
            _add(blocked, tp)
    _paint(img, _ellipse(g, 0.0, canal_y, 8.0, 7.5), 20.0)


def _paint_ribs(img: np.ndarray, g: _Grid, p: _Patient, t: float, z: float, blocked: np.ndarray) -> None:
    """Rib cross-sections along the inside of the muscle wall; more and more anterior ones higher up."""
    a, b_ant, b_post = p.body.axes(t)
    inset = p.body.fat + p.body.wall - 3.0
    angles = np.deg2rad(np.linspace(-75, 80, 8))  # 0 = lateral, positive = posterior
    for i, psi in enumerate(angles):
        if t < 0.33 + 0.35 * max(0.0, -np.sin(psi)):
            continue
        for j, side in enumerate((-1.0, 1.0)):
            if (z / 34.0 + 0.3 * np.sin(psi) + p.rib_phases[2 * i + j]) % 1.0 > 0.4:
                continue
            b = b_post if psi > 0 else b_ant
            cx, cy = side * (a - inset) * np.cos(psi), (b - inset) * np.sin(psi)
            tangent = np.arctan2((b - inset) * np.cos(psi), -side * (a - inset) * np.sin(psi))
            rib = _ellipse(g, cx, cy, 8.0, 4.5, tangent)
            _paint(img, rib, p.spine.cortex_hu)
            _paint(img, _ellipse(g, cx, cy, 6.0, 2.5, tangent), 300.0)
            _add(blocked, rib)


def _paint_spleen(
    img: np.ndarray, g: _Grid, p: _Patient, z: float, cavity: np.ndarray, blocked: np.ndarray
) -> np.ndarray:
    """Crescent: an ellipsoid with its anteromedial hilum side hollowed out; return its mask."""
    mask = np.zeros(g.shape, bool)
    s = p.spleen
    region = s.section(g, z)
    if region is None:
        return mask
    box, m = region
    inward = 1.1 * s.ry  # along the minor axis, towards the hilum
    hollow = replace(
        s, cx=s.cx + inward * np.sin(s.angle), cy=s.cy - inward * np.cos(s.angle), rx=0.75 * s.rx, ry=0.8 * s.ry
    )
    cut = hollow.section(g, z)
    if cut is not None:
        sub = np.zeros(g.shape, bool)
        _add(sub, cut)
        m = m & ~sub[box]
    m = m & cavity[box] & ~blocked[box]
    mask[box] = m
    img[box][m] = p.spleen_hu
    return mask


def _liver_mask(g: _Grid, lv: _Liver, t: float, allowed: np.ndarray) -> np.ndarray:
    """Lobulated outline in polar form: right lobe plus left lobe crossing the midline higher up.

    The radius is modulated by angular harmonics whose amplitude and phase drift along ``t``,
    so the outline changes from slice to slice like a real liver's.
    """
    mask = np.zeros(g.shape, bool)
    right, left = lv.scales(t)
    if right <= 0.0:
        return mask
    cx, cy = lv.centre(t)
    box = g.box(cx + 0.6 * lv.rx, cy, 1.9 * lv.rx, 1.35 * lv.ry)
    if box is None:
        return mask
    dx = (g.x[box[1]][None, :] - cx) / lv.rx
    dy = (g.y[box[0]][:, None] - cy) / lv.ry
    q = np.sqrt(dx**2 + dy**2)
    c, s = dx / np.maximum(q, 1e-6), dy / np.maximum(q, 1e-6)
    wave = np.ones_like(q)
    ck, sk = c, s
    for k in range(1, max(lv.orders) + 1):
        if k in lv.orders:
            i = lv.orders.index(k)
            drift = 2 * np.pi * lv.freqs[i] * t
            wave += lv.amps[i] * (np.cos(drift + lv.phases[2 * i]) * ck + np.sin(drift + lv.phases[2 * i + 1]) * sk)
        ck, sk = ck * c - sk * s, sk * c + ck * s
    m = q < right * wave
    if left > 0.0:
        lx = (dx - 0.8) / (0.75 * (0.6 + 0.4 * left))
        ly = (dy + 0.5) / (0.32 * left)
        m |= lx**2 + ly**2 < 1.0 + 0.08 * np.sin(3 * np.arctan2(ly, lx) + 4 * t)
    mask[box] = m & allowed[box]
    return mask


def _paint_liver(
    img: np.ndarray, g: _Grid, lv: _Liver, t: float, z: float, allowed: np.ndarray, texture: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Textured parenchyma, hepatic/portal vessels and hypodense tumours; return (liver, tumour)."""
    liver = _liver_mask(g, lv, t, allowed)
    tumour = np.zeros(g.shape, bool)
    if not liver.any():
        return liver, tumour
    img[liver] = lv.hu + texture[liver]
    for v in lv.vessels:
        region = v.section(g, z)
        if region is not None:
            box, m = region
            img[box][m & liver[box]] = lv.vessel_hu
    for tu, hu in zip(lv.tumours, lv.tumour_hu, strict=False):
        region = tu.section(g, z)
        if region is not None:
            box, m = region
            m = m & liver[box]
            tumour[box] |= m
            img[box][m] = hu + texture[box][m]
    return liver, tumour


def _render_slice(
    p: _Patient, g: _Grid, t: float, texture: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """HU slice (float32, before blur and noise) and the liver, tumour and spleen masks."""
    z = t * _Z_ANAT_MM
    img = np.full(g.shape, -1000.0, np.float32)
    within_fat, cavity = _paint_body(img, g, p.body, t)
    _paint_table(img, g, p.body)
    blocked = np.zeros(g.shape, bool)  # what the liver and spleen may not cover
    _paint_lungs(img, g, p, t, cavity)
    _paint_gut(img, g, p, z, cavity)
    _paint_muscles(img, g, p, t, within_fat, blocked)
    _paint_kidneys(img, g, p, z, blocked)
    _paint_great_vessels(img, g, p, blocked)
    _paint_spine(img, g, p, z, within_fat, blocked)
    _paint_ribs(img, g, p, t, z, blocked)
    gb = p.gallbladder.section(g, z)
    _paint(img, gb, p.gallbladder_hu)
    _add(blocked, gb)
    spleen = _paint_spleen(img, g, p, z, cavity, blocked)
    allowed = cavity & ~blocked & ~_retroperitoneum(g, p, z)
    liver, tumour = _paint_liver(img, g, p.liver, t, z, allowed, texture)
    spleen &= ~liver
    return img, liver, tumour, spleen


# ----------------------------------------------------------------------------- volume


def _interp_matrix(coords: np.ndarray, cell: float, origin: float, n: int) -> np.ndarray:
    """Linear-interpolation weights from a coarse grid to ``coords``; upsampling by matmul is cheap."""
    pos = np.clip((coords - origin) / cell, 0.0, n - 1.000001)
    i0 = np.floor(pos).astype(int)
    w = (pos - i0).astype(np.float32)
    m = np.zeros((coords.size, n), np.float32)
    rows = np.arange(coords.size)
    m[rows, i0] = 1.0 - w
    m[rows, i0 + 1] = w
    return m


class _Texture:
    """Smooth low-frequency noise (+-8 HU) in patient mm, identical for every pixel size."""

    def __init__(self, seed: int, g: _Grid) -> None:
        n = int(2 * _TEXTURE_EXTENT_MM / _TEXTURE_CELL_MM) + 1
        nz = int(_Z_ANAT_MM / _TEXTURE_CELL_MM) + 2
        self._coarse = np.random.default_rng([seed, 1]).standard_normal((nz, n, n)).astype(np.float32) * 5.0
        self._wx = _interp_matrix(g.x, _TEXTURE_CELL_MM, -_TEXTURE_EXTENT_MM, n)
        self._wy = _interp_matrix(g.y, _TEXTURE_CELL_MM, -_TEXTURE_EXTENT_MM, n)

    def at(self, z: float) -> np.ndarray:
        pos = min(z / _TEXTURE_CELL_MM, self._coarse.shape[0] - 1.000001)
        k = int(pos)
        layer = self._coarse[k] * (1 - (pos - k)) + self._coarse[k + 1] * (pos - k)
        return self._wy @ layer @ self._wx.T


def _geometry(p: _Patient, slices: int, size: int) -> tuple[_Grid, tuple[float, float, float]]:
    d = round(p.d512 * 512 / size, 4)
    x0 = round(-d * size / 2, 3)
    z0 = round(-(slices - 1) * p.dz / 2, 3)
    coords = (x0 + d * np.arange(size)).astype(np.float32)
    return _Grid(coords, coords, d), (x0, x0, z0)


def _build(
    seed: int, slices: int, size: int, progress: ProgressCallback | None, should_cancel: CancelCheck | None
) -> PhantomVolume:
    if slices < 1 or size < 16:
        raise ValueError(f"phantom needs slices >= 1 and size >= 16, got slices={slices}, size={size}")
    p = _draw_patient(seed)
    g, origin = _geometry(p, slices, size)
    texture = _Texture(seed, g)
    noise_rng = np.random.default_rng([seed, 2])
    psf = _PSF_MM / g.d
    hu = np.empty((slices, size, size), np.int16)
    masks = {name: np.empty((slices, size, size), bool) for name in MASK_NAMES}
    for k in range(slices):
        raise_if_cancelled(should_cancel)
        t = (k + 0.5) / slices
        img, liver, tumour, spleen = _render_slice(p, g, t, texture.at(t * _Z_ANAT_MM))
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


# ----------------------------------------------------------------------------- DICOM


def _uid(vol: PhantomVolume, *parts: object) -> str:
    """Deterministic UID: same seed and shape give the same UIDs on every run."""
    shape = "x".join(str(n) for n in vol.hu.shape)
    return generate_uid(entropy_srcs=["ctseg-phantom", str(vol.seed), shape, *map(str, parts)])


def _template(vol: PhantomVolume, series: str, number: int, description: str, mask: bool) -> FileDataset:
    """Dataset with every tag that is the same on all slices of one series."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"] if mask else ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20000101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    ds.Manufacturer = "ctseg synthetic phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "SYNTHETIC abdominal CT phantom"
    ds.SeriesDescription = description
    ds.PatientName = f"Phantom^{vol.seed}"
    ds.PatientID = f"PHANTOM-{vol.seed}"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.BodyPartExamined = "ABDOMEN"
    ds.SliceThickness = vol.spacing_mm[0]
    ds.KVP = 120
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = _uid(vol, "study")
    ds.SeriesInstanceUID = _uid(vol, "series", series)
    ds.StudyID = "1"
    ds.SeriesNumber = number
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = _uid(vol, "frame")
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = vol.hu.shape[1:]
    ds.PixelSpacing = [vol.spacing_mm[1], vol.spacing_mm[2]]
    ds.BitsAllocated = ds.BitsStored = 8 if mask else 16
    ds.HighBit = 7 if mask else 15
    ds.PixelRepresentation = 0 if mask else 1
    ds.WindowCenter, ds.WindowWidth = (128, 256) if mask else (40, 400)
    ds.RescaleIntercept = 0 if mask else -_STORE_OFFSET
    ds.RescaleSlope = 1
    ds.RescaleType = "US" if mask else "HU"
    return ds


def _write_series(ds: FileDataset, folder: Path, vol: PhantomVolume, series: str, pixels: np.ndarray, k: int) -> None:
    """Write slice ``k`` of one series: only the per-slice tags and PixelData change."""
    x0, y0, z0 = vol.origin_mm
    z = round(z0 + k * vol.spacing_mm[0], 3)
    uid = _uid(vol, "instance", series, k)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(uid)
    ds.SOPInstanceUID = uid
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [x0, y0, z]
    ds.SliceLocation = z
    ds.PixelData = pixels.tobytes()
    dcmwrite(folder / f"image_{k}", ds, enforce_file_format=True)


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
    patient_dir = out / "PATIENT_DICOM"
    if patient_dir.exists():
        raise FileExistsError(f"{out}: already holds a PATIENT_DICOM folder; choose an empty folder")
    vol = _build(seed, slices, size, progress, should_cancel)
    folders = {"ct": patient_dir} | {name: out / "MASKS_DICOM" / name for name in MASK_NAMES}
    templates = {"ct": _template(vol, "ct", 1, f"SYNTHETIC phantom CT seed {seed}", mask=False)}
    for i, name in enumerate(MASK_NAMES):
        templates[name] = _template(vol, name, 2 + i, f"SYNTHETIC phantom {name} mask seed {seed}", mask=True)
    created = [d for d in (out, out / "MASKS_DICOM", *folders.values()) if not d.exists()]
    try:
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=folder != patient_dir)
        for k in range(slices):
            raise_if_cancelled(should_cancel)
            _write_series(templates["ct"], patient_dir, vol, "ct", (vol.hu[k] + _STORE_OFFSET).astype(np.int16), k)
            for name in MASK_NAMES:
                _write_series(templates[name], folders[name], vol, name, vol.masks[name][k].astype(np.uint8) * 255, k)
            if progress is not None:
                progress(k + 1, slices, "writing DICOM")
    except BaseException:
        for d in created:
            shutil.rmtree(d, ignore_errors=True)
        raise
    return out
