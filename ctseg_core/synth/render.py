"""Rendering one phantom slice: organs painted in HU back to front, and the liver, tumour and spleen masks.

Why: each painter adds one structure and marks what the liver and spleen may not cover, so the
labels follow the image (an organ is only labelled where the image shows it). The HU image is
returned before blur and noise, which :mod:`ctseg_core.synth.phantom` adds for the whole volume.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ctseg_core.synth.anatomy import Z_ANAT_MM, Body, Liver, Patient
from ctseg_core.synth.shapes import Ellipsoid, Grid, add_region, bump, ellipse, paint

_TEXTURE_CELL_MM = 10.0
_TEXTURE_EXTENT_MM = 260.0  # texture grid covers +-this in x and y, whatever the FOV


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


class Texture:
    """Smooth low-frequency noise (+-8 HU) in patient mm, identical for every pixel size."""

    def __init__(self, seed: int, g: Grid) -> None:
        n = int(2 * _TEXTURE_EXTENT_MM / _TEXTURE_CELL_MM) + 1
        nz = int(Z_ANAT_MM / _TEXTURE_CELL_MM) + 2
        self._coarse = np.random.default_rng([seed, 1]).standard_normal((nz, n, n)).astype(np.float32) * 5.0
        self._wx = _interp_matrix(g.x, _TEXTURE_CELL_MM, -_TEXTURE_EXTENT_MM, n)
        self._wy = _interp_matrix(g.y, _TEXTURE_CELL_MM, -_TEXTURE_EXTENT_MM, n)

    def at(self, z: float) -> np.ndarray:
        pos = min(z / _TEXTURE_CELL_MM, self._coarse.shape[0] - 1.000001)
        k = int(pos)
        layer = self._coarse[k] * (1 - (pos - k)) + self._coarse[k + 1] * (pos - k)
        return self._wy @ layer @ self._wx.T


def _paint_body(img: np.ndarray, g: Grid, body: Body, t: float) -> tuple[np.ndarray, np.ndarray]:
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


def _paint_table(img: np.ndarray, g: Grid, body: Body) -> None:
    """Two carbon-fibre shells of the patient table below the back, as on every real scan."""
    top = body.b_post * 1.035 + 3.0
    for y in (top, top + 28.0):
        box = g.box(0.0, y + 1.5, 0.4 * g.d * g.x.size, 1.5)
        if box is not None:
            img[box] = 150.0


def _paint_lungs(img: np.ndarray, g: Grid, p: Patient, t: float, cavity: np.ndarray) -> None:
    """Posterior lung bases above the liver dome level, which the liver and spleen then overwrite."""
    grow = np.clip((t - (p.liver.t_dome - 0.14)) / 0.16, 0.0, 1.0)
    if grow <= 0.0:
        return
    a, _, b_post = p.body.axes(t)
    a_c, b_c = a - p.body.fat - p.body.wall, b_post - p.body.fat - p.body.wall
    for side in (-1.0, 1.0):
        paint(img, ellipse(g, side * 0.55 * a_c, 0.45 * b_c, 0.5 * a_c * grow, 0.6 * b_c * grow), -850.0, cavity)


def _paint_gut(img: np.ndarray, g: Grid, p: Patient, z: float, cavity: np.ndarray) -> None:
    """Bowel loops and stomach: a soft-tissue wall around gas or fluid."""
    for loop, gas in p.gut:
        region = loop.section(g, z)
        paint(img, region, 40.0, cavity)
        paint(img, loop.section(g, z, 3.0), -900.0 if gas else 15.0, cavity)
    st = p.stomach
    if paint(img, st.section(g, z), 40.0, cavity) is None:
        return
    inner = st.section(g, z, 4.0)
    lumen = paint(img, inner, 20.0, cavity)
    if lumen is not None and inner is not None:
        box, _ = inner
        level = st.cy - st.ry * (1.0 - 2.0 * p.stomach_gas)
        gas_pixels = lumen & (g.y[box[0]][:, None] < level)  # gas rises anteriorly in a supine patient
        img[box][gas_pixels] = -900.0


def _paint_muscles(img: np.ndarray, g: Grid, p: Patient, t: float, within_fat: np.ndarray, blocked: np.ndarray) -> None:
    """Paraspinal muscles and psoas/crura beside the spine."""
    s = p.spine
    psoas = 0.35 + 0.65 * float(np.clip((0.6 - t) / 0.6, 0.0, 1.0))
    for side in (-1.0, 1.0):
        para = ellipse(g, side * (s.rx + 14), s.y + s.ry + 24, 24, 22)
        paint(img, para, p.body.wall_hu + 5, within_fat)
        add_region(blocked, para, within_fat)
        ps = ellipse(g, side * (s.rx + 8 + 4 * psoas), s.y - 2, 14 * psoas, 15 * psoas)
        paint(img, ps, p.body.wall_hu, within_fat)
        add_region(blocked, ps)


def _paint_kidneys(img: np.ndarray, g: Grid, p: Patient, z: float, blocked: np.ndarray) -> None:
    """Cortex, darker medulla and a fatty sinus at the anteromedial hilum."""
    for k in p.kidneys:
        outer = k.section(g, z)
        paint(img, outer, p.kidney_hu[0])
        add_region(blocked, outer)
        paint(img, k.section(g, z, 7.0), p.kidney_hu[1])
        side = np.sign(k.cx)
        f = bump(z, k.cz, k.rz * 0.6)
        paint(img, ellipse(g, k.cx - side * 0.7 * k.rx, k.cy - 0.35 * k.ry, 9 * f, 6 * f), -80.0)


def _paint_great_vessels(img: np.ndarray, g: Grid, p: Patient, blocked: np.ndarray) -> None:
    """Contrast-filled aorta, and the IVC that lies in a groove on the liver's posterior surface."""
    cx, cy, r, hu = p.aorta
    aorta = ellipse(g, cx, cy, r, r)
    paint(img, aorta, hu)
    add_region(blocked, aorta)
    cx, cy, rx, ry, hu = p.ivc
    ivc = ellipse(g, cx, cy, rx, ry)
    paint(img, ivc, hu)
    add_region(blocked, ivc)


