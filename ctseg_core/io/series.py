"""From a pile of DICOM headers to one ordered CT series and its int16 HU volume."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ctseg_core.io.dicom import SliceHeader, UnreadableSlice, read_stored_values, run_parallel, stored_to_hu
from ctseg_core.io.sources import DicomSource
from ctseg_core.errors import (
    DuplicatePositionError,
    InconsistentGeometryError,
    MissingPixelDataError,
    UnknownSeriesError,
)
from ctseg_core.geometry import (
    SLICE_ORDER_POSITION,
    VolumeGeometry,
    duplicate_runs,
    order_slices,
    slice_spacing,
)
from ctseg_core.progress import CancelCheck, ProgressCallback

_ORIENTATION_TOLERANCE = 1e-4
_SPACING_TOLERANCE = 1e-3


@dataclass(frozen=True)
class SeriesSummary:
    """One series found in a folder, as listed to the user."""

    series_uid: str
    modality: str
    description: str
    slices: int

    def describe(self) -> str:
        text = f"{self.modality or '?'} series {self.series_uid} ({self.slices} slices"
        return text + (f", '{self.description}')" if self.description else ")")


@dataclass
class OrderedSeries:
    """The chosen series, ordered along the slice normal, with its geometry."""

    headers: list[SliceHeader]
    geometry: VolumeGeometry
    slice_order: str
    positions_mm: np.ndarray | None
    warnings: list[str] = field(default_factory=list)
    others: list[SeriesSummary] = field(default_factory=list)


def summarise_series(headers: list[SliceHeader]) -> list[SeriesSummary]:
    """Image series in the headers, largest first."""
    groups: dict[str, list[SliceHeader]] = defaultdict(list)
    for header in headers:
        if header.is_image:
            groups[header.series_uid].append(header)
    summaries = [
        SeriesSummary(uid, members[0].modality, members[0].series_description, len(members))
        for uid, members in groups.items()
    ]
    return sorted(summaries, key=lambda s: (-(s.modality == "CT"), -s.slices, s.series_uid))


def choose_series(
    headers: list[SliceHeader], label: str, series_uid: str | None = None
) -> tuple[list[SliceHeader], list[SeriesSummary], list[str]]:
    """Pick the CT series with the most slices (or the one asked for) and list the others."""
    summaries = summarise_series(headers)
    if series_uid is not None:
        chosen = [s for s in summaries if s.series_uid == series_uid]
        if not chosen:
            available = "; ".join(s.describe() for s in summaries) or "none"
            raise UnknownSeriesError(
                label, f"series {series_uid} not found. Series in this folder: {available}"
            )
        pick = chosen[0]
    else:
        pick = summaries[0]
    others = [s for s in summaries if s.series_uid != pick.series_uid]
    warnings = []
    if others:
        listed = "; ".join(s.describe() for s in others)
        warnings.append(
            f"{len(summaries)} series found; loaded {pick.describe()}. "
            f"Others (choose one by SeriesInstanceUID): {listed}"
        )
    if pick.modality and pick.modality != "CT":
        warnings.append(f"series {pick.series_uid} has modality {pick.modality}, not CT")
    members = [h for h in headers if h.is_image and h.series_uid == pick.series_uid]
    return members, others, warnings


def _check_consistent(headers: list[SliceHeader]) -> None:
    """All slices must share rows, columns, orientation and pixel spacing, and have pixels."""
    first = headers[0]
    for header in headers:
        if not header.has_pixels:
            raise MissingPixelDataError(header.name, "image slice has no pixel data (7FE0,0010)")
        if (header.rows, header.columns) != (first.rows, first.columns):
            raise InconsistentGeometryError(
                header.name,
                f"{header.rows}×{header.columns} pixels, but {first.name} has "
                f"{first.rows}×{first.columns}: slices of one series must share rows and columns",
            )
        if header.orientation and first.orientation and not np.allclose(
            header.orientation, first.orientation, atol=_ORIENTATION_TOLERANCE
        ):
            raise InconsistentGeometryError(
                header.name,
                f"ImageOrientationPatient {list(header.orientation)} differs from "
                f"{first.name} {list(first.orientation)}",
            )
        if header.pixel_spacing and first.pixel_spacing and not np.allclose(
            header.pixel_spacing, first.pixel_spacing, rtol=_SPACING_TOLERANCE
        ):
            raise InconsistentGeometryError(
                header.name,
                f"PixelSpacing {list(header.pixel_spacing)} differs from {first.name} "
                f"{list(first.pixel_spacing)}",
            )


def order_series(headers: list[SliceHeader], label: str) -> OrderedSeries:
    """Order slices by geometry (with fallbacks) and derive spacing and the affine."""
    _check_consistent(headers)
    orientations = {h.orientation for h in headers}
    orientation = headers[0].orientation if None not in orientations else None
    result = order_slices(
        [h.position for h in headers],
        orientation,
        [h.instance_number for h in headers],
        [h.name for h in headers],
    )
    ordered = [headers[i] for i in result.order]
    warnings = list(result.warnings)
    first = ordered[0]
    dy, dx = first.pixel_spacing or (1.0, 1.0)
    if first.pixel_spacing is None:
        warnings.append("PixelSpacing missing: assuming 1 mm pixels")
    if result.method == SLICE_ORDER_POSITION and result.positions_mm is not None:
        unique = np.ones(len(ordered), dtype=bool)
        for run in duplicate_runs(result.positions_mm):
            unique[run[1:]] = False
        dz, spacing_warnings = slice_spacing(
            result.positions_mm[unique], [h.name for h, u in zip(ordered, unique) if u]
        )
        warnings.extend(spacing_warnings)
    else:
        dz = first.spacing_between_slices or first.slice_thickness or 1.0
        warnings.append(f"slice spacing taken from the header ({dz:g} mm), not from positions")
    if dz == 0.0:  # a single slice: thickness is the best guess
        dz = first.slice_thickness or 1.0
    row_dir: tuple[float, float, float] = (1.0, 0.0, 0.0)
    col_dir: tuple[float, float, float] = (0.0, 1.0, 0.0)
    if orientation is not None:
        row_dir = tuple(orientation[:3])  # type: ignore[assignment]
        col_dir = tuple(orientation[3:6])  # type: ignore[assignment]
    origin = first.position or (0.0, 0.0, 0.0)
    geometry = VolumeGeometry(tuple(origin), row_dir, col_dir, (float(dz), float(dy), float(dx)))  # type: ignore[arg-type]
    return OrderedSeries(ordered, geometry, result.method, result.positions_mm, warnings)


def read_volume(
    source: DicomSource,
    series: OrderedSeries,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> np.ndarray:
    """Read the ordered slices into one int16 HU volume [z, y, x].

    Duplicate positions: identical copies are dropped (with a warning), different ones are an
    error naming both files.
    """
    headers = series.headers
    first = headers[0]
    volume = np.empty((len(headers), first.rows, first.columns), dtype=np.int16)

    def read_one(index: int) -> int:
        header = headers[index]
        stored = read_stored_values(source, header)
        header.raw = None  # zip bytes are no longer needed
        return stored_to_hu(stored, header.slope, header.intercept, volume[index])

    results = run_parallel(list(range(len(headers))), read_one, "reading pixels", progress, should_cancel)
    clipped = 0
    for index, result in enumerate(results):
        if isinstance(result, UnreadableSlice):
            raise type(result)(str(result))
        if isinstance(result, BaseException):
            raise result
        clipped += int(result)  # type: ignore[arg-type]
    if clipped:
        series.warnings.append(f"{clipped} voxels outside the int16 HU range were clipped")
    if series.positions_mm is not None:
        volume = _drop_identical_duplicates(volume, series)
    return volume


def _drop_identical_duplicates(volume: np.ndarray, series: OrderedSeries) -> np.ndarray:
    runs = duplicate_runs(series.positions_mm)  # type: ignore[arg-type]
    if not runs:
        return volume
    drop: list[int] = []
    for run in runs:
        keep = run[0]
        for other in run[1:]:
            if not np.array_equal(volume[keep], volume[other]):
                a, b = series.headers[keep], series.headers[other]
                position = series.positions_mm[keep]  # type: ignore[index]
                raise DuplicatePositionError(
                    b.name,
                    f"same position ({position:.3f} mm along the slice normal) as {a.name} "
                    "but different pixels: two acquisitions are mixed in one series",
                )
            drop.append(other)
    names = ", ".join(series.headers[i].name for i in drop[:5])
    series.warnings.append(f"{len(drop)} duplicate slice(s) with identical pixels skipped: {names}")
    keep_mask = np.ones(len(series.headers), dtype=bool)
    keep_mask[drop] = False
    series.headers = [h for h, k in zip(series.headers, keep_mask) if k]
    series.positions_mm = series.positions_mm[keep_mask]  # type: ignore[index]
    return volume[keep_mask]

