"""Editing in the coronal and sagittal planes, as a script does: the brush is a disc in mm in that
plane (on 0.7 × 0.7 × 2.5 mm voxels it covers fewer rows of z than columns of x), the HU limit and
the eraser apply the same way, and one stroke is one step in the single, axial-slice history."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from ctseg_core.annotate import editing
from ctseg_core.annotate.events import Event
from ctseg_core.annotate.history import EditHistory
from ctseg_core.annotate.session import LabelSession
from ctseg_core.annotate.tools import Tool
from ctseg_core.metrics import dice

SPACING = (2.5, 0.7, 0.7)  # (dz, dy, dx) mm: thick slices, fine pixels
SHAPE = (24, 48, 64)  # (z, y, x)
CORONAL, SAGITTAL = 1, 2


def _ct() -> np.ndarray:
    """Soft tissue at 60 HU with a 300 HU "bone" slab in the upper z half's right columns."""
    hu = np.full(SHAPE, 60, np.int16)
    hu[12:, :, :20] = 300
    return hu


@pytest.fixture
def session() -> LabelSession:
    session = LabelSession()
    session.set_volume(_ct(), SPACING)
    session.set_tool(Tool.BRUSH)
    return session


def _recorder(event: Event) -> list[tuple[object, ...]]:
    seen: list[tuple[object, ...]] = []
    event.connect(lambda *args: seen.append(args))
    return seen


def _stroke(session: LabelSession, index: int, points: list[tuple[int, int]], axis: int) -> None:
    session.begin_stroke(index, points[0], axis=axis)
    for point in points[1:]:
        session.extend_stroke(point)
    session.end_stroke()


def _coronal_disc(y: int, z: int, x: int, radius_mm: float) -> np.ndarray:
    """Voxels (·, y, ·) within ``radius_mm`` of voxel (z, y, x), measured in mm: written out here, not
    taken from the editing module."""
    zz, xx = np.mgrid[: SHAPE[0], : SHAPE[2]]
    disc = np.zeros(SHAPE, bool)
    disc[:, y, :] = ((zz - z) * SPACING[0]) ** 2 + ((xx - x) * SPACING[2]) ** 2 <= radius_mm**2
    return disc


def test_a_coronal_dab_is_a_disc_in_mm_fewer_rows_of_z_than_columns_of_x(session: LabelSession) -> None:
    session.set_brush_radius(5.0)
    _stroke(session, 20, [(10, 30)], CORONAL)  # coronal slice y = 20, at z = 10, x = 30
    label = session.label
    assert label is not None and np.array_equal(label, _coronal_disc(20, 10, 30, 5.0))
    z, y, x = np.nonzero(label)
    assert set(y) == {20}
    assert (z.min(), z.max()) == (8, 12)  # 5 mm / 2.5 mm: 2 slices either side
    assert (x.min(), x.max()) == (23, 37)  # 5 mm / 0.7 mm: 7 columns either side


def test_a_coronal_stroke_paints_a_band_in_mm_across_axial_slices_as_one_undo_step(session: LabelSession) -> None:
    edited: list[list[int]] = []
    session.label_edited.connect(edited.append)
    committed = _recorder(session.step_committed)
    session.set_brush_radius(4.0)
    start, end = (4, 10), (16, 50)  # (z, x): the stroke climbs 12 axial slices
    _stroke(session, 30, [start, (9, 28), end], CORONAL)
    label = session.label
    assert label is not None and not label[:, :30].any() and not label[:, 31:].any()
    # every voxel of the band lies within the radius (+ half a voxel's diagonal, for the rounded
    # centres) of the drawn path, and every voxel well inside the band is painted
    zz, xx = np.mgrid[: SHAPE[0], : SHAPE[2]]
    points_mm = np.stack([zz * SPACING[0], xx * SPACING[2]], axis=-1)
    path = [np.multiply(p, (SPACING[0], SPACING[2])) for p in (start, (9, 28), end)]
    distance = np.full(zz.shape, np.inf)
    for a, b in itertools.pairwise(path):
        t = np.clip(((points_mm - a) @ (b - a)) / ((b - a) @ (b - a)), 0.0, 1.0)
        distance = np.minimum(distance, np.linalg.norm(points_mm - (a + t[..., None] * (b - a)), axis=-1))
    slack = 0.5 * np.hypot(SPACING[0], SPACING[2])
    band = label[:, 30, :]
    assert band.any() and distance[band].max() <= 4.0 + slack
    assert band[distance <= 4.0 - slack].all()
    touched = sorted({int(z) for z in np.flatnonzero(band.any(axis=1))})
    assert touched == list(range(3, 18))  # z 4 … 16, widened by the disc's 1 slice either side
    assert committed == [("Brush stroke",)] and session.history.undo_description == "Brush stroke"
    assert {z for slices in edited for z in slices} == set(touched)  # every move said which slices
    after = label.copy()
    assert session.undo() == touched  # one step: every axial slice the stroke crossed, nothing else
    assert not label.any() and not session.history.can_undo
    assert session.redo() == touched
    assert np.array_equal(label, after)


