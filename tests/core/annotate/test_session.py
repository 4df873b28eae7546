"""Editing a label as a script does, without Qt: paint, erase, fill, volume tools, undo/redo, live Dice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctseg_core.annotate import editing
from ctseg_core.annotate.events import Event
from ctseg_core.annotate.session import LabelSession
from ctseg_core.annotate.tools import DEFAULT_BRUSH_MM, HuLimit, Tool, island_min_voxels
from ctseg_core.annotate.volume_tools import VolumeTool
from ctseg_core.errors import Cancelled
from ctseg_core.metrics import dice

SPACING = (2.5, 0.8, 0.8)
SHAPE = (6, 64, 64)


def _ct() -> np.ndarray:
    """Air with a 60 HU "liver" disc on every slice and a 200 HU "vessel" stripe through it."""
    yy, xx = np.mgrid[: SHAPE[1], : SHAPE[2]]
    hu = np.full(SHAPE, -1000, np.int16)
    hu[:, (yy - 32) ** 2 + (xx - 32) ** 2 < 20**2] = 60
    hu[:, 30:34, 10:54] = 200
    return hu


def _reference() -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[1], : SHAPE[2]]
    reference = np.zeros(SHAPE, bool)
    reference[1:5, (yy - 32) ** 2 + (xx - 32) ** 2 < 18**2] = True
    return reference


@pytest.fixture
def session() -> LabelSession:
    session = LabelSession()
    session.set_volume(_ct(), SPACING)
    session.set_references({"gt": _reference(), "prediction": None})
    return session


def _stroke(session: LabelSession, z: int, points: list[tuple[int, int]]) -> None:
    session.begin_stroke(z, points[0])
    for point in points[1:]:
        session.extend_stroke(point)
    session.end_stroke()


def _recorder(event: Event) -> list[tuple[object, ...]]:
    seen: list[tuple[object, ...]] = []
    event.connect(lambda *args: seen.append(args))
    return seen


def test_a_brush_stroke_paints_the_core_stroke_as_one_undo_step(session: LabelSession) -> None:
    edited, committed = _recorder(session.label_edited), _recorder(session.step_committed)
    session.set_tool(Tool.BRUSH)
    points = [(20, 20), (24, 30), (40, 41)]
    _stroke(session, 2, points)
    expected = np.zeros(SHAPE, bool)
    editing.paint_stroke(expected, 2, points, DEFAULT_BRUSH_MM, SPACING[1:], True)
    assert session.label is not None and np.array_equal(session.label, expected)
    assert edited == [([2],)] * len(points) and committed == [("Brush stroke",)]
    assert session.history.undo_description == "Brush stroke"
    assert session.is_modified and session.unsaved_edits == 1
    assert session.volume_ml() == pytest.approx(expected.sum() * math.prod(SPACING) / 1000.0)


def test_the_eraser_removes_from_a_copy_of_the_reference_and_undo_brings_it_back(session: LabelSession) -> None:
    reference = _reference()
    session.start_label(reference, "liver", "Start from ground truth")
    assert session.label is not reference and not session.is_modified
    session.set_tool(Tool.ERASER)
    _stroke(session, 3, [(32, 20), (32, 44)])
    expected = reference.copy()
    editing.paint_stroke(expected, 3, [(32, 20), (32, 44)], DEFAULT_BRUSH_MM, SPACING[1:], False)
    assert np.array_equal(session.label, expected) and expected.sum() < reference.sum()
    assert session.history.undo_description == "Eraser stroke"
    assert session.undo() == [3]
    assert np.array_equal(session.label, reference) and not session.is_modified


def test_undo_and_redo_restore_the_exact_state_after_each_stroke(session: LabelSession) -> None:
    rng = np.random.default_rng(2)
    states = [np.zeros(SHAPE, bool)]
    for i in range(12):
        session.set_tool(Tool.ERASER if i % 4 == 3 else Tool.BRUSH)
        start = rng.integers(8, 56, size=2)
        points = [(int(y), int(x)) for y, x in (start, start + rng.integers(-6, 7, size=2))]
        _stroke(session, int(rng.integers(0, SHAPE[0])), points)
        assert session.label is not None
        if session.history.changes_since_save > len(states) - 1:
            states.append(session.label.copy())
    assert session.history.changes_since_save == len(states) - 1 > 8
    for i in range(len(states) - 1, 0, -1):
        assert session.undo() is not None
        assert np.array_equal(session.label, states[i - 1]), i
    assert session.undo() is None and not session.is_modified
    for i in range(1, len(states)):
        assert session.redo() is not None
        assert np.array_equal(session.label, states[i]), i
    assert session.redo() is None


def test_live_dice_follows_a_stroke_on_the_slice_and_the_volume(session: LabelSession) -> None:
    reference = _reference()
    session.start_label(reference, "liver", "Start from ground truth")
    assert session.dice("gt", 2).slice == 1.0 and session.dice("gt", 2).volume == 1.0
    assert math.isnan(session.dice("prediction", 2).volume)  # no prediction given
    assert math.isnan(session.dice("gt", 0).slice)  # both empty there: undefined, never 0 or 1
    session.set_tool(Tool.ERASER)
    _stroke(session, 2, [(32, 14), (32, 50)])
    assert session.label is not None
    live = session.dice("gt", 2)
    assert live.slice == pytest.approx(dice(session.label[2], reference[2])) and live.slice < 1.0
    assert session.dice("gt", 2).volume == pytest.approx(dice(session.label, reference))
    assert session.dice("gt", 3).slice == 1.0  # an untouched slice


def test_the_hu_limited_brush_paints_only_voxels_in_range(session: LabelSession) -> None:
    hu = _ct()
    session.set_hu_limit(enabled=True, lo=40, hi=90)
    assert session.hu_limit == HuLimit(True, 40, 90)
    session.set_brush_radius(12.0)
    session.set_tool(Tool.BRUSH)
    _stroke(session, 1, [(32, 22), (32, 42)])
    assert session.label is not None
    painted = hu[1][session.label[1]]
    assert painted.size and painted.min() >= 40 and painted.max() <= 90  # not the 200 HU vessel, not air
    unconstrained = np.zeros(SHAPE, bool)
    editing.paint_stroke(unconstrained, 1, [(32, 22), (32, 42)], 12.0, SPACING[1:], True)
    assert unconstrained.sum() > session.label.sum()


def test_flood_fill_fills_the_region_in_range_or_says_why_it_did_not(session: LabelSession) -> None:
    notices = _recorder(session.notice)
    session.set_hu_limit(lo=30, hi=100)
    added = session.flood_fill(4, (20, 32))
    expected = np.zeros(SHAPE, bool)
    assert added == editing.flood_fill_2d(expected, 4, (20, 32), _ct(), (30, 100)) > 500
    assert np.array_equal(session.label, expected) and notices == []
    assert session.flood_fill(4, (2, 2)) == 0
    assert notices == [("Flood fill changed nothing: the seed is -1000 HU, outside 30 … 100 HU",)]
    assert session.history.undo_description == "Flood fill"  # the refused fill stored nothing


def test_brush_sizes_step_and_clamp(session: LabelSession) -> None:
    sizes = _recorder(session.brush_changed)
    session.step_brush(1)
    session.step_brush(-1)
    session.step_brush(-1)
    session.set_brush_radius(500.0)
    session.set_brush_radius(500.0)
    assert sizes == [(6.0,), (5.0,), (4.0,), (50.0,)]


def test_island_size_in_ml_becomes_voxels_on_any_spacing() -> None:
    assert island_min_voxels(1.0, (1.0, 1.0, 1.0)) == 1000
    assert island_min_voxels(1.0, (2.5, 0.8, 0.8)) == 625
    assert island_min_voxels(0.05, (2.0, 0.7, 0.7)) == math.ceil(50 / 0.98)
    assert island_min_voxels(1e-6, (1.0, 1.0, 1.0)) == 1  # never zero: a piece always has a voxel


@pytest.mark.parametrize("tool", list(VolumeTool), ids=lambda t: t.name)
def test_a_volume_tool_runs_in_three_parts_and_is_one_undo_step(session: LabelSession, tool: VolumeTool) -> None:
    label = np.zeros(SHAPE, bool)
    label[1, 20:40, 20:40] = True
    label[4, 24:44, 22:42] = True
    label[2, 60:62, 60:62] = True  # 4 voxels ≈ 0.0064 mL: an island
    session.start_label(label, "liver", "test label")
    session.set_min_island_ml(0.05)
    expected = label.copy()
    if tool is VolumeTool.INTERPOLATE:
        editing.interpolate_all(expected, SPACING[1:])
    elif tool is VolumeTool.REMOVE_ISLANDS:
        editing.remove_small_islands(expected, island_min_voxels(0.05, SPACING))
    else:
        editing.keep_largest_component(expected)
    pending = session.begin_volume_edit(tool)
    assert pending is not None and session.volume_edit is pending
    edit = pending.run()
    assert np.array_equal(session.label, label)  # the slow part worked on a copy
    assert session.finish_volume_edit(pending, edit) == edit.changed != []
    assert np.array_equal(session.label, expected) and session.volume_edit is None
    assert session.history.undo_description == tool.value
    session.undo()
    assert np.array_equal(session.label, label)


def test_the_label_takes_no_other_edit_while_a_volume_tool_is_pending(session: LabelSession) -> None:
    notices = _recorder(session.notice)
    session.start_label(_reference(), "liver", "Start from ground truth")
    pending = session.begin_volume_edit(VolumeTool.KEEP_LARGEST)
    assert pending is not None
    session.set_tool(Tool.BRUSH)
    _stroke(session, 0, [(5, 5), (9, 9)])
    assert session.undo() is None and session.begin_volume_edit(VolumeTool.INTERPOLATE) is None
    assert np.array_equal(session.label, _reference())
    assert notices and all(
        n == ("Keep largest component is still running: the label takes other edits once it is done",) for n in notices
    )
    with pytest.raises(Cancelled):
        pending.run(should_cancel=lambda: True)
    session.cancel_volume_edit(pending)
    _stroke(session, 0, [(5, 5), (9, 9)])
    assert session.label is not None and session.label[0].any()


def test_a_result_for_a_label_that_is_gone_is_ignored(session: LabelSession) -> None:
    session.start_label(_reference(), "liver", "Start from ground truth")
    pending = session.begin_volume_edit(VolumeTool.KEEP_LARGEST)
    assert pending is not None
    edit = pending.run()
    session.start_label(None, "liver", "New empty label")  # replaces the label: drops the pending edit
    assert session.volume_edit is None
    assert session.finish_volume_edit(pending, edit) is None
    assert session.label is not None and not session.label.any()


def test_starting_over_is_undoable_and_an_accepted_mask_counts_as_unsaved(session: LabelSession) -> None:
    reference = _reference()
    session.start_label(reference, "liver", "Start from ground truth")
    session.start_label(None, "liver", "New empty label")
    assert session.label is not None and not session.label.any() and session.is_modified
    session.undo()
    assert np.array_equal(session.label, reference) and not session.is_modified
    accepted = LabelSession()
    accepted.set_volume(_ct(), SPACING)
    accepted.start_label(reference, "liver", "Accept prediction", modified=True)
    assert accepted.is_modified and accepted.history.undo_description == "Accept prediction"


def test_a_save_counts_only_for_the_revision_it_wrote(session: LabelSession) -> None:
    session.set_tool(Tool.BRUSH)
    _stroke(session, 1, [(10, 10)])
    written = session.revision
    _stroke(session, 2, [(20, 20)])
    assert not session.mark_saved(written)  # edited meanwhile: still modified
    assert session.is_modified
    assert session.mark_saved(session.revision) and not session.is_modified


def test_a_new_volume_drops_the_label_its_history_and_references(session: LabelSession) -> None:
    changed = _recorder(session.label_changed)
    session.start_label(_reference(), "liver", "Start from ground truth")
    session.set_volume(np.zeros((3, 8, 8), np.int16), (1.0, 1.0, 1.0))
    assert session.label is None and not session.history.can_undo and len(changed) == 2
    assert session.ensure_label() and session.label is not None and session.label.shape == (3, 8, 8)
    assert math.isnan(session.dice("gt", 0).volume)
    without = LabelSession()
    assert not without.ensure_label() and without.label is None  # nothing to edit without a CT
    with pytest.raises(ValueError, match="differs from the CT"):
        session.start_label(np.zeros((2, 8, 8), bool), "liver", "wrong shape")


def test_events_call_their_callbacks_in_order_until_disconnected() -> None:
    event: Event[[int]] = Event()
    calls: list[tuple[str, int]] = []

    def first(value: int) -> None:
        calls.append(("first", value))

    event.connect(first)
    event.connect(lambda value: calls.append(("second", value)))
    event.emit(1)
    event.disconnect(first)
    event.emit(2)
    assert calls == [("first", 1), ("second", 1), ("second", 2)]
