"""Slices windowed and overlaid ahead of time (ctseg_gui.plane_view.slice_cache): the same pixels as computing them on
the move, in every plane, style and layer; rebuilt after a window or mask change; none over the budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import Window
from ctseg_core.metrics import score_masks
from ctseg_gui.main_window import MainWindow
from ctseg_gui.plane_view.slice_cache import SliceCache, Sources
from ctseg_gui.plane_view.view import PlaneView
from ctseg_gui.state.overlay_settings import OverlayStyle
from gui.conftest import OpenIn


def _views(window: MainWindow) -> list[PlaneView]:
    window.set_layout("1x3")
    return [window.plane_layout.view(plane) for plane in Plane]


def _live(view: PlaneView) -> np.ndarray:
    """What the view draws when it computes the slice itself."""
    view._update_ct()
    view._update_overlays()
    view._update_label()
    view.image.compose(view.state.overlay)
    return view.ct_item.image.copy()


def _with_prediction_and_label(window: MainWindow) -> None:
    state = window.state
    assert state.gt is not None and state.patient is not None
    prediction = np.roll(ndimage.binary_dilation(state.gt, iterations=2), 3, axis=2)
    uncertainty = (ndimage.binary_dilation(prediction, iterations=2) ^ prediction).astype(np.uint8) * 200
    state.set_prediction(prediction, score_masks(state.gt, prediction, state.patient.spacing_mm), None, uncertainty)
    window.annotator.actions.from_gt.trigger()
    window.editor.label[:, :, : state.patient.shape[2] // 2] = False  # a label unlike the ground truth


@pytest.mark.parametrize("style", list(OverlayStyle))
def test_made_ahead_the_slices_show_the_same_pixels(opened: MainWindow, style: OverlayStyle) -> None:
    views = _views(opened)
    _with_prediction_and_label(opened)
    state = opened.state
    state.set_overlay(style=style, show_uncertainty=style is OverlayStyle.FILL_OUTLINE)
    rng = np.random.default_rng(3)
    for view in views:
        state.set_position(tuple(int(rng.integers(0, n)) for n in state.patient.shape))
        assert view.indices.wait()
    for _ in range(6):
        state.set_position(tuple(int(rng.integers(0, n)) for n in state.patient.shape))
        for view in views:
            assert view.image._base is not None, view.plane  # drawn from the indices made ahead
            shown = view.ct_item.image.copy()
            assert np.array_equal(shown, _live(view)), (view.plane, style)


def test_a_window_change_redraws_at_once_and_rebuilds_the_indices(opened: MainWindow) -> None:
    views = _views(opened)
    state = opened.state
    axial = views[0]
    state.set_position((2, 10, 10))
    assert axial.indices.wait()
    made = axial.indices.slice(Sources(state.patient.hu, state.window, state.gt, state.prediction), 0)
    assert made is not None and made.base is not None
    state.set_window(Window(width=150.0, level=90.0))
    for layer in (axial.image.grey, axial.image.overlay.code):  # copied out: the old indices can be freed
        assert layer is not None and not np.shares_memory(layer, made.base)
    state.set_position((5, 20, 20))  # a new slice before the new indices are made: computed on the move
    assert axial.image._base is None and not axial.indices.ready()
    expected = _live(axial)
    assert axial.indices.wait()
    state.set_position((6, 20, 20))
    state.set_position((5, 20, 20))
    assert axial.image._base is not None and np.array_equal(axial.ct_item.image, expected)


def test_no_indices_over_the_budget_and_none_while_the_window_moves() -> None:
    hu = np.zeros((4, 8, 8), np.int16)
    small = SliceCache(Plane.AXIAL, budget_bytes=hu.size)  # needs 2 bytes a voxel
    sources = Sources(hu, Window(400.0, 40.0), None, None)
    assert small.slice(sources, 0) is None and not small.wait(1.0)
    cache = SliceCache(Plane.CORONAL, settle_s=0.2)
    for level in range(10):  # a window drag: each move wants other indices, none is built meanwhile
        assert cache.slice(Sources(hu, Window(400.0, float(level)), None, None), 0) is None
    assert not cache.ready()
    last = Sources(hu, Window(400.0, 9.0), None, None)
    assert cache.wait(5.0)
    base = cache.slice(last, 3)
    assert base is not None and base.shape == (4, 8) and not base.flags.writeable


def test_a_hidden_view_and_a_new_patient_let_the_slices_go(
    opened: MainWindow, other_phantom: Path, open_in: OpenIn
) -> None:
    views = _views(opened)
    coronal = views[1]
    opened.state.set_position((3, 30, 30))
    assert coronal.indices.wait()
    opened.state.set_position((3, 32, 30))
    assert coronal.image._base is not None
    opened.set_layout("axial")
    opened.state.set_position((4, 31, 31))  # the hidden coronal view draws nothing, and holds nothing
    assert not coronal.indices.ready() and coronal.image._base is None
    axial = views[0]
    assert axial.indices.wait()
    open_in(opened, other_phantom)
    assert not axial.indices.ready()  # the old patient's slices went with it


def test_a_failed_build_leaves_the_view_computing_and_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fail(self: SliceCache, sources: Sources) -> None:
        calls.append(1)
        raise MemoryError("no room for the slices")

    monkeypatch.setattr(SliceCache, "_build", fail)
    cache = SliceCache(Plane.AXIAL, settle_s=0.0)
    sources = Sources(np.zeros((4, 8, 8), np.int16), Window(400.0, 40.0), None, None)
    assert cache.slice(sources, 0) is None and not cache.wait(5.0)
    assert cache.slice(sources, 0) is None and not cache.wait(1.0)
    assert calls == [1]
