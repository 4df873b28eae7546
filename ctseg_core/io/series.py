"""From a pile of DICOM headers to one ordered CT series and its int16 HU volume."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pydicom

from ctseg_core.errors import (
    CtsegError,
    DuplicatePositionError,
    InconsistentGeometryError,
    MissingPixelDataError,
    NotACtError,
    UnknownSeriesError,
)
from ctseg_core.geometry import (
    SLICE_ORDER_POSITION,
    SliceOrder,
    VolumeGeometry,
    duplicate_runs,
    order_slices,
    slice_spacing,
)
from ctseg_core.io.dicom import (
    PADDING_HU,
    SliceHeader,
    UnreadableSlice,
    padding_to_air,
    read_stored_values,
    run_parallel,
    stored_to_hu,
)
from ctseg_core.io.hu_checks import describe_mask, mask_values
from ctseg_core.io.memory_budget import check_fits
from ctseg_core.io.sources import DicomSource
from ctseg_core.progress import CancelCheck, ProgressCallback

_ORIENTATION_TOLERANCE = 1e-4
_HU_MIN, _HU_MAX = np.iinfo(np.int16).min, np.iinfo(np.int16).max
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
    #: ImagePositionPatient of each ordered slice (n, 3), when every slice has one
    positions_lps: np.ndarray | None = None
    #: gantry tilt: in-plane shift (rows, columns) in pixels that puts each slice on an orthogonal grid
    tilt_shift_px: np.ndarray | None = None


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


#: Series whose values are looked at (a few slices each) to tell a CT from a mask saved as images.
MASK_CHECKED_SERIES = 32
#: Slices of a series looked at for mask values: a quarter, half and three quarters of the way.
MASK_SAMPLE_FRACTIONS = (0.25, 0.5, 0.75)


def mask_like_series(source: DicomSource, headers: list[SliceHeader]) -> dict[str, list[int]]:
    """The image series whose sampled slices hold only mask values (0/1/255 after rescale), by UID, with
    those values (a single value: blank slices, a mask's or an empty scan's). IRCAD's mask slices are
    "CT" images of the patient's own slice count, so neither the modality nor the size tells them from
    the CT: their values do."""
    groups: dict[str, list[SliceHeader]] = defaultdict(list)
    for header in headers:
        if header.is_image:
            groups[header.series_uid].append(header)
    found: dict[str, list[int]] = {}
    for uid in [s.series_uid for s in summarise_series(headers)][:MASK_CHECKED_SERIES]:
        values = _sampled_mask_values(source, groups[uid])
        if values is not None:
            found[uid] = values
    return found


def _sampled_mask_values(source: DicomSource, members: list[SliceHeader]) -> list[int] | None:
    """The mask values of a few slices of one series, or None when any of them holds other values."""
    ordered = sorted(members, key=lambda h: (h.instance_number or 0, h.name))
    picks = sorted({min(len(ordered) - 1, int(f * len(ordered))) for f in MASK_SAMPLE_FRACTIONS})
    seen: set[int] = set()
    for index in picks:
        header = ordered[index]
        try:
            stored = read_stored_values(source, header)
        except CtsegError:
            return None  # an unreadable slice says nothing; the pixel pass reports it
        hu = np.rint(stored.astype(np.float32) * np.float32(header.slope or 1.0) + np.float32(header.intercept))
        values = mask_values(hu, blank=True)
        if values is None:
            return None
        seen.update(values)
    return sorted(seen)


def choose_series(
    headers: list[SliceHeader],
    label: str,
    series_uid: str | None = None,
    masks_like: dict[str, list[int]] | None = None,
) -> tuple[list[SliceHeader], list[SeriesSummary], list[str]]:
    """Pick the CT series with the most slices (or the one asked for) and list the others.

    ``masks_like`` (:func:`mask_like_series`): series holding only mask values, never chosen as the CT
    unless asked for by UID; when every series is one, the folder holds no CT (:class:`NotACtError`).
    """
    summaries = summarise_series(headers)
    masks_like = masks_like or {}
    warnings = []
    if series_uid is not None:
        chosen = [s for s in summaries if s.series_uid == series_uid]
        if not chosen:
            available = "; ".join(s.describe() for s in summaries) or "none"
            raise UnknownSeriesError(label, f"series {series_uid} not found. Series in this folder: {available}")
        pick = chosen[0]
        if pick.series_uid in masks_like:
            warnings.append(f"series {pick.series_uid} was asked for, but {describe_mask(masks_like[pick.series_uid])}")
    else:
        pick = _pick_ct(summaries, label, masks_like)
        skipped = [s for s in summaries if len(masks_like.get(s.series_uid, ())) > 1 and s != pick]
        if skipped:
            listed = "; ".join(s.describe() for s in skipped[:5]) + (" …" if len(skipped) > 5 else "")
            warnings.append(
                f"{len(skipped)} series hold only mask values (0/1/255), masks rather than CTs, "
                f"and were not loaded as the CT: {listed}"
            )
    others = [s for s in summaries if s.series_uid != pick.series_uid]
    members = [h for h in headers if h.is_image and h.series_uid == pick.series_uid]
    localizers = [h for h in members if "LOCALIZER" in h.image_type]
    if localizers and len(localizers) < len(members):
        names = _first_names(localizers)
        warnings.append(f"{len(localizers)} localizer (scout) image(s) in the series skipped: {names}")
        members = [h for h in members if "LOCALIZER" not in h.image_type]
    if others:
        listed = "; ".join(s.describe() for s in others)
        warnings.append(
            f"{len(summaries)} series found; loaded {pick.describe()}. "
            f"Others (choose one by SeriesInstanceUID): {listed}"
        )
    if pick.modality and pick.modality != "CT":
        warnings.append(f"series {pick.series_uid} has modality {pick.modality}, not CT")
    return members, others, warnings


def _pick_ct(summaries: list[SeriesSummary], label: str, masks_like: dict[str, list[int]]) -> SeriesSummary:
    """The first series in rank order that is not a mask, else the first blank one; none is an error
    saying what the folder holds."""
    for summary in summaries:
        if summary.series_uid not in masks_like:
            return summary
    for summary in summaries:
        if len(masks_like[summary.series_uid]) < 2:
            return summary
    first = summaries[0]
    raise NotACtError(
        label,
        f"no CT here: all {len(summaries)} image series hold only mask values (e.g. {first.describe()}: "
        f"{describe_mask(masks_like[first.series_uid])}); open the CT (for IRCAD, the folder holding "
        "PATIENT_DICOM), not its masks",
    )


def _first_names(headers: list[SliceHeader], limit: int = 3) -> str:
    """The first few slices' names for a warning, "…" when there are more."""
    return ", ".join(h.name for h in headers[:limit]) + (" …" if len(headers) > limit else "")


