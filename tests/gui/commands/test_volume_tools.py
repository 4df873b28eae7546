"""The volume tools (interpolate, remove islands, keep largest) run on a worker: the result is the
core's, undo restores the exact label, the window keeps running, and nothing else edits meanwhile."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from pytestqt.qtbot import QtBot

from ctseg_core.annotate import editing
from ctseg_core.annotate.volume_tools import VolumeTool
from ctseg_core.metrics import dice, format_metric
from ctseg_gui.main_window import MainWindow
from gui.annotating import drag, key, run_volume_tool, zoom_on
from gui.conftest import OpenIn, event_loop_gaps

CORE_FUNCTIONS = {
    VolumeTool.INTERPOLATE: "interpolate_all",
    VolumeTool.REMOVE_ISLANDS: "remove_small_islands",
    VolumeTool.KEEP_LARGEST: "keep_largest_component",
}
ISLAND_ML = 0.05


def _action(window: MainWindow, tool: VolumeTool) -> QAction:
    actions = window.annotator.actions
    return {
        VolumeTool.INTERPOLATE: actions.interpolate,
        VolumeTool.REMOVE_ISLANDS: actions.remove_islands,
        VolumeTool.KEEP_LARGEST: actions.keep_largest,
    }[tool]


def _edit_actions(window: MainWindow) -> list[QAction]:
    actions = window.annotator.actions
    return [actions.fill_holes, actions.interpolate, actions.remove_islands, actions.keep_largest, actions.undo]


def _start_gappy_label(window: MainWindow) -> np.ndarray:
    """A label the three tools all change: discs on slices 2 and 7 with empty slices between, a
    4-voxel dot on slice 4 and a smaller disc on slice 9; the label as started."""
    shape = window.state.patient.shape
    yy, xx = np.mgrid[: shape[1], : shape[2]]
    label = np.zeros(shape, bool)
    label[2] = (yy - 250) ** 2 + (xx - 250) ** 2 < 30**2
    label[7] = (yy - 260) ** 2 + (xx - 265) ** 2 < 35**2
    label[9] = (yy - 100) ** 2 + (xx - 100) ** 2 < 8**2
    label[4, 400:402, 400:402] = True
    window.editor.start_label(label, "liver", "test label")
    window.edit_panel.island_ml.setValue(ISLAND_ML)
    return label


def _core_result(window: MainWindow, tool: VolumeTool, label: np.ndarray) -> np.ndarray:
    """What the core function makes of ``label``, called directly with the settings the window uses."""
    expected = label.copy()
    dz, dy, dx = window.state.patient.spacing_mm
    if tool is VolumeTool.INTERPOLATE:
        editing.interpolate_all(expected, (dy, dx))
    elif tool is VolumeTool.REMOVE_ISLANDS:
        editing.remove_small_islands(expected, max(1, math.ceil(ISLAND_ML * 1000.0 / (dz * dy * dx))))
    else:
        editing.keep_largest_component(expected)
    return expected


def _shown(window: MainWindow, z: int, y: int, x: int) -> bool:
    """The label layer draws voxel (y, x) of slice z (made the slice shown)."""
    window.state.set_slice(z)
    return bool(window.axial_view.label_item.image[y, x, 3] > 0)


@pytest.fixture
def held_core(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The core's volume tools wait (off the GIL) until the event is set; set at teardown."""
    release = threading.Event()

    def held(real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            release.wait(20)
            return real(*args)

        return run

    for name in CORE_FUNCTIONS.values():
        monkeypatch.setattr(editing, name, held(getattr(editing, name)))
    yield release
    release.set()


@pytest.mark.parametrize("tool", list(VolumeTool), ids=lambda t: t.name)
def test_a_volume_tool_writes_the_core_result_from_a_worker_and_undoes_exactly(
    qtbot: QtBot, opened: MainWindow, tool: VolumeTool, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor, state, panel = opened.editor, opened.state, opened.edit_panel
    opened.annotator.actions.from_gt.trigger()  # a history to undo back to
    label = _start_gappy_label(opened)
    expected = _core_result(opened, tool, label)
    changed = np.flatnonzero((expected != label).any(axis=(1, 2)))
    assert changed.size  # the label is built so that each tool changes it
    threads: list[threading.Thread] = []
    real = getattr(editing, CORE_FUNCTIONS[tool])

    def recorded(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(editing, CORE_FUNCTIONS[tool], recorded)
    run_volume_tool(qtbot, opened, _action(opened, tool).trigger)

    assert threads and threads[0] is not threading.main_thread()
    assert np.array_equal(editor.label, expected)
    assert editor.history.undo_description == tool.value and editor.volume_edit is None
    assert all(action.isEnabled() for action in _edit_actions(opened))
    assert not opened.job_status.progress.isVisible()
    assert panel.dice["gt", "volume"].text() == format_metric(dice(editor.label, state.gt))
    z = int(changed[0])
    y, x = (int(v[0]) for v in np.nonzero(expected[z] != label[z]))
    assert _shown(opened, z, y, x) == bool(expected[z, y, x])  # the label layer follows
    assert panel.dice["gt", "slice"].text() == format_metric(dice(editor.label[z], state.gt[z]))

    key(opened, "Ctrl+Z")
    assert np.array_equal(editor.label, label)
    assert _shown(opened, z, y, x) == bool(label[z, y, x])
    key(opened, "Ctrl+Y")
    assert np.array_equal(editor.label, expected)


def test_the_event_loop_keeps_running_while_a_volume_tool_works(
    qtbot: QtBot, opened: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow interpolation (0.8 s of Python holding the GIL in turns, as a big scan's would) on the worker."""
    real = editing.interpolate_all

    def slow(label: np.ndarray, *args: Any) -> Any:
        deadline = time.perf_counter() + 0.8
        while time.perf_counter() < deadline:
            sum(range(2000))
        return real(label, *args)

    monkeypatch.setattr(editing, "interpolate_all", slow)
    label = _start_gappy_label(opened)
    with event_loop_gaps() as gaps:
        run_volume_tool(qtbot, opened, lambda: key(opened, "I"))
    assert np.array_equal(opened.editor.label, _core_result(opened, VolumeTool.INTERPOLATE, label))
    assert len(gaps) > 20 and max(gaps) < 0.1, f"longest gap {max(gaps) * 1000:.0f} ms"


def test_the_label_takes_no_other_edit_while_a_volume_tool_runs(
    qtbot: QtBot, opened: MainWindow, held_core: threading.Event
) -> None:
    editor = opened.editor
    label = _start_gappy_label(opened)
    key(opened, "I")
    assert opened.runner.running("edit") and editor.volume_edit is not None
    assert opened.job_status.stage.isVisible() and opened.job_status.stage.text() == "interpolating"
    assert opened.job_status.progress.isVisible() and opened.job_status.progress.maximum() == 0  # busy
    assert opened.job_status.cancel.isVisible()
    assert not any(action.isEnabled() for action in _edit_actions(opened))
    assert not opened.edit_panel.undo_button.isEnabled()

    key(opened, "B")
    opened.state.set_slice(5)
    zoom_on(opened, 250, 250)
    drag(opened, [(215, 215), (225, 220)])
    assert np.array_equal(editor.label, label)
    assert opened.statusBar().currentMessage().startswith("Interpolate is still running")

    held_core.set()
    qtbot.waitUntil(lambda: editor.volume_edit is None, timeout=20_000)
    assert np.array_equal(editor.label, _core_result(opened, VolumeTool.INTERPOLATE, label))
    assert all(action.isEnabled() for action in _edit_actions(opened))
    assert not opened.job_status.stage.isVisible()
    assert editor.history.undo_description == "Interpolate"  # the refused stroke stored nothing
    key(opened, "Ctrl+Z")
    assert np.array_equal(editor.label, label)


def test_cancel_in_the_status_bar_leaves_the_label_as_it_was(
    qtbot: QtBot, opened: MainWindow, held_core: threading.Event
) -> None:
    editor = opened.editor
    label = _start_gappy_label(opened)
    _action(opened, VolumeTool.KEEP_LARGEST).trigger()
    job = opened.runner._current["edit"]
    qtbot.mouseClick(opened.job_status.cancel, Qt.MouseButton.LeftButton)
    assert job.cancelled and editor.volume_edit is None
    assert all(action.isEnabled() for action in _edit_actions(opened)[:-1])
    assert not opened.job_status.stage.isVisible()
    held_core.set()
    assert job.wait(20_000)
    qtbot.wait(50)  # its result, queued to the GUI thread, is ignored
    assert np.array_equal(editor.label, label) and not editor.history.can_undo


def test_a_new_label_or_another_patient_drops_a_running_volume_tool(
    qtbot: QtBot,
    opened: MainWindow,
    held_core: threading.Event,
    other_phantom: Path,
    open_in: OpenIn,
    dialogs: list,
) -> None:
    editor = opened.editor
    _start_gappy_label(opened)
    key(opened, "I")
    job = opened.runner._current["edit"]
    opened.annotator.actions.new_empty.trigger()
    assert job.cancelled and not opened.runner.running("edit") and editor.volume_edit is None
    assert not editor.label.any() and opened.annotator.actions.interpolate.isEnabled()
    held_core.set()
    assert job.wait(20_000)
    qtbot.wait(50)
    assert not editor.label.any() and editor.history.undo_description == "New empty label"

    held_core.clear()
    _start_gappy_label(opened)
    _action(opened, VolumeTool.REMOVE_ISLANDS).trigger()
    job = opened.runner._current["edit"]
    open_in(opened, other_phantom)  # the unsaved label is discarded (conftest's answer)
    assert job.cancelled and editor.label is None and editor.volume_edit is None
    held_core.set()
    assert job.wait(20_000)
    qtbot.wait(50)
    assert editor.label is None and opened.state.patient.source_path == other_phantom
    assert dialogs == []


def test_a_failing_volume_tool_says_why_and_keeps_the_label(
    qtbot: QtBot, opened: MainWindow, monkeypatch: pytest.MonkeyPatch, dialogs: list
) -> None:
    def broken(label: np.ndarray, *args: Any) -> Any:
        label[:] = True  # on the worker's copy: the label shown must not see it
        raise MemoryError("no room for the distance maps")

    monkeypatch.setattr(editing, "interpolate_all", broken)
    label = _start_gappy_label(opened)
    with qtbot.waitSignal(opened.errorReported, timeout=20_000):
        key(opened, "I")
    assert dialogs == [("Interpolate failed", "MemoryError: no room for the distance maps")]
    assert np.array_equal(opened.editor.label, label) and not opened.editor.history.can_undo
    assert opened.editor.volume_edit is None and opened.annotator.actions.interpolate.isEnabled()
