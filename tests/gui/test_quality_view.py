"""The model's quality estimate in the viewer: the Estimated Dice readout, the "Check this scan" flag,
the uncertainty heat overlay on every plane, and U stepping through the most uncertain slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pytestqt.qtbot import QtBot

from ctseg_core.display import palette
from ctseg_core.display.planes import Plane
from ctseg_core.metrics import score_masks
from ctseg_core.model.quality import ScanQuality
from ctseg_gui.main_window import MainWindow
from gui.annotating import key
from gui.conftest import OpenIn

PARTIAL = "the liver runs off the first or last slice: the scan covers only part of it"


def _quality(
    depth: int,
    estimated: float = 0.84,
    check: bool = True,
    calibrated: bool = False,
    reasons: tuple[str, ...] = ("estimated Dice 0.84 is below 0.90", PARTIAL),
    per_slice: np.ndarray | None = None,
) -> ScanQuality:
    return ScanQuality(
        estimated_dice=estimated,
        check_scan=check,
        threshold=0.90,
        calibrated=calibrated,
        reasons=reasons,
        features={"soft_dice": estimated},
        slice_uncertainty=np.zeros(depth, np.float32) if per_slice is None else per_slice,
    )


def _predict(window: MainWindow, quality: ScanQuality, uncertainty: np.ndarray | None = None) -> None:
    """Put a prediction (the ground truth) with the model's quality and uncertainty on the state, as
    Segment does when the worker returns."""
    state = window.state
    assert state.gt is not None and state.patient is not None
    prediction = state.gt.copy()
    state.set_prediction(prediction, score_masks(state.gt, prediction, state.patient.spacing_mm), quality, uncertainty)


def test_estimated_dice_and_check_flag_follow_the_quality(
    opened: MainWindow, other_phantom: Path, open_in: OpenIn
) -> None:
    panel = opened.segmentation_panel
    assert not panel.estimate.isVisible() and not panel.check_flag.isVisible()  # no prediction yet
    _predict(opened, _quality(opened.state.depth))
    assert panel.estimate.isVisible() and panel.estimate.text() == "0.84 (uncalibrated)"
    assert panel.check_flag.isVisible() and panel.check_flag.text() == "⚠ Check this scan"
    assert "Estimated Dice 0.84 is below 0.90" in panel.reasons.text()
    assert "covers only part of it" in panel.reasons.text()  # the partial-coverage note
    assert panel.check_flag.toolTip() == panel.reasons.text()

    _predict(opened, _quality(opened.state.depth, estimated=0.94, check=False, calibrated=True, reasons=()))
    assert panel.estimate.text() == "0.94"
    assert not panel.check_flag.isVisible() and not panel.reasons.isVisible()

    _predict(opened, _quality(opened.state.depth, estimated=0.95, check=False, calibrated=True, reasons=(PARTIAL,)))
    assert not panel.check_flag.isVisible()  # not flagged, but the coverage note still shows
    assert panel.reasons.isVisible() and "covers only part of it" in panel.reasons.text()

    _predict(opened, _quality(opened.state.depth))
    open_in(opened, other_phantom)  # a new patient: its prediction and quality are not there yet
    assert opened.state.quality is None and opened.state.uncertainty is None
    assert not panel.estimate.isVisible() and not panel.check_flag.isVisible() and not panel.reasons.isVisible()


def test_uncertainty_overlay_shows_a_heat_map_where_the_model_was_unsure_on_every_plane(
    qtbot: QtBot, opened: MainWindow
) -> None:
    opened.set_layout("1x3")
    state = opened.state
    depth, _rows, _columns = state.patient.shape
    uncertainty = np.zeros(state.patient.shape, np.uint8)
    block = (slice(3, 8), slice(200, 260), slice(220, 300))
    uncertainty[block] = 255  # probability ½ there: the most uncertain
    uncertainty[3:8, 100:110, 100:110] = 8  # below the first band: drawn as certain
    _predict(opened, _quality(depth), uncertainty)
    state.set_position((5, 230, 260))  # inside the block on all three planes
    views = {plane: opened.plane_layout.view(plane) for plane in Plane}
    before = {plane: view.ct_item.image.copy() for plane, view in views.items()}
    assert not opened.overlay_panel.show_uncertainty.isChecked()
    assert all(not view.uncertainty_item.isVisible() for view in views.values())

    opened.overlay_panel.show_uncertainty.setChecked(True)
    assert state.overlay.show_uncertainty and opened.menus.show_uncertainty_action.isChecked()
    for plane, view in views.items():
        high = plane.image(uncertainty, view.index) == 255
        assert high.any()
        layer = view.uncertainty_item.image
        assert layer is not None
        assert (layer[..., 3][high] > 0).all(), plane  # heat where the model was unsure
        assert (layer[..., 3][plane.image(uncertainty, view.index) < 16] == 0).all(), plane  # clear elsewhere
        assert tuple(layer[high][0, :3]) == palette.UNCERTAINTY[1]  # the most uncertain band: yellow
        shown = view.ct_item.image
        changed = np.any(shown != before[plane], axis=-1)
        outline = view.overlay_item.image[..., 3] == 255  # the opaque mask outlines stay on top
        assert changed[high & ~outline].all() and not changed[high & outline].any(), plane  # on screen
        assert not changed[~high].any(), plane  # and nothing else moved

    key(opened, "Shift+U")  # the key turns it off again
    assert not state.overlay.show_uncertainty
    for plane, view in views.items():
        assert np.array_equal(view.ct_item.image, before[plane]), plane


def test_u_walks_the_most_uncertain_slices_in_order(opened: MainWindow) -> None:
    state = opened.state
    depth = state.depth
    per_slice = np.zeros(depth, np.float32)
    per_slice[[1, 3, 4, 5]] = [5.0, 9.0, 1.0, 9.0]  # a tie: the lower slice first
    _predict(opened, _quality(depth, per_slice=per_slice))
    state.set_slice(0)
    messages = []
    for _ in range(5):
        key(opened, "U")
        messages.append((state.slice_index, state.position[0], opened.statusBar().currentMessage()))
    assert messages == [
        (3, 3, "Uncertain slice 1 of 4: slice 4"),
        (5, 5, "Uncertain slice 2 of 4: slice 6"),
        (1, 1, "Uncertain slice 3 of 4: slice 2"),
        (4, 4, "Uncertain slice 4 of 4: slice 5"),
        (3, 3, "Uncertain slice 1 of 4: slice 4"),  # and round again
    ]


def test_u_without_a_quality_estimate_says_so_and_stays(opened: MainWindow) -> None:
    state = opened.state
    start = state.slice_index
    key(opened, "U")
    assert state.slice_index == start
    assert opened.statusBar().currentMessage() == "No uncertain slices: segment first"