def _geometry_key(header: SliceHeader) -> tuple[object, ...]:
    orientation = None if header.orientation is None else tuple(round(v, 3) for v in header.orientation)
    return (header.rows, header.columns, orientation)


def _drop_minority_geometry(headers: list[SliceHeader]) -> tuple[list[SliceHeader], list[str]]:
    """Slices whose size or orientation differs from most of the series (a scout view, a reformat
    saved into the same series) are dropped with a warning; no majority is an error later."""
    groups: dict[tuple[object, ...], list[SliceHeader]] = defaultdict(list)
    for header in headers:
        groups[_geometry_key(header)].append(header)
    if len(groups) == 1:
        return headers, []
    largest = max(groups.values(), key=len)
    if 2 * len(largest) <= len(headers):
        return headers, []
    others = [h for h in headers if _geometry_key(h) != _geometry_key(largest[0])]
    names = _first_names(others)
    warning = (
        f"{len(others)} image(s) with another size or orientation than the other {len(largest)} "
        f"slices of the series skipped: {names}"
    )
    return largest, [warning]


def _check_values(headers: list[SliceHeader]) -> None:
    """Positions, orientations and pixel spacings must be finite, and spacings positive."""
    for header in headers:
        for tag, values in (
            ("ImagePositionPatient", header.position),
            ("ImageOrientationPatient", header.orientation),
            ("PixelSpacing", header.pixel_spacing),
        ):
            if values is not None and not all(math.isfinite(v) for v in values):
                raise InconsistentGeometryError(header.name, f"{tag} {list(values)} holds NaN or infinite values")
        if header.pixel_spacing is not None and min(header.pixel_spacing) <= 0:
            raise InconsistentGeometryError(
                header.name, f"PixelSpacing {list(header.pixel_spacing)} must be positive (mm between pixel centres)"
            )
        if not math.isfinite(header.slope) or not math.isfinite(header.intercept):
            raise InconsistentGeometryError(header.name, "RescaleSlope/RescaleIntercept hold NaN or infinite values")


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
        if (
            header.orientation
            and first.orientation
            and not np.allclose(header.orientation, first.orientation, atol=_ORIENTATION_TOLERANCE)
        ):
            raise InconsistentGeometryError(
                header.name,
                f"ImageOrientationPatient {list(header.orientation)} differs from "
                f"{first.name} {list(first.orientation)}",
            )
        if (
            header.pixel_spacing
            and first.pixel_spacing
            and not np.allclose(header.pixel_spacing, first.pixel_spacing, rtol=_SPACING_TOLERANCE)
        ):
            raise InconsistentGeometryError(
                header.name,
                f"PixelSpacing {list(header.pixel_spacing)} differs from {first.name} {list(first.pixel_spacing)}",
            )


