"""A one-page HTML report of a segmentation against its reference, for a person to read.

One self-contained file (pictures embedded as base64 PNG, the style inline, no script and no
network resource), so it can be mailed, attached to a ticket or opened years later offline:
the metrics and volumes as tables, the per-slice Dice along the stack, and pictures through
where the segmentation is worst — the axial slice with the lowest Dice (among slices where
Dice is defined, i.e. where either mask has voxels), and the coronal and sagittal planes
through the centroid of the error (the voxels where the first two masks disagree).

Pictures follow the viewer's (radiological) display: axial with anterior at the top and the
patient's right on the screen's left; coronal with superior at the top, right on the left;
sagittal with superior at the top, anterior on the left. Letters at the edges say so, and
every plane is drawn at its physical aspect (2.5 mm slices are 2.5 mm tall, not 0.7).
matplotlib is used through its Agg canvas only (never pyplot), so no GUI backend loads.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import PRESETS, Window, apply_window
from ctseg_core.errors import CtsegError
from ctseg_core.export.overlays import RGB, check_volume_inputs, composite, overlay_colours
from ctseg_core.io.atomic import atomic_path
from ctseg_core.metrics import format_metric
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

if TYPE_CHECKING:  # matplotlib loads only when a picture is drawn
    from matplotlib.figure import Figure

#: Pictures are scaled up (whole pixels) until their longer side reaches this many pixels.
SNAPSHOT_MIN_PIXELS = 420
#: How many axial slices the "worst slices" row shows.
WORST_SLICES = 3


def _is_defined(value: float | None) -> bool:
    """True for a number that is not NaN (Dice is undefined where both masks are empty)."""
    return value is not None and not math.isnan(value)


def worst_slices(per_slice_dice: Sequence[float | None], count: int = WORST_SLICES) -> list[int]:
    """Indices of up to ``count`` axial slices with the lowest defined Dice, worst first.

    Slices closer than a tenth of the stack (at least 3 slices) to one already chosen are
    passed over, so the pictures show different errors, not three neighbours of one.
    """
    defined = sorted((float(d), k) for k, d in enumerate(per_slice_dice) if d is not None and not math.isnan(d))
    gap = max(3, len(per_slice_dice) // 10)
    chosen: list[int] = []
    for _dice, k in defined:
        if len(chosen) == count:
            break
        if all(abs(k - c) >= gap for c in chosen):
            chosen.append(k)
    return chosen


def error_centroid(masks: Mapping[str, np.ndarray], shape: Sequence[int]) -> tuple[int, int, int]:
    """[z, y, x] voxel at the centroid of where the first two masks disagree.

    Falls back to the centroid of the masks' union when they agree everywhere (or only one
    is given), and to the centre of the volume when every mask is empty.
    """
    arrays = [np.asarray(m) > 0 for m in masks.values()]
    candidates = []
    if len(arrays) >= 2:
        candidates.append(arrays[0] ^ arrays[1])
    if arrays:
        candidates.append(np.logical_or.reduce(arrays))
    for region in candidates:
        if region.any():
            return tuple(round(float(np.mean(c))) for c in np.nonzero(region))  # type: ignore[return-value]  # three indices for a 3D region
    return tuple(int(n) // 2 for n in shape)  # type: ignore[return-value]  # three indices for a 3D shape


# --------------------------------------------------------------------------- pictures


def _png_data_uri(figure: Figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def snapshot_png(
    hu: np.ndarray,
    masks: Mapping[str, np.ndarray],
    colours: Mapping[str, RGB],
    plane: str,
    index: int,
    spacing_mm: Sequence[float],
    window: Window,
    *,
    axial_marker: int | None = None,
) -> str:
    """One plane as a PNG data URI, at physical aspect, with masks and orientation letters.

    ``axial_marker`` (a z index) draws a dashed line where that axial slice cuts a coronal
    or sagittal plane, so the pictures can be read together.
    """
    from matplotlib.figure import Figure

    view = Plane(plane)
    dz, dy, dx = (float(s) for s in spacing_mm)
    pixel_mm = view.pixel_mm((dz, dy, dx))
    grey = apply_window(np.ascontiguousarray(view.image(hu, index)), window)
    cut = {name: np.ascontiguousarray(view.image(np.asarray(m), index)) for name, m in masks.items()}
    picture = composite(grey, cut, colours, pixel_mm)
    rows, cols = picture.shape[:2]
    zoom = max(1, math.ceil(SNAPSHOT_MIN_PIXELS / max(rows, cols)))
    dpi = 100
    figure = Figure(figsize=(cols * zoom / dpi, rows * zoom / dpi), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(picture, interpolation="nearest", aspect="equal")
    axes.set_axis_off()
    if axial_marker is not None and plane != "axial":
        depth = hu.shape[0]
        row = (depth - 1 - axial_marker + 0.5) * rows / depth - 0.5  # flipped: superior on top
        axes.axhline(row, color="white", linestyle=(0, (4, 4)), linewidth=0.8, alpha=0.8)
    _orientation_letters(axes, view.letters)
    return _png_data_uri(figure)


def _orientation_letters(axes: Any, letters: tuple[str, str, str, str]) -> None:
    """The patient directions at the picture's top, bottom, left and right edges, outlined for contrast."""
    from matplotlib import patheffects

    top, bottom, left, right = letters
    outline = [patheffects.withStroke(linewidth=3, foreground="black")]
    style: dict[str, Any] = {
        "color": "white",
        "fontsize": 14,
        "fontweight": "bold",
        "transform": axes.transAxes,
        "path_effects": outline,
    }
    axes.text(0.5, 0.985, top, ha="center", va="top", **style)
    axes.text(0.5, 0.015, bottom, ha="center", va="bottom", **style)
    axes.text(0.012, 0.5, left, ha="left", va="center", **style)
    axes.text(0.988, 0.5, right, ha="right", va="center", **style)


