"""Segmentation metrics: overlap, volume and surface distance, aware of voxel spacing.

Every function takes numpy arrays of any dtype and binarises them with ``> 0``. Arrays are
3D ``(z, y, x)``, or 2D ``(y, x)`` for a single slice. ``spacing_mm`` is ``(dz, dy, dx)`` in
millimetres (``(dy, dx)`` for 2D) and defaults to 1 mm along every axis. The two masks must
have the same shape, else ``ValueError``.

Empty-mask rule (a metric that cannot be measured is ``math.nan``, shown as "—", never 0 or 1):

* both masks empty: Dice, Jaccard and VOE are ``nan`` (0/0: nothing to overlap);
* exactly one mask empty: Dice 0.0, Jaccard 0.0, VOE 1.0 (total disagreement);
* either mask empty: ASSD and HD95 are ``nan`` (a mask without voxels has no surface to
  measure distances from or to);
* RVD with an empty reference is ``nan`` (division by a zero reference volume).

Surfaces follow SLIVER07 (Heimann et al., IEEE TMI 2009): the surface of a mask is
``mask XOR binary_erosion(mask)`` with the face-connected (cross) structuring element, i.e.
6-connectivity in 3D and 4-connectivity in 2D, so a voxel is on the surface when one of its
face neighbours is background. Voxels on the array border count as surface.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import cKDTree

Spacing = Sequence[float] | None


def _binary_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binarise two masks with ``> 0`` after checking their shapes match."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    return a > 0, b > 0


def _spacing(spacing_mm: Spacing, ndim: int) -> tuple[float, ...]:
    """Spacing as a float tuple of length ``ndim``; all ones when not given."""
    if spacing_mm is None:
        return (1.0,) * ndim
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != ndim:
        raise ValueError(f"spacing {spacing} has {len(spacing)} values for a {ndim}D mask")
    return spacing


def _dice_from_counts(intersection: int, size_a: int, size_b: int) -> float:
    total = size_a + size_b
    return 2.0 * intersection / total if total else math.nan


def _jaccard_from_counts(intersection: int, size_a: int, size_b: int) -> float:
    union = size_a + size_b - intersection
    return intersection / union if union else math.nan


def _rvd_from_counts(size_pred: int, size_ref: int) -> float:
    return (size_pred - size_ref) / size_ref if size_ref else math.nan


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A∩B| / (|A|+|B|), unitless in [0, 1]: the standard overlap score."""
    a, b = _binary_pair(a, b)
    return _dice_from_counts(int(np.count_nonzero(a & b)), int(a.sum()), int(b.sum()))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index |A∩B| / |A∪B|, unitless in [0, 1]: stricter overlap than Dice."""
    a, b = _binary_pair(a, b)
    return _jaccard_from_counts(int(np.count_nonzero(a & b)), int(a.sum()), int(b.sum()))


def volume_overlap_error(a: np.ndarray, b: np.ndarray) -> float:
    """Volumetric overlap error 1 − Jaccard, unitless in [0, 1]: the SLIVER07 overlap error."""
    return 1.0 - jaccard(a, b)


def relative_volume_difference(pred: np.ndarray, ref: np.ndarray) -> float:
    """Signed relative volume difference (|pred| − |ref|) / |ref|, unitless.

    Positive means over-segmentation, negative under-segmentation; it ignores where the
    voxels are, so read it next to an overlap score.
    """
    pred, ref = _binary_pair(pred, ref)
    return _rvd_from_counts(int(pred.sum()), int(ref.sum()))


def surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels of a 2D or 3D mask, as a bool array of its shape (SLIVER07's rule, module docstring).

    A voxel of the mask is on the surface when one of its face neighbours (4 in 2D, 6 in 3D) is
    background; voxels on the array border count as surface. In 2D this is the one-pixel inner
    outline the viewer draws; in 3D it is where the surface distances are measured. Equal to
    ``mask ^ binary_erosion(mask, cross, border_value=0)``, computed by shifted ANDs (a 512² slice
    in ≈ 0.4 ms, about ten times faster than the erosion: the viewer outlines two masks per slice change).
    """
    mask = np.asarray(mask) > 0
    if min(mask.shape, default=0) < 3:  # every voxel of a thin axis lies on the border
        return mask.copy()
    inner = mask.copy()
    for axis in range(mask.ndim):
        lower: list[slice | int] = [slice(None)] * mask.ndim
        upper: list[slice | int] = [slice(None)] * mask.ndim
        lower[axis], upper[axis] = slice(None, -1), slice(1, None)
        inner[tuple(upper)] &= mask[tuple(lower)]
        inner[tuple(lower)] &= mask[tuple(upper)]
        lower[axis], upper[axis] = 0, -1
        inner[tuple(lower)] = False
        inner[tuple(upper)] = False
    return mask & ~inner


