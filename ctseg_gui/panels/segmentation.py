"""The Segmentation panel: Segment / Cancel with progress, the volume metrics, slice Dice, the Dice plot."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.metrics import format_metric
from ctseg_core.model.quality import ScanQuality
from ctseg_gui.panels.dice_plot import DicePlot
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.widgets.model_picker import ModelPicker
from ctseg_gui.widgets.plain_text import data_label
from ctseg_gui.widgets.readouts import live_readout, value_label

#: The "Check this scan" flag: white on a warning red, so it is seen at a glance.
CHECK_FLAG_STYLE = "color: white; background: #c0392b; font-weight: bold; padding: 1px 6px; border-radius: 3px;"


class SegmentationPanel(QGroupBox):
    """Segment / Cancel with progress, the volume metrics, current-slice Dice and the Dice plot."""

    METRICS = (
        ("dice", "Dice"),
        ("jaccard", "Jaccard"),
        ("assd", "ASSD"),
        ("hd95", "HD95"),
        ("gt_volume", "GT vol."),
        ("prediction_volume", "Pred. vol."),
        ("slice_dice", "Slice Dice"),
    )

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__("Segmentation", parent)
        self.state = state
        self.segment = QPushButton("Segment liver")
        self.segment.setToolTip("Run the liver model on this CT (Ctrl+R)")
        self.segment.setEnabled(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the running segmentation (Esc)")
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("%v/%m slices")
        self.progress.hide()
        self.status = data_label()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #aaa;")
        self.status.hide()
        self.values = {key: live_readout("0.000") if key == "slice_dice" else value_label() for key, _ in self.METRICS}
        self.values["slice_dice"].setToolTip("Dice of the slice shown; — when both masks are empty there")
        self.plot = DicePlot(state)
        self.worst = QPushButton("Worst slice")
        self.worst.setToolTip("Go to the slice with the lowest Dice (W)")
        self.worst.setEnabled(False)

        self.model_picker = ModelPicker()  # which model Segment uses (commands.models wires it to Segment)
        model_row = QHBoxLayout()
        model_row.addWidget(data_label("Model"))
        model_row.addWidget(self.model_picker, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.segment, 1)
        buttons.addWidget(self.cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(model_row)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(self._metrics_grid())
        layout.addWidget(self._quality_readout())
        layout.addWidget(self.plot, 1)

        self.worst.clicked.connect(self.go_to_worst_slice)
        state.scoresChanged.connect(self._on_scores_changed)
        state.sliceChanged.connect(self._show_slice_dice)
        state.qualityChanged.connect(self._show_quality)
        self._show_quality(None)

    def _metrics_grid(self) -> QGridLayout:
        """The volume metrics and the slice Dice, two to a row, and Worst slice."""
        metrics = QGridLayout()
        metrics.setHorizontalSpacing(10)
        for i, (key, text) in enumerate(self.METRICS):
            row, column = divmod(i, 2)
            metrics.addWidget(data_label(text), row, 2 * column)
            metrics.addWidget(self.values[key], row, 2 * column + 1, Qt.AlignmentFlag.AlignRight)
        metrics.addWidget(self.worst, 3, 2, 1, 2)
        metrics.setColumnStretch(1, 1)
        metrics.setColumnStretch(3, 1)
        return metrics

    def _quality_readout(self) -> QWidget:
        """The model's own estimate of its Dice, and the "Check this scan" flag with its reasons."""
        self.estimate_title = data_label("Estimated Dice")
        self.estimate = value_label()
        self.check_flag = data_label("⚠ Check this scan")
        self.check_flag.setStyleSheet(CHECK_FLAG_STYLE)
        self.reasons = data_label()
        self.reasons.setWordWrap(True)
        self.reasons.setStyleSheet("color: #a8401a;")
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.addWidget(self.estimate_title, 0, 0)
        grid.addWidget(self.estimate, 0, 1)
        grid.addWidget(self.check_flag, 0, 2)
        grid.addWidget(self.reasons, 1, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        return box

    def _show_quality(self, quality: ScanQuality | None) -> None:
        """Show the quality estimate of the prediction (hidden without one: no prediction, a new patient)."""
        shown = quality is not None
        for widget in (self.estimate_title, self.estimate):
            widget.setVisible(shown)
        self.check_flag.setVisible(shown and quality is not None and quality.check_scan)
        self.reasons.setVisible(shown and quality is not None and bool(quality.reasons))
        if quality is None:
            self.estimate.setText("")
            self.reasons.setText("")
            self.check_flag.setToolTip("")
            return
        text = f"{quality.estimated_dice:.2f}"
        self.estimate.setText(text if quality.calibrated else f"{text} (uncalibrated)")
        self.estimate.setToolTip(
            (
                "The model's own estimate of the Dice of this segmentation, calibrated on held-out scans"
                if quality.calibrated
                else "The model's soft Dice: its card has no calibration, so this is a rough guide only"
            )
            + f"; scans below {quality.threshold:.2f} are flagged"
        )
        reasons = "\n".join(f"• {reason[:1].upper()}{reason[1:]}" for reason in quality.reasons)
        self.reasons.setText(reasons)
        self.check_flag.setToolTip(reasons or "Review this segmentation")

    def set_running(self, running: bool, message: str = "") -> None:
        """Show a job starting (progress bar, Cancel) or ending (with its outcome as ``message``)."""
        self.cancel.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
        self.status.setText(message)
        self.status.setVisible(bool(message))

    def show_progress(self, done: int, total: int, stage: str) -> None:
        """Slices done of N while predicting; a busy bar while loading the model or measuring."""
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"{stage}…")
        self.status.show()

    def go_to_worst_slice(self) -> None:
        worst = self.state.scores.worst_slice()
        if worst is not None:
            self.state.set_slice(worst)

    def _on_scores_changed(self) -> None:
        scores = self.state.scores
        report = scores.report
        nan = math.nan
        self.values["dice"].setText(format_metric(report.dice if report else nan))
        self.values["jaccard"].setText(format_metric(report.jaccard if report else nan))
        self.values["assd"].setText(_with_unit(report.assd_mm if report else nan, 2, "mm"))
        self.values["hd95"].setText(_with_unit(report.hd95_mm if report else nan, 2, "mm"))
        self.values["gt_volume"].setText(_with_unit(scores.gt_volume_ml, 1, "mL"))
        self.values["prediction_volume"].setText(_with_unit(scores.prediction_volume_ml, 1, "mL"))
        self.worst.setEnabled(scores.worst_slice() is not None)
        self._show_slice_dice()

    def _show_slice_dice(self) -> None:
        self.values["slice_dice"].setText(format_metric(self.state.scores.slice_dice(self.state.slice_index)))


def _with_unit(value: float | None, digits: int, unit: str) -> str:
    text = format_metric(value, digits)
    return text if text == format_metric(None) else f"{text} {unit}"