def test_the_hu_limit_holds_back_voxels_out_of_range_in_a_coronal_stroke(session: LabelSession) -> None:
    hu = _ct()
    session.set_hu_limit(enabled=True, lo=0, hi=100)
    session.set_brush_radius(10.0)
    _stroke(session, 24, [(8, 10), (16, 30)], CORONAL)  # runs into the 300 HU slab (z ≥ 12, x < 20)
    label = session.label
    assert label is not None
    painted = hu[label]
    assert painted.size and painted.max() <= 100
    unconstrained = np.zeros(SHAPE, bool)
    editing.paint_stroke(unconstrained, 24, [(8, 10), (16, 30)], 10.0, (SPACING[0], SPACING[2]), True, axis=1)
    assert np.array_equal(label, unconstrained & (hu >= 0) & (hu <= 100))
    assert (unconstrained & (hu == 300)).any()  # the limit did hold some voxels back


def test_the_eraser_in_a_sagittal_plane_removes_a_disc_in_mm(session: LabelSession) -> None:
    full = np.ones(SHAPE, bool)
    session.start_label(full, "liver", "test label")
    session.set_tool(Tool.ERASER)
    session.set_brush_radius(5.0)
    _stroke(session, 40, [(10, 20)], SAGITTAL)  # sagittal slice x = 40, at z = 10, y = 20
    zz, yy = np.mgrid[: SHAPE[0], : SHAPE[1]]
    erased = np.zeros(SHAPE, bool)
    erased[:, :, 40] = ((zz - 10) * SPACING[0]) ** 2 + ((yy - 20) * SPACING[1]) ** 2 <= 25.0
    assert session.label is not None and np.array_equal(session.label, ~erased)
    assert session.history.undo_description == "Eraser stroke"
    assert session.undo() == [8, 9, 10, 11, 12] and session.label.all()


def test_an_axial_and_a_coronal_stroke_share_one_history_and_undo_in_order(session: LabelSession) -> None:
    _stroke(session, 10, [(20, 20), (20, 40)], axis=0)
    label = session.label
    assert label is not None
    after_axial = label.copy()
    _stroke(session, 30, [(6, 30), (14, 30)], CORONAL)  # crosses axial slice 10 beside the first stroke
    assert session.history.changes_since_save == 2
    crossed = sorted({int(z) for z in np.flatnonzero((label != after_axial).any(axis=(1, 2)))})
    assert 10 in crossed and len(crossed) > 5
    assert session.undo() == crossed
    assert np.array_equal(label, after_axial)  # the axial stroke's voxels on slice 10 are untouched
    assert session.undo() == [10] and not label.any()


def test_a_coronal_stroke_records_only_the_axial_slices_it_reaches() -> None:
    """Memory: a 3 mm dab on a 200-slice volume snapshots 3 slices, never the volume."""
    big = LabelSession()
    big.set_volume(np.zeros((200, 128, 128), np.int16), SPACING)
    big.set_tool(Tool.BRUSH)
    big.set_brush_radius(3.0)
    big.begin_stroke(64, (100, 64), axis=CORONAL)
    pending = big.history._pending
    assert pending is not None and sorted(pending.recorded) == [99, 100, 101]
    big.extend_stroke((104, 64))
    assert sorted(pending.recorded) == list(range(99, 106))
    big.end_stroke()
    assert big.history.nbytes < 2_000  # 7 small boxes, bit-packed


def test_a_stroke_beyond_the_volume_in_z_paints_nothing_and_stores_no_step(session: LabelSession) -> None:
    _stroke(session, 20, [(-9, 30), (-6, 40)], CORONAL)
    assert session.label is not None and not session.label.any()
    assert not session.history.can_undo
    _stroke(session, 20, [(-9, 30), (1, 30)], CORONAL)  # comes in from below: paints near z = 0
    assert session.label[:2, 20].any() and session.history.can_undo


def test_flood_fill_in_a_sagittal_plane_fills_the_connected_region_in_that_plane(session: LabelSession) -> None:
    hu = np.full(SHAPE, -800, np.int16)
    hu[3:10, 5:30, 10:50] = 60  # one block, seen as a rectangle in every sagittal slice through it
    hu[14:20, 5:30, 10:50] = 60  # a second block, apart along z: not connected in the plane
    hu[6, 12, 30] = 400  # a bright speck outside the HU range, inside the seed's rectangle
    session.set_volume(hu, SPACING)
    session.set_hu_limit(lo=0, hi=100)
    added = session.flood_fill(30, (5, 15), axis=SAGITTAL)  # sagittal slice x = 30, seed z = 5, y = 15
    plane = (hu[:, :, 30] >= 0) & (hu[:, :, 30] <= 100)
    components, _ = ndimage.label(plane)
    expected = np.zeros(SHAPE, bool)
    expected[:, :, 30] = components == components[5, 15]
    assert session.label is not None and np.array_equal(session.label, expected)
    assert added == expected.sum() == 7 * 25 - 1  # the speck stays out
    assert session.history.undo_description == "Flood fill"
    assert session.undo() == list(range(3, 10)) and not session.label.any()
    assert session.redo() == list(range(3, 10)) and np.array_equal(session.label, expected)