def _surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels: the mask minus its erosion by the face-connected structure."""
    return surface(mask)


def _surface_distances(
    a: np.ndarray, b: np.ndarray, spacing: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Distances in mm from each surface voxel of A to the surface of B, and from B to A.

    Both masks are cropped to their union bounding box plus a 1-voxel margin first (exact: every
    surface voxel lies inside the box), and each distance is the nearest surface voxel of the other
    mask found in a k-d tree of surface points in mm: the same Euclidean distance the distance
    transform gave, in memory that grows with the surfaces, not with the volume (the transforms made
    float64 and index arrays of the whole box: several times the CT). Returns None when either mask is empty.
    """
    if not a.any() or not b.any():
        return None
    box = _union_box(a, b)
    points_a = np.argwhere(_surface(a[box])) * np.asarray(spacing)
    points_b = np.argwhere(_surface(b[box])) * np.asarray(spacing)
    to_b = cKDTree(points_b).query(points_a)[0]
    to_a = cKDTree(points_a).query(points_b)[0]
    return to_b, to_a


def _union_box(a: np.ndarray, b: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of ``a | b`` with a 1-voxel margin, from per-axis projections (no voxel list)."""
    box = []
    for axis, n in enumerate(a.shape):
        others = tuple(i for i in range(a.ndim) if i != axis)
        present = np.flatnonzero(a.any(axis=others) | b.any(axis=others))
        box.append(slice(max(int(present[0]) - 1, 0), min(int(present[-1]) + 2, n)))
    return tuple(box)


def _assd(distances: tuple[np.ndarray, np.ndarray] | None) -> float:
    if distances is None:
        return math.nan
    a_to_b, b_to_a = distances
    return float((a_to_b.sum() + b_to_a.sum()) / (a_to_b.size + b_to_a.size))


def _hd95(distances: tuple[np.ndarray, np.ndarray] | None) -> float:
    if distances is None:
        return math.nan
    a_to_b, b_to_a = distances
    return float(max(np.percentile(a_to_b, 95), np.percentile(b_to_a, 95)))


def average_symmetric_surface_distance(a: np.ndarray, b: np.ndarray, spacing_mm: Spacing = None) -> float:
    """Average symmetric surface distance in mm (SLIVER07 / Heimann 2009).

    (Σ d(A→B) + Σ d(B→A)) / (|S_A| + |S_B|), where d is the Euclidean distance in mm from a
    surface voxel to the nearest surface voxel of the other mask: the mean boundary error.
    """
    a, b = _binary_pair(a, b)
    return _assd(_surface_distances(a, b, _spacing(spacing_mm, a.ndim)))


def hausdorff_95(a: np.ndarray, b: np.ndarray, spacing_mm: Spacing = None) -> float:
    """Robust (95th percentile) Hausdorff distance in mm: the worst boundary error, minus outliers.

    Defined as the larger of the two directed 95th percentiles, max(P95 d(A→B), P95 d(B→A)),
    as in MONAI and DeepMind's surface-distance. (medpy's ``hd95`` instead takes the 95th
    percentile of both distance sets pooled, which can be smaller.)
    """
    a, b = _binary_pair(a, b)
    return _hd95(_surface_distances(a, b, _spacing(spacing_mm, a.ndim)))


def volume_ml(mask: np.ndarray, spacing_mm: Spacing = None) -> float:
    """Volume of the mask in millilitres: voxel count × voxel volume (mm³) / 1000."""
    mask = np.asarray(mask) > 0
    return float(np.count_nonzero(mask) * math.prod(_spacing(spacing_mm, mask.ndim)) / 1000.0)


@dataclass(frozen=True)
class OverlapReport:
    """All metrics of one prediction against one reference (see the module for units and NaN)."""

    dice: float
    jaccard: float
    voe: float
    rvd: float
    assd_mm: float
    hd95_mm: float
    volume_ml_pred: float
    volume_ml_ref: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-safe dict: NaN (and any other non-finite value) becomes None."""
        return {k: (float(v) if math.isfinite(v) else None) for k, v in asdict(self).items()}


