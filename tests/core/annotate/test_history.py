"""Undo/redo: exact states back after many edits, memory bounded by what changed, the saved marker."""

from __future__ import annotations

import numpy as np
import pytest

from ctseg_core.annotate.editing import paint_stroke, remove_small_islands
from ctseg_core.annotate.history import EditHistory


def _random_stroke(rng: np.random.Generator, label: np.ndarray, history: EditHistory) -> None:
    """One user stroke on a random slice: paint or erase through a few random points."""
    z = int(rng.integers(label.shape[0]))
    points = [tuple(rng.uniform(0, label.shape[1], size=2)) for _ in range(int(rng.integers(1, 5)))]
    with history.step(label, "paint", [z]):
        paint_stroke(label, z, points, float(rng.uniform(1, 8)), (0.8, 0.8), bool(rng.random() < 0.7))


def test_150_strokes_undo_to_the_exact_start_and_redo_to_the_exact_end() -> None:
    rng = np.random.default_rng(0)
    label = rng.random((12, 96, 96)) < 0.05
    start = label.copy()
    history = EditHistory()
    for _ in range(150):
        _random_stroke(rng, label, history)
    end = label.copy()
    undone = 0
    while history.can_undo:
        assert history.undo(label) is not None
        undone += 1
    assert undone > 140  # a stroke may change nothing (erasing where nothing is): no step
    np.testing.assert_array_equal(label, start)
    assert history.undo(label) is None
    while history.can_redo:
        history.redo(label)
    np.testing.assert_array_equal(label, end)
    assert history.redo(label) is None


def test_memory_of_150_one_slice_strokes_on_a_large_volume_stays_small() -> None:
    rng = np.random.default_rng(1)
    label = np.zeros((100, 512, 512), dtype=bool)
    label[30:70, 100:400, 120:380] = True
    history = EditHistory()
    for _ in range(150):
        _random_stroke(rng, label, history)
    assert history.can_undo
    assert history.nbytes < 10 * 2**20
    assert history.nbytes < 150 * 512 * 512 // 8 // 4  # far below even packed copies of the slices


def test_undo_and_redo_report_the_slices_they_changed() -> None:
    label = np.zeros((5, 20, 20), dtype=bool)
    history = EditHistory()
    history.record(label, [1, 3], "two slices")
    label[1, 2:4, 2:4] = True
    label[3, 5, 5] = True
    assert history.commit(label) == [1, 3]
    assert history.undo_description == "two slices"
    assert history.undo(label) == [1, 3]
    assert not label.any()
    assert history.redo_description == "two slices"
    assert history.redo(label) == [1, 3]
    assert label.sum() == 5


def test_an_edit_that_changes_nothing_is_not_a_step() -> None:
    label = np.ones((2, 8, 8), dtype=bool)
    history = EditHistory()
    with history.step(label, "paint", [0]):
        label[0, 3, 3] = True
    assert not history.can_undo
    assert not history.is_modified


def test_a_new_edit_clears_redo() -> None:
    label = np.zeros((2, 8, 8), dtype=bool)
    history = EditHistory()
    for value in (1, 2):
        with history.step(label, f"edit {value}", [0]):
            label[0, value, value] = True
    history.undo(label)
    assert history.can_redo
    with history.step(label, "edit 3", [1]):
        label[1, 0, 0] = True
    assert not history.can_redo
    assert history.redo(label) is None


def test_oldest_steps_are_dropped_beyond_max_steps() -> None:
    label = np.zeros((1, 10, 10), dtype=bool)
    history = EditHistory(max_steps=5)
    states = [label.copy()]
    for i in range(8):
        with history.step(label, "paint", [0]):
            label[0, i, i] = True
        states.append(label.copy())
    while history.can_undo:
        history.undo(label)
    np.testing.assert_array_equal(label, states[3])


def test_memory_limit_drops_oldest_steps_but_keeps_the_newest() -> None:
    rng = np.random.default_rng(2)
    label = np.zeros((4, 256, 256), dtype=bool)
    history = EditHistory(max_bytes=100_000)
    states = [label.copy()]
    for _ in range(10):
        with history.step(label, "noise", [0]):
            label[0] = rng.random((256, 256)) < 0.5  # incompressible: 2 × 8 kB per step
        states.append(label.copy())
    assert history.nbytes <= 100_000
    undone = 0
    while history.undo(label) is not None:
        undone += 1
    assert 1 <= undone < 10
    np.testing.assert_array_equal(label, states[10 - undone])
    huge = EditHistory(max_bytes=1_000)  # smaller than one step: the newest step is still kept
    with huge.step(label, "noise", [1]):
        label[1] = rng.random((256, 256)) < 0.5
    assert huge.undo(label) == [1] and not label[1].any()


def test_volume_edit_without_slice_list_stores_only_changed_slices() -> None:
    label = np.zeros((40, 64, 64), dtype=bool)
    label[5:30, 10:50, 10:50] = True
    label[35, 3, 3] = True
    label[37, 60, 60] = True
    before = label.copy()
    history = EditHistory()
    history.record(label, None, "remove islands")
    removed = remove_small_islands(label, min_voxels=10)
    assert history.commit(label) == removed == [35, 37]
    assert history.nbytes < 1_000
    history.undo(label)
    np.testing.assert_array_equal(label, before)


def test_failed_edit_is_rolled_back_and_not_stored() -> None:
    label = np.zeros((3, 8, 8), dtype=bool)
    history = EditHistory()
    with pytest.raises(ZeroDivisionError), history.step(label, "broken", [1]):
        label[1] = True
        1 / 0  # noqa: B018
    assert not label.any()
    assert not history.can_undo


def test_undo_while_an_edit_is_open_is_refused() -> None:
    label = np.zeros((2, 4, 4), dtype=bool)
    history = EditHistory()
    history.record(label, [0], "stroke")
    with pytest.raises(RuntimeError, match="still open"):
        history.undo(label)
    with pytest.raises(RuntimeError, match="still open"):
        history.record(label, [1], "another")
    history.abort(label)
    with pytest.raises(RuntimeError, match="no open edit"):
        history.commit(label)


def test_modified_marker_follows_undo_redo_and_save() -> None:
    label = np.zeros((1, 8, 8), dtype=bool)
    history = EditHistory()

    def edit(i: int) -> None:
        with history.step(label, "paint", [0]):
            label[0, i, 0] = not label[0, i, 0]

    assert history.changes_since_save == 0
    edit(0)
    edit(1)
    assert history.changes_since_save == 2 and history.is_modified
    history.mark_saved()
    assert not history.is_modified
    history.undo(label)
    assert history.changes_since_save == 1
    history.redo(label)
    assert not history.is_modified  # back at the saved state
    history.undo(label)
    history.undo(label)
    edit(5)  # the saved state is now off the undo/redo line: 2 undos + 1 new edit away
    assert history.changes_since_save == 3
    history.undo(label)
    assert history.changes_since_save == 2 and history.is_modified
    history.clear()
    assert not history.is_modified and not history.can_undo