def test_flood_fill_outside_the_range_in_a_coronal_plane_says_why(session: LabelSession) -> None:
    notices = _recorder(session.notice)
    session.set_hu_limit(lo=0, hi=100)
    assert session.flood_fill(10, (20, 5), axis=CORONAL) == 0  # z = 20, x = 5: the 300 HU slab
    assert notices == [("Flood fill changed nothing: the seed is 300 HU, outside 0 … 100 HU",)]
    assert session.flood_fill(10, (30, 5), axis=CORONAL) == 0  # z = 30 lies beyond the 24 slices
    assert notices[-1] == ("Flood fill: click inside the image",)
    assert not session.history.can_undo


def test_fill_holes_in_a_coronal_plane_fills_what_the_label_encloses_there(session: LabelSession) -> None:
    ring = np.zeros(SHAPE, bool)
    ring[4:14, 25, 10:30] = True
    ring[6:12, 25, 14:26] = False  # a hole closed in the coronal plane, open in every axial slice
    session.start_label(ring, "liver", "test label")
    assert session.fill_holes(6, axis=0) == 0  # an axial slice sees a line with a gap, no hole
    assert session.fill_holes(25, axis=CORONAL) == 6 * 12
    filled = ring.copy()
    filled[4:14, 25, 10:30] = True
    assert session.label is not None and np.array_equal(session.label, filled)
    assert session.undo() == list(range(6, 12)) and np.array_equal(session.label, ring)


def test_live_dice_follows_a_coronal_stroke(session: LabelSession) -> None:
    reference = np.zeros(SHAPE, bool)
    reference[5:15, 10:30, 20:40] = True
    session.set_references({"gt": reference})
    session.start_label(reference, "liver", "Start from ground truth")
    session.set_tool(Tool.ERASER)
    _stroke(session, 20, [(6, 22), (13, 38)], CORONAL)
    label = session.label
    assert label is not None
    live = session.dice("gt", 9)
    assert live.volume == pytest.approx(dice(label, reference)) and live.volume < 1.0
    assert live.slice == pytest.approx(dice(label[9], reference[9])) and live.slice < 1.0
    session.undo()
    assert session.dice("gt", 9).volume == 1.0


def test_a_slice_outside_the_volume_or_a_fourth_axis_is_refused(session: LabelSession) -> None:
    with pytest.raises(IndexError):
        session.begin_stroke(SHAPE[1], (3, 3), axis=CORONAL)
    with pytest.raises(ValueError, match="axis"):
        session.flood_fill(0, (3, 3), axis=3)
    assert not session.stroking


def test_history_include_snapshots_each_slice_once_before_it_changes() -> None:
    label = np.zeros((6, 8, 8), bool)
    label[2, 1, 1] = True
    start = label.copy()
    history = EditHistory()
    history.record(label, [], "growing edit")
    history.include(label, [2])
    label[2] = True
    history.include(label, [3, 2])  # 2 keeps its state from before the edit
    label[3, 4, 4] = True
    history.include(label, [5])  # reached but left unchanged: not stored
    assert history.commit(label) == [2, 3]
    after = label.copy()
    assert history.undo(label) == [2, 3] and np.array_equal(label, start)
    assert history.redo(label) == [2, 3] and np.array_equal(label, after)
    history.record(label, [], "rolled back")
    history.include(label, [0, 1])
    label[:2] = True
    history.abort(label)
    assert np.array_equal(label, after)
    with pytest.raises(RuntimeError, match="no open edit"):
        history.include(label, [0])


def test_history_include_with_a_box_keeps_and_restores_only_that_part_of_each_slice() -> None:
    rng = np.random.default_rng(4)
    label = rng.random((10, 16, 20)) < 0.3
    start = label.copy()
    history = EditHistory()
    history.record(label, [], "coronal stroke")
    history.include(label, [2, 3, 4], box=(7, 8, 0, 20))  # the row y = 7 of three axial slices
    label[2:5, 7, 3:9] = True
    label[3, 7, 15] = False
    history.include(label, [4, 5], box=(7, 8, 0, 20))  # 4 was recorded: kept as first recorded
    label[5, 7, :] = ~label[5, 7, :]
    changed = sorted({int(z) for z in np.flatnonzero((label != start).any(axis=(1, 2)))})
    assert history.commit(label) == changed
    assert history.nbytes < 1_000
    after = label.copy()
    assert history.undo(label) == changed and np.array_equal(label, start)
    assert history.redo(label) == changed and np.array_equal(label, after)
    history.record(label, [], "rolled back")
    history.include(label, [0, 9], box=(0, 16, 4, 5))  # a sagittal column
    label[[0, 9], :, 4] = True
    history.abort(label)
    assert np.array_equal(label, after)
    history.record(label, [], "bad box")
    with pytest.raises(ValueError, match="box"):
        history.include(label, [1], box=(15, 17, 0, 20))
