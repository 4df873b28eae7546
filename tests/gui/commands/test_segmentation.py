"""Segmenting from the viewer: progress, metrics, cancel, switching patient, errors, responsiveness."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ctseg_core.errors import Cancelled, ModelError
from ctseg_core.metrics import compare, dice, format_metric
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.main_window import MainWindow
from ctseg_gui.panels.dice_plot import MARKER_RGB
from gui.conftest import FakeSegmenter, OpenIn, event_loop_gaps


def _segment_and_wait(qtbot: QtBot, window: MainWindow, timeout_ms: int = 20_000) -> None:
    with qtbot.waitSignal(window.segmentationFinished, timeout=timeout_ms):
        qtbot.mouseClick(window.segmentation_panel.segment, Qt.MouseButton.LeftButton)


def event_loop_gaps_while_segmenting(qtbot: QtBot, window: MainWindow) -> list[float]:
    """Seconds between ticks of a 10 ms timer on the GUI thread, from the click on Segment to its result."""
    with event_loop_gaps() as gaps:
        _segment_and_wait(qtbot, window)
    return gaps


def _assert_readouts_match_core(window: MainWindow) -> None:
    state, values = window.state, window.segmentation_panel.values
    report = compare(state.prediction, state.gt, state.patient.spacing_mm)
    assert values["dice"].text() == format_metric(dice(state.prediction, state.gt))
    assert values["jaccard"].text() == format_metric(report.jaccard)
    assert values["hd95"].text() == f"{format_metric(report.hd95_mm, 2)} mm"
    assert values["prediction_volume"].text() == f"{format_metric(report.volume_ml_pred, 1)} mL"
    k = state.slice_index
    assert values["slice_dice"].text() == format_metric(dice(state.gt[k], state.prediction[k]))


def test_segment_shows_prediction_and_metrics_from_the_core(qtbot: QtBot, opened: MainWindow) -> None:
    _segment_and_wait(qtbot, opened)
    state = opened.state
    assert state.prediction is not None and state.prediction.shape == state.patient.shape
    _assert_readouts_match_core(opened)
    assert opened.segmentation_panel.segment.isEnabled() and not opened.segmentation_panel.cancel.isEnabled()
    assert not opened.segmentation_panel.progress.isVisible()
    pred_only = state.prediction[state.slice_index] & ~state.gt[state.slice_index]
    ys, xs = np.nonzero(pred_only)
    assert opened.axial_view.overlay_item.image[ys[0], xs[0], 3] > 0


def test_switching_ground_truth_rescores_the_prediction(qtbot: QtBot, opened: MainWindow) -> None:
    _segment_and_wait(qtbot, opened)
    combo = opened.patient_panel.organ
    combo.setCurrentText("spleen")
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: opened.state.gt_name == "spleen", timeout=5000)
    _assert_readouts_match_core(opened)


def test_worst_slice_button_and_dice_plot_click_jump_to_slices(qtbot: QtBot, opened: MainWindow) -> None:
    _segment_and_wait(qtbot, opened)
    state = opened.state
    qtbot.mouseClick(opened.segmentation_panel.worst, Qt.MouseButton.LeftButton)
    worst = state.scores.worst_slice()
    defined = state.scores.per_slice_dice[~np.isnan(state.scores.per_slice_dice)]
    assert state.slice_index == worst and state.scores.per_slice_dice[worst] == defined.min()
    assert opened.segmentation_panel.plot.marker_slice == worst + 1

    plot = opened.segmentation_panel.plot
    target = 2
    scene = plot.getPlotItem().vb.mapViewToScene(QPointF(target + 1, 0.5))
    pos = QPointF(plot.mapFromScene(scene))
    viewport = plot.viewport()
    for kind, buttons in (
        (QMouseEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
        (QMouseEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton),
    ):
        event = QMouseEvent(
            kind,
            pos,
            QPointF(viewport.mapToGlobal(pos)),
            Qt.MouseButton.LeftButton,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, event)
    assert state.slice_index == target
    # a left drag scrubs: the slice follows the pointer, and the marker (drawn over the plot's picture) too
    for slice_number in (4, 6):
        scene = plot.getPlotItem().vb.mapViewToScene(QPointF(slice_number, 0.5))
        pos = QPointF(plot.mapFromScene(scene))
        event = QMouseEvent(
            QMouseEvent.Type.MouseMove,
            pos,
            QPointF(viewport.mapToGlobal(pos)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, event)
        assert state.slice_index == slice_number - 1 and plot.marker_slice == slice_number
    shown = plot.viewport().grab().toImage()
    marker_x = round(pos.x() * shown.devicePixelRatio())
    colour = shown.pixelColor(marker_x, shown.height() // 2)
    assert (colour.red(), colour.green(), colour.blue()) == pytest.approx(MARKER_RGB, abs=40)


def test_segment_button_is_disabled_while_running_and_cancel_discards(
    qtbot: QtBot, opened: MainWindow, fake_segmenter: FakeSegmenter
) -> None:
    fake_segmenter.seconds_per_slice = 0.1
    panel = opened.segmentation_panel
    qtbot.mouseClick(panel.segment, Qt.MouseButton.LeftButton)
    assert not panel.segment.isEnabled() and not opened.menus.segment_action.isEnabled() and panel.cancel.isEnabled()
    assert not opened.patient_panel.organ.isEnabled()
    depth = opened.state.depth
    qtbot.waitUntil(lambda: panel.progress.maximum() == depth and panel.progress.value() >= 1, timeout=5000)
    assert panel.progress.text() == f"{panel.progress.value()}/{opened.state.depth} slices"
    job = opened.runner._current["segment"]
    with qtbot.assertNotEmitted(opened.segmentationFinished, wait=300):
        qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
        assert panel.segment.isEnabled() and not panel.progress.isVisible()
    assert job.wait(5000)
    assert opened.state.prediction is None and panel.values["dice"].text() == "—"


def test_escape_cancels(qtbot: QtBot, opened: MainWindow, fake_segmenter: FakeSegmenter) -> None:
    fake_segmenter.seconds_per_slice = 0.1
    opened.start_segmentation()
    opened.axial_view.setFocus()
    qtbot.keyClick(opened.axial_view, Qt.Key.Key_Escape)
    assert not opened.runner.running("segment") and opened.segmentation_panel.status.text() == "Cancelled."


def test_opening_another_patient_cancels_the_running_segmentation(
    qtbot: QtBot, opened: MainWindow, fake_segmenter: FakeSegmenter, other_phantom: Path, open_in: OpenIn
) -> None:
    fake_segmenter.seconds_per_slice = 0.2
    opened.start_segmentation()
    job = opened.runner._current["segment"]
    with qtbot.assertNotEmitted(opened.segmentationFinished, wait=300):
        open_in(opened, other_phantom)
    assert job.cancelled and job.wait(5000)
    assert opened.state.patient.source_path == other_phantom and opened.state.prediction is None
    assert opened.segmentation_panel.segment.isEnabled()


def test_a_failing_model_shows_its_message_and_the_button_comes_back(
    qtbot: QtBot, opened: MainWindow, fake_segmenter: FakeSegmenter, dialogs: list
) -> None:
    fake_segmenter.fail = ModelError("/models/liver.keras", "model card missing")
    with qtbot.waitSignal(opened.errorReported, timeout=5000):
        opened.start_segmentation()
    assert dialogs == [("Segmentation failed", "/models/liver.keras: model card missing")]
    assert opened.segmentation_panel.segment.isEnabled() and opened.state.prediction is None


def test_event_loop_stays_responsive_while_segmenting(
    qtbot: QtBot, opened: MainWindow, fake_segmenter: FakeSegmenter
) -> None:
    fake_segmenter.seconds_per_slice = 0.05
    gaps = event_loop_gaps_while_segmenting(qtbot, opened)
    assert len(gaps) > 20 and max(gaps) < 0.1, f"longest gap {max(gaps) * 1000:.0f} ms"


class KerasSegmenter:
    """A test-only segmenter around a tiny Keras model: TensorFlow work on the worker, like the real one."""

    def __init__(self) -> None:
        import keras

        self.imported_on = threading.current_thread()
        self.model = keras.Sequential(
            [
                keras.Input((None, None, 1)),
                keras.layers.Conv2D(1, 1, activation="sigmoid", kernel_initializer="ones", bias_initializer="zeros"),
            ]
        )

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float],
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        return_uncertainty: bool = False,
    ) -> SimpleNamespace:
        probability = np.empty(hu.shape, np.float32)
        for k in range(hu.shape[0]):
            if should_cancel is not None and should_cancel():
                raise Cancelled("cancelled by the user")
            x = ((hu[k].astype(np.float32) - 100.0) / 10.0)[None, ..., None]
            probability[k] = self.model(x, training=False).numpy()[0, ..., 0]
            if progress is not None:
                progress(k + 1, hu.shape[0], "segmenting")
        return SimpleNamespace(
            probability=probability, mask=probability > 0.5, timings={}, quality=None, uncertainty=None
        )


@pytest.mark.skipif(importlib.util.find_spec("keras") is None, reason="Keras/TensorFlow not installed")
@pytest.mark.slow
def test_tensorflow_loads_and_predicts_on_the_worker(qtbot: QtBot, opened: MainWindow) -> None:
    loaded: list[KerasSegmenter] = []

    def loader(path: str | None) -> KerasSegmenter:
        loaded.append(KerasSegmenter())
        return loaded[-1]

    opened.segmentation.segmenters = SegmenterCache(loader)
    _segment_and_wait(qtbot, opened, timeout_ms=60_000)
    assert loaded[0].imported_on is not threading.main_thread()
    _assert_readouts_match_core(opened)
    _segment_and_wait(qtbot, opened)  # the model is cached: no second load
    assert len(loaded) == 1


def test_real_segmenter_runs_from_the_viewer_without_stalling_it(
    qtbot: QtBot, opened: MainWindow, tiny_model: Path
) -> None:
    opened.segmentation.model_path = str(tiny_model)
    opened.segmentation.segmenters = SegmenterCache()
    _segment_and_wait(qtbot, opened, timeout_ms=60_000)  # loads the model
    _assert_readouts_match_core(opened)
    gaps = event_loop_gaps_while_segmenting(qtbot, opened)
    assert max(gaps) < 0.1, f"longest gap {max(gaps) * 1000:.0f} ms"