def order_series(headers: list[SliceHeader], label: str) -> OrderedSeries:
    """Order slices by geometry (with fallbacks) and derive spacing and the affine."""
    headers, warnings = _drop_minority_geometry(headers)
    _check_values(headers)
    _check_consistent(headers)
    orientation = _shared_orientation(headers)
    result = order_slices(
        [h.position for h in headers],
        orientation,
        [h.instance_number for h in headers],
        [h.name for h in headers],
    )
    ordered = [headers[i] for i in result.order]
    warnings += list(result.warnings)
    warnings += _treat_zero_slope_as_one(ordered)
    first = ordered[0]
    dy, dx = first.pixel_spacing or (1.0, 1.0)
    if first.pixel_spacing is None:
        warnings.append("PixelSpacing missing: assuming 1 mm pixels")
    dz = _slice_spacing_mm(result, ordered, warnings)
    row_dir: tuple[float, float, float] = (1.0, 0.0, 0.0)
    col_dir: tuple[float, float, float] = (0.0, 1.0, 0.0)
    if orientation is not None:
        row_dir = _unit(orientation[:3])
        col_dir = _unit(orientation[3:6])
    origin = first.position or (0.0, 0.0, 0.0)
    geometry = VolumeGeometry(tuple(origin), row_dir, col_dir, (float(dz), float(dy), float(dx)))  # type: ignore[arg-type]  # positions are 3-tuples
    positions_lps = None
    tilt = None
    if result.method == SLICE_ORDER_POSITION:
        positions_lps = np.array([h.position for h in ordered], dtype=np.float64)
        tilt, tilt_warning = gantry_tilt_shifts(positions_lps, geometry)
        if tilt_warning:
            warnings.append(tilt_warning)
    return OrderedSeries(ordered, geometry, result.method, result.positions_mm, warnings, positions_lps, tilt)


def _shared_orientation(headers: list[SliceHeader]) -> tuple[float, ...] | None:
    """The series' ImageOrientationPatient (None when a slice lacks it); degenerate cosines are refused."""
    if any(h.orientation is None for h in headers):
        return None
    orientation = headers[0].orientation
    assert orientation is not None
    row, column = np.asarray(orientation[:3]), np.asarray(orientation[3:6])
    lengths = np.linalg.norm(row), np.linalg.norm(column)
    if min(lengths) < 1e-3 or np.linalg.norm(np.cross(row, column)) < 1e-3 * lengths[0] * lengths[1]:
        raise InconsistentGeometryError(
            headers[0].name,
            f"degenerate ImageOrientationPatient {list(orientation)}: the row and column directions "
            "must be two different, non-zero directions",
        )
    return orientation


