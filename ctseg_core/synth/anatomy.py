"""The phantom patient: every random choice one seed makes (body habitus, organ sizes and places, HU).

Why: drawn once per seed before any slice is rendered, so all slices agree. Positions are in
patient millimetres in-plane and, along the scan, in anatomical mm ``t × Z_ANAT_MM`` (``t`` = 0 at
the lower pole of the kidneys, 1 above the liver dome), whatever the slice count. The order of
the random draws is part of each seed's patient: changing it changes every phantom (bump
``PHANTOM_VERSION`` in :mod:`ctseg_core.synth.phantom` when it must).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ctseg_core.synth.shapes import Ellipsoid, Tube

Z_ANAT_MM = 200.0  # anatomical length the scan spans, whatever the slice count


@dataclass(frozen=True)
class Body:
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
class Spine:
    """Vertebral column: the posterior landmark for kidneys, aorta, IVC and muscles."""

    y: float  # centre of the vertebral body
    rx: float
    ry: float
    cancellous_hu: float
    cortex_hu: float
    disc_phase: float


@dataclass(frozen=True)
class Liver:
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
    tumours: tuple[Ellipsoid, ...]
    vessels: tuple[Tube, ...]

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
        return cx + np.cos(angle) * self.rx * reach, cy + np.sin(angle) * self.ry * reach, t * Z_ANAT_MM


@dataclass(frozen=True)
class Patient:
    """Every random choice of one seed, drawn once so that all slices agree."""

    d512: float  # pixel spacing at 512 px
    dz: float
    noise_sd: float
    body: Body
    spine: Spine
    aorta: tuple[float, float, float, float]  # cx, cy, r, hu
    ivc: tuple[float, float, float, float, float]  # cx, cy, rx, ry, hu
    kidneys: tuple[Ellipsoid, ...]
    kidney_hu: tuple[float, float]  # cortex, medulla
    spleen: Ellipsoid
    spleen_hu: float
    stomach: Ellipsoid
    stomach_gas: float  # fraction of the stomach's height filled with gas
    gut: tuple[tuple[Ellipsoid | Tube, bool], ...]  # loop, has gas
    gallbladder: Ellipsoid
    gallbladder_hu: float
    rib_phases: tuple[float, ...]
    liver: Liver


def _draw_liver(rng: np.random.Generator) -> Liver:
    """The liver's outline, its contrast phase, tumours and vessels (in that order of draws)."""
    base = _draw_liver_outline(rng)
    portal_phase = rng.random() < 0.7
    vessel_hu = rng.uniform(150, 200) if portal_phase else base.hu - rng.uniform(10, 20)
    tumours = _draw_tumours(rng, base)
    vessels = _draw_liver_vessels(rng, base)
    return replace(
        base,
        vessel_hu=vessel_hu,
        tumour_hu=tuple(base.hu - rng.uniform(15, 40, len(tumours))),
        tumours=tuple(tumours),
        vessels=tuple(vessels),
    )


def _draw_liver_outline(rng: np.random.Generator) -> Liver:
    """Size, place, extent along the scan, outline harmonics and parenchyma HU; nothing inside yet."""
    scale = rng.uniform(0.85, 1.15)
    n = int(rng.integers(2, 5))
    orders = tuple(int(k) for k in rng.choice(np.arange(2, 7), size=n, replace=False))
    return Liver(
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


def _draw_tumours(rng: np.random.Generator, liver: Liver) -> list[Ellipsoid]:
    """One to three ellipsoidal tumours in the middle of the right lobe."""
    span = liver.t_dome - liver.t_tip
    tumours = []
    for _ in range(int(rng.integers(1, 4))):
        t = liver.t_tip + span * rng.uniform(0.35, 0.8)
        r = rng.uniform(8, 20)
        tumours.append(
            Ellipsoid(  # type: ignore[call-arg]  # a centre and three radii: mypy cannot count the stars
                *liver.point(t, rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.6)),
                *(r * rng.uniform(0.8, 1.25, 3)),
                rng.uniform(0, np.pi),
            )
        )
    return tumours


def _draw_liver_vessels(rng: np.random.Generator, liver: Liver) -> list[Tube]:
    """Portal branches fanning out from the hilum, and three hepatic veins converging on the IVC."""
    span = liver.t_dome - liver.t_tip
    hilum_t = liver.t_tip + 0.5 * span
    hilum = (liver.cx + 0.5 * liver.rx, liver.cy + 0.15 * liver.ry, hilum_t * Z_ANAT_MM)
    portal = [
        liver.point(liver.t_tip + span * rng.uniform(0.25, 0.8), rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 0.85))
        for _ in range(int(rng.integers(4, 7)))
    ]
    vessels = [Tube(hilum, end, rng.uniform(2.5, 5.0)) for end in portal]
    top = (liver.cx + 0.75 * liver.rx, liver.cy + 0.55 * liver.ry, (liver.t_dome - 0.06) * Z_ANAT_MM)  # meets the IVC
    hepatic = [
        liver.point(liver.t_tip + span * rng.uniform(0.5, 0.8), angle, rng.uniform(0.6, 0.9))
        for angle in (np.pi * 1.1, np.pi * 1.4, np.pi * 1.75)
    ]
    return vessels + [Tube(top, end, rng.uniform(3.0, 5.0)) for end in hepatic]