def compare(pred: np.ndarray, ref: np.ndarray, spacing_mm: Spacing = None) -> OverlapReport:
    """Every metric of ``pred`` against ``ref``, computing the surface distances only once."""
    pred, ref = _binary_pair(pred, ref)
    spacing = _spacing(spacing_mm, pred.ndim)
    intersection = int(np.count_nonzero(pred & ref))
    size_pred = int(pred.sum())
    size_ref = int(ref.sum())
    jac = _jaccard_from_counts(intersection, size_pred, size_ref)
    distances = _surface_distances(pred, ref, spacing)
    voxel_ml = math.prod(spacing) / 1000.0
    return OverlapReport(
        dice=_dice_from_counts(intersection, size_pred, size_ref),
        jaccard=jac,
        voe=1.0 - jac,
        rvd=_rvd_from_counts(size_pred, size_ref),
        assd_mm=_assd(distances),
        hd95_mm=_hd95(distances),
        volume_ml_pred=size_pred * voxel_ml,
        volume_ml_ref=size_ref * voxel_ml,
    )


def per_slice_dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice of each axial slice of two 3D masks, shape (z,); NaN where both slices are empty.

    Useful to find the slices where a prediction goes wrong.
    """
    a, b = _binary_pair(a, b)
    if a.ndim != 3:
        raise ValueError(f"per_slice_dice needs 3D (z, y, x) masks, got shape {a.shape}")
    intersection = np.count_nonzero(a & b, axis=(1, 2))
    total = np.count_nonzero(a, axis=(1, 2)) + np.count_nonzero(b, axis=(1, 2))
    result = np.full(a.shape[0], np.nan)
    np.divide(2.0 * intersection, total, out=result, where=total > 0)
    return result


@dataclass(frozen=True)
class MaskScores:
    """What a viewer shows for one (ground truth, prediction) pair; None where a mask is missing.

    Volumes in mL; ``report`` and ``per_slice_dice`` (shape (z,), NaN where both slices are empty)
    only when both masks exist.
    """

    gt_volume_ml: float | None = None
    prediction_volume_ml: float | None = None
    report: OverlapReport | None = None
    per_slice_dice: np.ndarray | None = None

    def slice_dice(self, index: int) -> float:
        """Dice of slice ``index``; NaN when unknown or when both slices are empty."""
        return math.nan if self.per_slice_dice is None else float(self.per_slice_dice[index])

    def worst_slice(self) -> int | None:
        """Slice with the lowest defined Dice (ground truth or prediction non-empty there), first if tied;
        None without per-slice Dice or when no slice has one."""
        dice_z = self.per_slice_dice
        if dice_z is None or np.isnan(dice_z).all():
            return None
        return int(np.nanargmin(dice_z))


def score_masks(gt: np.ndarray | None, prediction: np.ndarray | None, spacing_mm: Spacing = None) -> MaskScores:
    """Volumes (mL) of whichever masks exist; overlap, surface distances and per-slice Dice when both do.

    Either mask may be None (no ground truth for this organ, or nothing predicted yet).
    """
    if gt is not None and prediction is not None:
        report = compare(prediction, gt, spacing_mm)
        return MaskScores(report.volume_ml_ref, report.volume_ml_pred, report, per_slice_dice(gt, prediction))
    return MaskScores(
        gt_volume_ml=None if gt is None else volume_ml(gt, spacing_mm),
        prediction_volume_ml=None if prediction is None else volume_ml(prediction, spacing_mm),
    )


def middle_slice(mask: np.ndarray | None, depth: int) -> int:
    """The slice in the middle of a 3D mask's extent along z (the median slice holding mask voxels),
    where a reader starts looking at an organ; the middle of the ``depth`` slices when the mask is
    None or empty."""
    if mask is not None:
        occupied = np.flatnonzero((np.asarray(mask) > 0).reshape(mask.shape[0], -1).any(axis=1))
        if occupied.size:
            return int(occupied[occupied.size // 2])
    return depth // 2


def format_metric(value: float | None, digits: int = 3) -> str:
    """Format a metric with ``digits`` decimals; "—" (em dash) for None or NaN."""
    if value is None or math.isnan(value):
        return "\u2014"
    return f"{value:.{digits}f}"