def _treat_zero_slope_as_one(headers: list[SliceHeader]) -> list[str]:
    """RescaleSlope 0 (a writer's bug) would zero the scan: it is taken as 1, with a warning."""
    zero_slope = [h for h in headers if h.slope == 0.0]
    for header in zero_slope:
        header.slope = 1.0
    return (
        [f"RescaleSlope 0 in {len(zero_slope)} slice(s) ({_first_names(zero_slope)}): treated as 1"]
        if zero_slope
        else []
    )


def _slice_spacing_mm(result: SliceOrder, ordered: list[SliceHeader], warnings: list[str]) -> float:
    """The slice spacing: from positions (duplicates counted once), else the header's; warnings appended."""
    first = ordered[0]
    if result.method == SLICE_ORDER_POSITION and result.positions_mm is not None:
        unique = np.ones(len(ordered), dtype=bool)
        for run in duplicate_runs(result.positions_mm):
            unique[run[1:]] = False
        dz, spacing_warnings = slice_spacing(
            result.positions_mm[unique], [h.name for h, u in zip(ordered, unique, strict=False) if u]
        )
        warnings.extend(spacing_warnings)
    else:
        dz = first.spacing_between_slices or first.slice_thickness or 1.0
        warnings.append(f"slice spacing taken from the header ({dz:g} mm), not from positions")
    if dz == 0.0:  # a single slice: thickness is the best guess
        dz = first.slice_thickness or 1.0
    return dz


def _unit(values: tuple[float, ...]) -> tuple[float, float, float]:
    """Direction cosines normalised (some writers round them to a few digits)."""
    vector = np.asarray(values, dtype=np.float64)
    return tuple(float(v) for v in vector / np.linalg.norm(vector))  # type: ignore[return-value]  # a 3-vector


def gantry_tilt_shifts(positions_lps: np.ndarray, geometry: VolumeGeometry) -> tuple[np.ndarray | None, str]:
    """In-plane shift (rows, columns; pixels) of each slice off the line along the normal, and a warning.

    A stack whose positions drift in-plane (gantry tilt) is a sheared grid: its slices are right,
    but a volume built with the normal as slice axis would be off by the drift (53 mm at the last
    slice of a 15° tilt). As dcm2niix and 3D Slicer do, the loader resamples onto an orthogonal grid
    (each slice shifted by its drift) and says so; writers shift masks back onto the source slices.
    None when every slice lies within a tenth of a pixel of the line.
    """
    if len(positions_lps) < 2:
        return None, ""
    _, dy, dx = geometry.spacing_mm
    normal = geometry.normal
    offsets = positions_lps - positions_lps[0]
    along = offsets @ normal
    in_plane = offsets - np.outer(along, normal)
    drift = np.linalg.norm(in_plane, axis=1)
    if float(drift.max()) <= 0.1 * min(dy, dx):
        return None, ""
    rows = in_plane @ np.asarray(geometry.column_direction) / dy
    columns = in_plane @ np.asarray(geometry.row_direction) / dx
    extent = float(along[-1] - along[0]) or 1.0
    angle = float(np.degrees(np.arctan2(float(drift[-1]), abs(extent))))
    warning = (
        f"gantry tilt of {angle:.1f}° (slice positions drift {float(drift.max()):.1f} mm in-plane over "
        f"{abs(extent):.0f} mm): resampled onto an orthogonal grid (each slice shifted in-plane, linear "
        "interpolation); masks are written back onto the source slices"
    )
    return np.stack([rows, columns], axis=1), warning