def _retroperitoneum(g: Grid, p: Patient, z: float) -> np.ndarray:
    """Space the liver never enters: behind and left of the IVC, and behind the kidneys."""
    off = np.zeros(g.shape, bool)
    cx, cy = 15.0, p.spine.y + 15.0
    front = p.aorta[1] - p.aorta[2] - 6.0
    add_region(off, ellipse(g, cx, cy, cx - p.ivc[0] - 0.3 * p.ivc[2], cy - front))
    # The IVC lies in a groove on the liver's posterior surface: the liver never closes behind it.
    ivc_x, ivc_y, ivc_rx = p.ivc[0], p.ivc[1], p.ivc[2]
    add_region(off, ellipse(g, ivc_x, ivc_y + 40.0, 1.1 * ivc_rx, 40.0))
    for k in p.kidneys:
        shadow = Ellipsoid(k.cx + np.sign(k.cx) * 10.0, k.cy + 22.0, k.cz, k.rx + 8.0, k.ry + 14.0, k.rz, k.angle)
        add_region(off, shadow.section(g, z))
    return off


def _paint_spine(img: np.ndarray, g: Grid, p: Patient, z: float, within_fat: np.ndarray, blocked: np.ndarray) -> None:
    """Vertebral body (cortical rim, cancellous core) or disc, arch, canal and spinous process."""
    s = p.spine
    body = ellipse(g, 0.0, s.y, s.rx, s.ry)
    add_region(blocked, body)
    is_disc = (z / 30.0 + s.disc_phase) % 1.0 < 0.2
    if is_disc:
        paint(img, body, 90.0)
    else:
        paint(img, body, s.cortex_hu)
        paint(img, ellipse(g, 0.0, s.y, s.rx - 2.5, s.ry - 2.5), s.cancellous_hu)
    canal_y = s.y + s.ry + 9.0
    arch = ellipse(g, 0.0, canal_y, 14.0, 13.0)
    paint(img, arch, s.cortex_hu - 150)
    add_region(blocked, arch)
    spinous = ellipse(g, 0.0, canal_y + 24.0, 5.0, 14.0)
    paint(img, spinous, s.cortex_hu - 150, within_fat)
    if 0.45 < (z / 30.0 + s.disc_phase) % 1.0 < 0.7:  # transverse processes: mid-vertebra only
        for side in (-1.0, 1.0):
            tp = ellipse(g, side * (s.rx + 14), s.y + s.ry + 4, 15.0, 5.0, side * 0.25)
            paint(img, tp, s.cortex_hu - 200)
            add_region(blocked, tp)
    paint(img, ellipse(g, 0.0, canal_y, 8.0, 7.5), 20.0)


def _paint_ribs(img: np.ndarray, g: Grid, p: Patient, t: float, z: float, blocked: np.ndarray) -> None:
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
            rib = ellipse(g, cx, cy, 8.0, 4.5, tangent)
            paint(img, rib, p.spine.cortex_hu)
            paint(img, ellipse(g, cx, cy, 6.0, 2.5, tangent), 300.0)
            add_region(blocked, rib)


def _paint_spleen(
    img: np.ndarray, g: Grid, p: Patient, z: float, cavity: np.ndarray, blocked: np.ndarray
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
        add_region(sub, cut)
        m = m & ~sub[box]
    m = m & cavity[box] & ~blocked[box]
    mask[box] = m
    img[box][m] = p.spleen_hu
    return mask


def _liver_mask(g: Grid, lv: Liver, t: float, allowed: np.ndarray) -> np.ndarray:
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
    img: np.ndarray, g: Grid, lv: Liver, t: float, z: float, allowed: np.ndarray, texture: np.ndarray
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


def render_slice(
    p: Patient, g: Grid, t: float, texture: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """HU slice (float32, before blur and noise) and the liver, tumour and spleen masks."""
    z = t * Z_ANAT_MM
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
    paint(img, gb, p.gallbladder_hu)
    add_region(blocked, gb)
    spleen = _paint_spleen(img, g, p, z, cavity, blocked)
    allowed = cavity & ~blocked & ~_retroperitoneum(g, p, z)
    liver, tumour = _paint_liver(img, g, p.liver, t, z, allowed, texture)
    spleen &= ~liver
    return img, liver, tumour, spleen
