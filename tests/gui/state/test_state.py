"""The viewer state: clamping, no-op changes stay silent, and signals fire once per change."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from ctseg_core.display.windowing import PRESETS
from ctseg_core.progress import never_cancel, no_progress
from ctseg_gui.jobs.patients import open_patient
from ctseg_gui.state.overlay_settings import OverlayStyle
from ctseg_gui.state.viewer import ViewerState


def test_slice_is_clamped_and_unchanged_slice_emits_nothing(qtbot: QtBot, small_phantom: Path) -> None:
    state = ViewerState()
    state.set_patient(open_patient(small_phantom, no_progress, never_cancel))
    seen: list[int] = []
    state.sliceChanged.connect(seen.append)
    state.set_slice(999)
    state.set_slice(999)
    state.step_slice(-100)
    assert seen == [state.depth - 1, 0]


def test_window_and_overlay_changes_emit_once(qtbot: QtBot) -> None:
    state = ViewerState()
    windows, overlays = [], []
    state.windowChanged.connect(windows.append)
    state.overlayChanged.connect(overlays.append)
    state.set_window(PRESETS["Bone"])
    state.set_window(PRESETS["Bone"])
    state.set_overlay(style=OverlayStyle.COMPARE)
    state.set_overlay(style=OverlayStyle.COMPARE)
    assert windows == [PRESETS["Bone"]]
    assert [o.style for o in overlays] == [OverlayStyle.COMPARE]


def test_new_patient_drops_the_previous_prediction(qtbot: QtBot, small_phantom: Path) -> None:
    state = ViewerState()
    opened = open_patient(small_phantom, no_progress, never_cancel)
    state.set_patient(opened)
    state.set_prediction(opened.gt.copy(), opened.scores)
    state.set_patient(opened)
    assert state.prediction is None and state.slice_index == opened.start_slice
