"""Behaviour of ctseg_core.metrics on hand-made and analytic masks."""

import math

import numpy as np
import pytest

from ctseg_core import metrics
from ctseg_core.metrics import (
    MaskScores,
    OverlapReport,
    average_symmetric_surface_distance,
    compare,
    dice,
    format_metric,
    hausdorff_95,
    jaccard,
    middle_slice,
    per_slice_dice,
    relative_volume_difference,
    score_masks,
    volume_ml,
    volume_overlap_error,
)

ANISO = (2.0, 0.5, 0.5)


def sphere(
    shape: tuple[int, int, int],
    radius_mm: float,
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0),
    offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Voxelised ball of radius_mm around the grid centre (plus offset), built in physical mm."""
    axes = [(np.arange(n) - (n - 1) / 2.0) * s - o for n, s, o in zip(shape, spacing_mm, offset_mm, strict=False)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    return (z**2 + y**2 + x**2) <= radius_mm**2


def box(shape=(6, 20, 20), lo=(1, 4, 4), hi=(5, 14, 14)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 1
    return mask


def test_identical_masks_are_perfect() -> None:
    mask = box()
    assert dice(mask, mask) == 1.0
    assert jaccard(mask, mask) == 1.0
    assert volume_overlap_error(mask, mask) == 0.0
    assert relative_volume_difference(mask, mask) == 0.0
    assert average_symmetric_surface_distance(mask, mask, ANISO) == 0.0
    assert hausdorff_95(mask, mask, ANISO) == 0.0


def test_any_dtype_is_binarised_with_greater_than_zero() -> None:
    mask = box()
    assert dice(mask * 7.5, mask.astype(bool)) == 1.0
    assert dice(mask, -mask.astype(np.int16)) == 0.0


def test_disjoint_masks() -> None:
    a = box(lo=(1, 0, 0), hi=(5, 5, 5))
    b = box(lo=(1, 10, 10), hi=(5, 15, 15))
    assert dice(a, b) == 0.0
    assert jaccard(a, b) == 0.0
    assert volume_overlap_error(a, b) == 1.0


def test_overlap_values_on_half_overlapping_boxes() -> None:
    a = box(lo=(0, 0, 0), hi=(2, 4, 4))  # 32 voxels
    b = box(lo=(0, 0, 2), hi=(2, 4, 6))  # 32 voxels, 16 shared
    assert dice(a, b) == pytest.approx(0.5)
    assert jaccard(a, b) == pytest.approx(1 / 3)
    assert volume_overlap_error(a, b) == pytest.approx(2 / 3)
    assert relative_volume_difference(box(hi=(5, 14, 19)), box()) == pytest.approx(0.5)
    assert relative_volume_difference(np.zeros((6, 20, 20)), box()) == -1.0


def test_both_empty_is_undefined_not_zero_or_one() -> None:
    empty = np.zeros((4, 8, 8), dtype=np.uint8)
    for fn in (dice, jaccard, volume_overlap_error, relative_volume_difference):
        assert math.isnan(fn(empty, empty))
    assert math.isnan(average_symmetric_surface_distance(empty, empty))
    assert math.isnan(hausdorff_95(empty, empty))
    assert format_metric(dice(empty, empty)) == "\u2014"


def test_one_empty_gives_zero_overlap_and_undefined_distances() -> None:
    mask = box()
    empty = np.zeros_like(mask)
    for a, b in ((mask, empty), (empty, mask)):
        assert dice(a, b) == 0.0
        assert jaccard(a, b) == 0.0
        assert volume_overlap_error(a, b) == 1.0
        assert math.isnan(average_symmetric_surface_distance(a, b, ANISO))
        assert math.isnan(hausdorff_95(a, b, ANISO))
    assert math.isnan(relative_volume_difference(mask, empty))


def test_shape_mismatch_names_both_shapes() -> None:
    a = np.zeros((4, 8, 8))
    b = np.zeros((4, 8, 9))
    for fn in (dice, jaccard, volume_overlap_error, relative_volume_difference, per_slice_dice):
        with pytest.raises(ValueError, match=r"\(4, 8, 8\).*\(4, 8, 9\)"):
            fn(a, b)
    for fn in (average_symmetric_surface_distance, hausdorff_95, compare):
        with pytest.raises(ValueError, match=r"\(4, 8, 8\).*\(4, 8, 9\)"):
            fn(a, b, ANISO)


def test_spacing_length_must_match_dimensions() -> None:
    with pytest.raises(ValueError, match="has 2 values for a 3D mask"):
        average_symmetric_surface_distance(box(), box(), (1.0, 1.0))


def test_dice_of_offset_spheres_matches_lens_formula() -> None:
    radius, d = 20.0, 10.0
    shape = (48, 48, 60)
    a = sphere(shape, radius, offset_mm=(0.0, 0.0, -d / 2))
    b = sphere(shape, radius, offset_mm=(0.0, 0.0, d / 2))
    lens = math.pi * (4 * radius + d) * (2 * radius - d) ** 2 / 12
    expected = lens / (4 / 3 * math.pi * radius**3)
    assert dice(a, b) == pytest.approx(expected, rel=0.02)


def test_concentric_spheres_on_anisotropic_grid_are_5_mm_apart() -> None:
    shape = (32, 128, 128)  # 64 mm along every axis
    inner = sphere(shape, 20.0, ANISO)
    outer = sphere(shape, 25.0, ANISO)
    assert average_symmetric_surface_distance(inner, outer, ANISO) == pytest.approx(5.0, abs=0.6)
    assert hausdorff_95(inner, outer, ANISO) == pytest.approx(5.0, abs=0.6)


def test_surface_distances_are_symmetric_and_in_mm() -> None:
    a = box(lo=(1, 4, 4), hi=(5, 14, 14))
    b = box(lo=(1, 4, 6), hi=(5, 14, 16))  # shifted 2 voxels along x
    spacing = (1.0, 1.0, 3.0)
    assert average_symmetric_surface_distance(a, b, spacing) == pytest.approx(
        average_symmetric_surface_distance(b, a, spacing)
    )
    assert hausdorff_95(a, b, spacing) == pytest.approx(6.0)  # 2 voxels × 3 mm


def test_volume_of_sphere_in_ml() -> None:
    shape = (32, 128, 128)
    expected = 4 / 3 * math.pi * 20.0**3 / 1000
    assert volume_ml(sphere(shape, 20.0, ANISO), ANISO) == pytest.approx(expected, rel=0.02)
    assert volume_ml(np.ones((2, 3, 4)), (2.0, 0.5, 0.5)) == pytest.approx(0.012)


def test_per_slice_dice_matches_dice_per_slice() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((6, 16, 16)) > 0.5
    b = rng.random((6, 16, 16)) > 0.5
    a[2] = b[2] = False  # empty in both
    a[4] = False  # empty in one only
    result = per_slice_dice(a, b)
    assert result.shape == (6,)
    assert math.isnan(result[2])
    assert result[4] == 0.0
    for z in (0, 1, 3, 4, 5):
        assert result[z] == pytest.approx(dice(a[z], b[z]))


def test_per_slice_dice_needs_3d() -> None:
    with pytest.raises(ValueError, match="needs 3D"):
        per_slice_dice(np.ones((4, 4)), np.ones((4, 4)))


def test_2d_masks_use_2d_spacing() -> None:
    a = np.zeros((20, 20), dtype=bool)
    a[5:15, 5:15] = True
    b = np.roll(a, 1, axis=1)
    assert hausdorff_95(a, b, (1.0, 4.0)) == pytest.approx(4.0)
    assert volume_ml(a, (1.0, 4.0)) == pytest.approx(0.4)


def test_compare_agrees_with_individual_functions() -> None:
    shape = (32, 96, 96)
    pred = sphere(shape, 18.0, ANISO, offset_mm=(0.0, 2.0, 3.0))
    ref = sphere(shape, 20.0, ANISO)
    report = compare(pred, ref, ANISO)
    assert isinstance(report, OverlapReport)
    assert report.dice == pytest.approx(dice(pred, ref))
    assert report.jaccard == pytest.approx(jaccard(pred, ref))
    assert report.voe == pytest.approx(volume_overlap_error(pred, ref))
    assert report.rvd == pytest.approx(relative_volume_difference(pred, ref))
    assert report.assd_mm == pytest.approx(average_symmetric_surface_distance(pred, ref, ANISO))
    assert report.hd95_mm == pytest.approx(hausdorff_95(pred, ref, ANISO))
    assert report.volume_ml_pred == pytest.approx(volume_ml(pred, ANISO))
    assert report.volume_ml_ref == pytest.approx(volume_ml(ref, ANISO))


def test_surface_distances_computed_once_per_compare(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = metrics._surface_distances
    monkeypatch.setattr(metrics, "_surface_distances", lambda *args: calls.append(1) or original(*args))
    compare(box(), box(lo=(1, 5, 5)), ANISO)
    assert len(calls) == 1


def test_to_dict_maps_nan_to_none() -> None:
    empty = np.zeros((4, 8, 8))
    values = compare(empty, empty).to_dict()
    assert list(values) == [
        "dice",
        "jaccard",
        "voe",
        "rvd",
        "assd_mm",
        "hd95_mm",
        "volume_ml_pred",
        "volume_ml_ref",
    ]
    assert values["dice"] is None
    assert values["assd_mm"] is None
    assert values["rvd"] is None
    assert values["volume_ml_pred"] == 0.0
    full = compare(box(), box()).to_dict()
    assert full["dice"] == 1.0
    assert all(type(v) is float for v in full.values())


def test_format_metric() -> None:
    assert format_metric(None) == "\u2014"
    assert format_metric(math.nan) == "\u2014"
    assert format_metric(0.91234) == "0.912"
    assert format_metric(4.5, digits=1) == "4.5"


def test_worst_slice_is_the_lowest_defined_dice_first_if_tied() -> None:
    assert MaskScores(per_slice_dice=np.array([np.nan, 0.9, 0.2, np.nan, 0.2, 1.0])).worst_slice() == 2
    assert MaskScores(per_slice_dice=np.array([np.nan, np.nan])).worst_slice() is None
    assert MaskScores().worst_slice() is None
    assert math.isnan(MaskScores().slice_dice(0))


def test_score_measures_volumes_alone_and_overlap_when_both_masks_exist() -> None:
    gt = np.zeros((3, 8, 8), bool)
    gt[1, 2:6, 2:6] = True
    pred = np.roll(gt, 1, axis=2)
    spacing = (2.0, 0.5, 0.5)
    alone = score_masks(gt, None, spacing)
    assert alone.gt_volume_ml == pytest.approx(volume_ml(gt, spacing))
    assert alone.report is None and alone.prediction_volume_ml is None
    both = score_masks(gt, pred, spacing)
    assert both.report == compare(pred, gt, spacing)
    assert both.slice_dice(1) == pytest.approx(both.report.dice)
    assert math.isnan(both.slice_dice(0))


def test_the_first_slice_shown_is_the_middle_of_the_mask_else_of_the_scan() -> None:
    mask = np.zeros((9, 2, 2), bool)
    mask[[1, 2, 8], 0, 0] = True
    assert middle_slice(mask, 9) == 2  # the median slice holding the organ
    assert middle_slice(None, 9) == 4
    assert middle_slice(np.zeros((9, 2, 2), bool), 9) == 4