def dice_plot_png(per_slice_dice: Sequence[float | None], worst: Sequence[int]) -> str:
    """Per-slice Dice along the stack as a PNG data URI; gaps where Dice is undefined."""
    from matplotlib.figure import Figure

    values = np.array([np.nan if d is None else float(d) for d in per_slice_dice])
    figure = Figure(figsize=(8.0, 2.6), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    slices = np.arange(len(values))
    axes.plot(slices, values, color="#3060c0", linewidth=1.4, marker=".", markersize=3)
    if len(worst):
        axes.plot(list(worst), values[list(worst)], "o", color="#d02020", markersize=6, label="worst slices")
        axes.legend(loc="lower right", fontsize=8, frameon=False)
    axes.set_xlim(-0.5, max(len(values) - 0.5, 0.5))
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("axial slice (inferior \u2192 superior)")
    axes.set_ylabel("Dice")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    return _png_data_uri(figure)


# --------------------------------------------------------------------------- page


def _format_value(value: object, digits: int = 3) -> str:
    if value is None:
        return "\u2014"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return format_metric(float(value), digits)
    return html.escape(str(value))


def _table(rows: Sequence[tuple[str, str]], header: tuple[str, str]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    head = f"<tr><th>{html.escape(header[0])}</th><th>{html.escape(header[1])}</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


def _figure(uri: str, caption: str) -> str:
    text = html.escape(caption)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.meta { color: #666; font-size: 13px; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
td { font-variant-numeric: tabular-nums; text-align: right; }
thead th { background: #f3f3f3; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; background: #000; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
"""


@dataclass(frozen=True)
class _Scene:
    """What every picture of one report draws: the CT, the masks in their colours, the spacing and window."""

    hu: np.ndarray
    masks: Mapping[str, np.ndarray]
    colours: Mapping[str, RGB]
    spacing_mm: Sequence[float]
    window: Window

    def snapshot(self, plane: str, index: int, axial_marker: int | None = None) -> str:
        return snapshot_png(
            self.hu, self.masks, self.colours, plane, index, self.spacing_mm, self.window, axial_marker=axial_marker
        )


@dataclass(frozen=True)
class _Pictures:
    """The report's pictures as data URIs or HTML figures, and the error centroid they pass through."""

    dice: str
    axial: list[str]  # <figure> elements, the worst slice first
    coronal: str
    sagittal: str
    centre: tuple[int, int, int]


def write_report(
    path: str | Path,
    *,
    title: str,
    metrics: Mapping[str, object],
    volumes: Mapping[str, float | None],
    per_slice_dice: Sequence[float | None],
    hu: np.ndarray,
    masks: Mapping[str, np.ndarray],
    spacing_mm: Sequence[float],
    window: Window = PRESETS["Abdomen"],
    colours: Mapping[str, RGB] | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Path:
    """Write the self-contained HTML report, atomically; returns the path written.

    ``metrics`` name → value (floats shown with 3 decimals, None/NaN as "—"), ``volumes``
    name → mL, ``per_slice_dice`` one value per axial slice (None or NaN where undefined),
    ``hu`` the [z, y, x] CT in HU, ``masks`` name → bool mask — the first is taken as the
    reference and the second as the one compared when locating the error — ``spacing_mm``
    (dz, dy, dx), ``window`` the display window for the pictures.
    """
    path = Path(path)
    hu = np.asarray(hu)
    check_volume_inputs(hu, masks, spacing_mm)
    if len(per_slice_dice) != hu.shape[0]:
        raise ValueError(f"per_slice_dice has {len(per_slice_dice)} values for {hu.shape[0]} slices")
    report = progress or (lambda done, total, stage: None)
    scene = _Scene(hu, masks, overlay_colours(masks, colours), spacing_mm, window)
    pictures = _draw_pictures(scene, per_slice_dice, report, should_cancel)
    report(4, _STAGES, "writing")
    _write_page(path, _page(title, metrics, volumes, scene, pictures))
    report(_STAGES, _STAGES, "done")
    return path


_STAGES = 5  # Dice plot, axial, coronal, sagittal, writing


def _draw_pictures(
    scene: _Scene,
    per_slice_dice: Sequence[float | None],
    report: ProgressCallback,
    should_cancel: CancelCheck | None,
) -> _Pictures:
    """The Dice plot, the worst axial slices, and coronal and sagittal planes through the error."""
    worst = worst_slices(per_slice_dice)
    centre = error_centroid(scene.masks, scene.hu.shape)
    axial = worst[0] if worst else centre[0]
    report(0, _STAGES, "Dice plot")
    dice_uri = dice_plot_png(per_slice_dice, worst)
    raise_if_cancelled(should_cancel)
    report(1, _STAGES, "axial")
    axial_figures = _axial_figures(scene, worst or [axial], per_slice_dice if worst else None, should_cancel)
    report(2, _STAGES, "coronal")
    coronal = scene.snapshot("coronal", centre[1], axial_marker=axial)
    raise_if_cancelled(should_cancel)
    report(3, _STAGES, "sagittal")
    sagittal = scene.snapshot("sagittal", centre[2], axial_marker=axial)
    raise_if_cancelled(should_cancel)
    return _Pictures(dice_uri, axial_figures, coronal, sagittal, centre)


def _axial_figures(
    scene: _Scene,
    slices: Sequence[int],
    per_slice_dice: Sequence[float | None] | None,
    should_cancel: CancelCheck | None,
) -> list[str]:
    """Axial figures of ``slices``, captioned with their rank and Dice (``per_slice_dice`` None: no worst slices)."""
    depth = scene.hu.shape[0]
    figures = []
    for rank, k in enumerate(slices):
        if per_slice_dice is None:
            caption = f"Axial, slice {k} of {depth}"
        else:
            label = "worst slice" if rank == 0 else f"worst slice #{rank + 1}"
            caption = f"Axial, slice {k} of {depth} ({label}, Dice {format_metric(per_slice_dice[k])})"
        figures.append(_figure(scene.snapshot("axial", k), caption))
        raise_if_cancelled(should_cancel)
    return figures


def _page(
    title: str,
    metrics: Mapping[str, object],
    volumes: Mapping[str, float | None],
    scene: _Scene,
    pictures: _Pictures,
) -> str:
    """The whole HTML page: title, scan line, metric and volume tables, Dice plot and pictures."""
    shape = scene.hu.shape
    legend = "".join(
        f'<span class="swatch" style="background: rgb{tuple(scene.colours[name])}"></span>{html.escape(name)}'
        for name in scene.masks
    )
    metric_rows = [(str(k), _format_value(v)) for k, v in metrics.items()]
    volume_rows = [(str(k), "\u2014" if not _is_defined(v) else f"{float(v):.1f} mL") for k, v in volumes.items()]  # type: ignore[arg-type]  # _is_defined(v) has checked v is a number
    centre_z, centre_y, centre_x = pictures.centre
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{_scan_line(shape, scene.spacing_mm, scene.window)}</p>
<div class="row">
<div><h2>Metrics</h2>{_table(metric_rows, ("metric", "value"))}</div>
<div><h2>Volumes</h2>{_table(volume_rows, ("mask", "volume"))}</div>
</div>
<h2>Dice per axial slice</h2>
{_figure(pictures.dice, "Dice of each axial slice; gaps where both masks are empty; red: the worst slices")}
<h2>Where it is worst</h2>
<p class="meta">Masks:{legend}. Coronal and sagittal planes pass through the centroid of the disagreement
(slice {centre_z}, row {centre_y}, column {centre_x}); the dashed line marks the worst axial slice.</p>
<div class="row">
{pictures.axial[0]}
{_figure(pictures.coronal, f"Coronal, row {centre_y} of {shape[1]} (through the error)")}
{_figure(pictures.sagittal, f"Sagittal, column {centre_x} of {shape[2]} (through the error)")}
</div>
<div class="row" style="margin-top: 16px">
{"".join(pictures.axial[1:])}
</div>
</body>
</html>
"""


def _scan_line(shape: Sequence[int], spacing_mm: Sequence[float], window: Window) -> str:
    """Grid size, spacing and display window, for the line under the title."""
    dz, dy, dx = (float(s) for s in spacing_mm)
    return (
        f"{shape[2]}\u00d7{shape[1]}\u00d7{shape[0]} voxels, spacing {dx:g} \u00d7 {dy:g} \u00d7 {dz:g} mm "
        f"(x \u00d7 y \u00d7 z) \u00b7 window W {window.width:g} / L {window.level:g} HU"
    )


def _write_page(path: Path, page: str) -> None:
    try:
        with atomic_path(path, suffix=".html") as temporary:
            temporary.write_text(page, encoding="utf-8")
    except OSError as error:
        raise CtsegError(path, f"cannot write the report: {error.strerror or error}") from error