class SlicesUnreadable(Exception):
    """Slices whose headers were fine but whose pixel data cannot be read (a corrupt compressed slice,
    a file cut short): the loader drops them, orders the rest again and says which (never the whole scan)."""

    def __init__(self, failures: list[tuple[SliceHeader, UnreadableSlice]]) -> None:
        super().__init__(f"{len(failures)} slice(s) unreadable; first: {failures[0][1]}")
        self.failures = failures


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
    check_fits(source.label, (len(headers), first.rows, first.columns))
    volume = np.empty((len(headers), first.rows, first.columns), dtype=np.int16)

    decoded = _decode_multiframe(source, headers, progress, should_cancel)

    def read_one(index: int) -> tuple[int, int]:
        header = headers[index]
        if header.entry in decoded and header.frame is not None:
            stored = decoded[header.entry][header.frame]
        else:
            stored = read_stored_values(source, header)
        header.raw = None  # zip bytes are no longer needed
        out = volume[index]
        clipped = stored_to_hu(stored, header.slope, header.intercept, out)
        if header.padding is None:
            return clipped, 0
        before = int(np.count_nonzero((out == _HU_MIN) | (out == _HU_MAX)))
        padded = padding_to_air(stored, header.padding, out)
        after = int(np.count_nonzero((out == _HU_MIN) | (out == _HU_MAX)))
        return clipped - (before - after), padded  # padding clipped is no clipping: it is air now

    results = run_parallel(list(range(len(headers))), read_one, "reading pixels", progress, should_cancel)
    unreadable = [(headers[i], r) for i, r in enumerate(results) if isinstance(r, UnreadableSlice)]
    if unreadable:
        raise SlicesUnreadable(unreadable)
    clipped = padded = 0
    for result in results:
        if isinstance(result, BaseException):
            raise result
        clipped += result[0]
        padded += result[1]
    if clipped:
        series.warnings.append(f"{clipped} voxels outside the int16 HU range were clipped")
    if padded:
        series.warnings.append(
            f"{padded} voxels of PixelPaddingValue (outside the scanned field of view) set to air ({PADDING_HU} HU)"
        )
    if series.positions_mm is not None:
        volume = _drop_identical_duplicates(volume, series)
    return volume


def _decode_multiframe(
    source: DicomSource,
    headers: list[SliceHeader],
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> dict[str, np.ndarray]:
    """Compressed multi-frame files decoded once each (frames, rows, columns), not once per frame."""
    entries = sorted({h.entry for h in headers if h.frame is not None and h.pixel_offset is None})
    if not entries:
        return {}
    first_of = {h.entry: h for h in reversed(headers) if h.entry in entries}

    def decode(entry: str) -> np.ndarray:
        header = first_of[entry]
        try:
            if header.raw is not None:
                ds = pydicom.dcmread(io.BytesIO(header.raw), force=True)
            else:
                with source.open(entry) as fh:
                    ds = pydicom.dcmread(fh, force=True)
            pixels = ds.pixel_array
        except Exception as exc:  # pydicom raises many types for undecodable pixel data
            raise UnreadableSlice(source.display_name(entry), f"pixel data cannot be decoded ({exc})") from exc
        return pixels.reshape(-1, header.rows, header.columns)

    results = run_parallel(entries, decode, "decoding frames", progress, should_cancel)
    decoded: dict[str, np.ndarray] = {}
    for entry, result in zip(entries, results, strict=False):
        if isinstance(result, BaseException):
            raise result
        decoded[entry] = result
    return decoded


def _drop_identical_duplicates(volume: np.ndarray, series: OrderedSeries) -> np.ndarray:
    runs = duplicate_runs(series.positions_mm)  # type: ignore[arg-type]  # only called when positions exist
    if not runs:
        return volume
    drop: list[int] = []
    for run in runs:
        keep = run[0]
        for other in run[1:]:
            if not np.array_equal(volume[keep], volume[other]):
                a, b = series.headers[keep], series.headers[other]
                position = series.positions_mm[keep]  # type: ignore[index]  # only called when positions exist
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
    series.headers = [h for h, k in zip(series.headers, keep_mask, strict=False) if k]
    series.positions_mm = series.positions_mm[keep_mask]  # type: ignore[index]  # only called when positions exist
    if series.positions_lps is not None:
        series.positions_lps = series.positions_lps[keep_mask]
    if series.tilt_shift_px is not None:
        series.tilt_shift_px = series.tilt_shift_px[keep_mask]
    return volume[keep_mask]