def _draw_gut(rng: np.random.Generator, body: Body) -> tuple[tuple[Ellipsoid | Tube, bool], ...]:
    """Colon (ascending, transverse, descending) and small-bowel loops in the lower abdomen."""
    a, b = body.a - body.fat - body.wall, body.b_ant - body.fat - body.wall
    z = Z_ANAT_MM
    colon: list[tuple[Ellipsoid | Tube, bool]] = [
        (Tube((-0.62 * a, 0.05 * b, -20.0), (-0.6 * a, -0.15 * b, 0.5 * z), rng.uniform(18, 24)), True),
        (Tube((-0.6 * a, -0.3 * b, 0.48 * z), (0.55 * a, -0.45 * b, 0.52 * z), rng.uniform(15, 20)), True),
        (Tube((0.68 * a, 0.15 * b, -20.0), (0.62 * a, 0.0, 0.72 * z), rng.uniform(14, 18)), True),
    ]
    loops: list[tuple[Ellipsoid | Tube, bool]] = [
        (
            Ellipsoid(
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


def draw_patient(seed: int) -> Patient:
    """Every random choice of one seed; the order of the draws is part of the seed's patient."""
    rng = np.random.default_rng(seed)
    d512 = round(float(rng.uniform(0.65, 0.85)), 4)
    dz = float(rng.choice([1.5, 2.0, 2.5]))
    body = _draw_body(rng, d512)
    spine = _draw_spine(rng, body)
    aorta, ivc = _draw_great_vessels(rng, spine)
    kidneys = _draw_kidneys(rng, spine)
    spleen = _draw_spleen(rng, body)
    stomach = _draw_stomach(rng, body)
    liver = _draw_liver(rng)
    # The IVC enhances with the hepatic veins that drain into it, so it stands out from the
    # parenchyma in every phase (bright in the portal phase, darker before it); an IVC at liver
    # HU would be an unlabelled hole that no image evidence shows. The 90–115 HU drawn above
    # becomes the offset from the veins, so the random stream, and every other structure a
    # seed draws, stays as it was.
    ivc = (*ivc[:4], liver.vessel_hu - 0.8 * (ivc[4] - 90.0))
    gallbladder = _draw_gallbladder(rng, liver)
    return Patient(
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


def _draw_body(rng: np.random.Generator, d512: float) -> Body:
    """Outline and layers; the flanks stay inside the narrowest field of view."""
    u = rng.uniform
    a = min(u(150, 175), 0.46 * d512 * 512)
    b = u(105, 125)
    return Body(
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


def _draw_spine(rng: np.random.Generator, body: Body) -> Spine:
    u = rng.uniform
    return Spine(
        y=body.b_post - u(62, 70),
        rx=u(18, 22),
        ry=u(14, 17),
        cancellous_hu=u(300, 450),
        cortex_hu=u(800, 1000),
        disc_phase=u(0, 1),
    )


def _draw_great_vessels(
    rng: np.random.Generator, spine: Spine
) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float, float]]:
    """Aorta (cx, cy, r, hu) in front of the spine, IVC (cx, cy, rx, ry, hu) to its right."""
    u = rng.uniform
    aorta_r = u(9, 12)
    aorta = (u(10, 18), spine.y - spine.ry - aorta_r - u(2, 6), aorta_r, u(200, 300))
    ivc = (-u(22, 28), aorta[1] - u(0, 6), u(12, 16), u(8, 11), u(90, 115))
    return aorta, ivc


def _draw_kidneys(rng: np.random.Generator, spine: Spine) -> tuple[Ellipsoid, ...]:
    """Left and right kidney beside the spine, the right one lower."""
    u = rng.uniform
    left_z = u(0.26, 0.32) * Z_ANAT_MM
    return tuple(
        Ellipsoid(
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


def _draw_spleen(rng: np.random.Generator, body: Body) -> Ellipsoid:
    u = rng.uniform
    return Ellipsoid(
        cx=0.62 * body.a + u(-8, 8),
        cy=0.3 * body.b_ant + u(-8, 8),
        cz=u(0.66, 0.74) * Z_ANAT_MM,
        rx=u(45, 55),
        ry=u(22, 28),
        rz=u(38, 48),
        angle=np.deg2rad(u(-70, -50)),
    )


def _draw_stomach(rng: np.random.Generator, body: Body) -> Ellipsoid:
    u = rng.uniform
    return Ellipsoid(
        cx=0.35 * body.a + u(-10, 10),
        cy=-0.2 * body.b_ant + u(-8, 8),
        cz=u(0.7, 0.78) * Z_ANAT_MM,
        rx=u(45, 60),
        ry=u(32, 42),
        rz=u(45, 55),
        angle=np.deg2rad(u(-30, 10)),
    )


def _draw_gallbladder(rng: np.random.Generator, liver: Liver) -> Ellipsoid:
    """In the fossa under the lower liver."""
    u = rng.uniform
    gb_t = liver.t_tip + 0.3 * (liver.t_dome - liver.t_tip)
    return Ellipsoid(
        cx=liver.cx + 0.55 * liver.rx,
        cy=liver.cy - 0.3 * liver.ry,
        cz=gb_t * Z_ANAT_MM,
        rx=u(12, 16),
        ry=u(15, 20),
        rz=u(25, 35),
        angle=np.deg2rad(u(-60, -30)),
    )
