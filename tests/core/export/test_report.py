"""HTML report: one self-contained file with the numbers it was given, and pictures at the
physical aspect, oriented as the viewer shows them and cut through the errors."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ctseg_core.display.windowing import PRESETS
from ctseg_core.export.report import error_centroid, snapshot_png, worst_slices, write_report
from ctseg_core.metrics import compare, per_slice_dice

SPACING = (2.5, 0.7, 0.7)  # thick slices: coronal and sagittal pixels are 2.5 × 0.7 mm
SHAPE = (24, 64, 64)


def _decode(uri: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :]))) as image:
        return np.asarray(image.convert("RGB"))


def _reddish(picture: np.ndarray) -> np.ndarray:
    rgb = picture.astype(int)
    return (rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2])) > 60


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, y, x = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    return z * SPACING[0], y * SPACING[1], x * SPACING[2]


def _case() -> dict:
    """A CT with a 'liver' sphere and a prediction that misses its top and spills to one side."""
    z, y, x = _grid()
    hu = np.where((y - 22) ** 2 + (x - 22) ** 2 < 21**2, 60, -1000).astype(np.int16)
    truth = (z - 30) ** 2 + (y - 22) ** 2 + (x - 22) ** 2 < 14**2
    prediction = ((z - 30) ** 2 + (y - 22) ** 2 + (x - 25) ** 2 < 14**2) & (z < 38)
    report = compare(prediction, truth, SPACING)
    dice = [None if np.isnan(d) else float(d) for d in per_slice_dice(prediction, truth)]
    return {
        "title": "Patient <7> liver",
        "metrics": {"Dice": report.dice, "Jaccard": report.jaccard, "HD95 (mm)": report.hd95_mm, "ASSD (mm)": None},
        "volumes": {"ground truth": report.volume_ml_ref, "prediction": report.volume_ml_pred},
        "per_slice_dice": dice,
        "hu": hu,
        "masks": {"ground truth": truth, "prediction": prediction},
        "spacing_mm": SPACING,
        "window": PRESETS["Abdomen"],
    }


def test_report_is_one_self_contained_page_with_the_numbers(tmp_path: Path) -> None:
    case = _case()
    stages: list[str] = []
    path = write_report(tmp_path / "report.html", progress=lambda d, t, s: stages.append(s), **case)

    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", page)  # nothing to fetch: works offline, in a mail
    assert "<script" not in page and "<link" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) >= 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    for source in sources:
        assert _decode(source).size > 0  # every picture decodes
    assert "Patient &lt;7&gt; liver" in page  # the title, escaped
    metrics = case["metrics"]
    assert f"{metrics['Dice']:.3f}" in page and f"{metrics['HD95 (mm)']:.3f}" in page
    assert "<th>ASSD (mm)</th><td>\u2014</td>" in page  # undefined shown as a dash, not 0
    for volume in case["volumes"].values():
        assert f"{volume:.1f} mL" in page
    worst = worst_slices(case["per_slice_dice"])[0]
    assert f"slice {worst} of {SHAPE[0]}" in page
    assert stages[0] == "Dice plot" and stages[-1] == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_worst_slice_and_error_centroid_point_at_the_error() -> None:
    case = _case()
    dice = case["per_slice_dice"]
    worst = worst_slices(dice)
    defined = [d for d in dice if d is not None]
    assert dice[worst[0]] == min(defined)
    assert all(abs(a - b) >= 3 for i, a in enumerate(worst) for b in worst[i + 1 :])  # different places
    z, _y, x = error_centroid(case["masks"], SHAPE)
    truth, prediction = case["masks"].values()
    disagreement = np.nonzero(truth ^ prediction)
    assert z == round(disagreement[0].mean()) and x == round(disagreement[2].mean())
    assert worst_slices([None, float("nan"), None]) == []


def test_planes_are_drawn_at_physical_aspect() -> None:
    z, y, x = _grid()
    sphere = (z - 30) ** 2 + (y - 22) ** 2 + (x - 22) ** 2 < 12**2  # 24 mm across every way
    hu = np.full(SHAPE, 40, dtype=np.int16)
    colours = {"organ": (255, 0, 0)}
    for plane, index in (("axial", 12), ("coronal", 31), ("sagittal", 31)):
        picture = _decode(snapshot_png(hu, {"organ": sphere}, colours, plane, index, SPACING, PRESETS["Abdomen"]))
        rows, cols = np.nonzero(_reddish(picture))
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert width == pytest.approx(height, rel=0.08), plane  # a sphere looks round in every plane


@pytest.mark.parametrize(
    ("plane", "index", "expected_corner"),
    [
        # The marker sits at the patient's right (x small), anterior (y small), superior (z high).
        ("axial", 22, ("top", "left")),  # A at the top, R on the screen's left
        ("coronal", 6, ("top", "left")),  # S at the top, R on the left
        ("sagittal", 6, ("top", "left")),  # S at the top, A on the left
    ],
)
def test_planes_are_oriented_as_the_viewer_shows_them(plane: str, index: int, expected_corner: tuple[str, str]) -> None:
    marker = np.zeros(SHAPE, dtype=bool)
    marker[19:24, 2:12, 2:12] = True
    hu = np.full(SHAPE, 40, dtype=np.int16)
    picture = _decode(
        snapshot_png(hu, {"marker": marker}, {"marker": (255, 0, 0)}, plane, index, SPACING, PRESETS["Abdomen"])
    )
    rows, cols = np.nonzero(_reddish(picture))
    vertical = "top" if rows.mean() < picture.shape[0] / 2 else "bottom"
    horizontal = "left" if cols.mean() < picture.shape[1] / 2 else "right"
    assert (vertical, horizontal) == expected_corner


def test_report_refuses_a_dice_list_that_does_not_match_the_slices(tmp_path: Path) -> None:
    case = _case()
    case["per_slice_dice"] = case["per_slice_dice"][:-1]
    with pytest.raises(ValueError, match="per_slice_dice"):
        write_report(tmp_path / "report.html", **case)
    assert not any(tmp_path.iterdir())
