"""Controls and readouts around the slice view; each is built on the state and follows it.

Numbers shown to the user count slices and voxels from 1 (slice 1 is the first along the slice
normal: the lowest of an axial scan), so the slider, the cursor readout and the Dice plot
agree; metrics print "—" where undefined.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.metrics import format_metric
from ctseg_core.orientation import stored_orientation_note
from ctseg_core.windowing import PRESETS, Window

from .dice_plot import DicePlot
from .overlay import FN_RGB, FP_RGB, GT_RGB, LABEL_RGB, PRED_RGB, TP_RGB, OverlayStyle
from .state import ViewerState

CUSTOM_WINDOW = "Custom"
NO_MASK = "(none)"


def _swatch(rgb: tuple[int, int, int]) -> QLabel:
    label = QLabel()
    label.setFixedSize(12, 12)
    label.setStyleSheet(f"background: rgb{rgb}; border: 1px solid #888; border-radius: 2px;")
    return label


def _value_label() -> QLabel:
    label = QLabel("—")
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class SliceNavigator(QWidget):
    """Slider along z with "slice k/N · z = … mm"; keyboard focus stays on the image."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setPageStep(10)
        self.slider.setEnabled(False)
        self.label = QLabel("no patient")
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("slice 0000/0000 · z = -0000.00 mm"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(state.set_slice)
        state.patientChanged.connect(self._on_patient_changed)
        state.sliceChanged.connect(self._on_slice_changed)

    def _on_patient_changed(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.state.depth - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)

    def _on_slice_changed(self) -> None:
        k, patient = self.state.slice_index, self.state.patient
        assert patient is not None
        self.slider.blockSignals(True)
        self.slider.setValue(k)
        self.slider.blockSignals(False)
        self.label.setText(f"slice {k + 1}/{self.state.depth} · z = {patient.slice_z_mm(k):.2f} mm")


class PatientPanel(QGroupBox):
    """Who and what is open, its geometry and warnings, and which organ is the ground truth."""

    groundTruthRequested = Signal(str)

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__("Patient", parent)
        self.state = state
        self.name = QLabel("No patient open")
        self.name.setWordWrap(True)
        self.name.setStyleSheet("font-weight: bold;")
        self.series = QLabel()
        self.series.setWordWrap(True)
        self.series.hide()
        self.geometry_label = QLabel()
        self.geometry_label.setWordWrap(True)
        self.geometry_label.hide()
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #f0a030;")
        self.warnings.hide()
        self.organ = QComboBox()
        self.organ.setToolTip("Mask shown and scored as ground truth; other organs load when picked")
        self.organ.setEnabled(False)
        organ_row = QHBoxLayout()
        organ_row.addWidget(QLabel("Ground truth"))
        organ_row.addWidget(self.organ, 1)
        layout = QVBoxLayout(self)
        for widget in (self.name, self.series, self.geometry_label, self.warnings):
            layout.addWidget(widget)
        layout.addLayout(organ_row)
        self.organ.activated.connect(self._on_organ_picked)
        state.patientChanged.connect(self._on_patient_changed)
        state.masksChanged.connect(self.sync_organ)

    def _on_patient_changed(self) -> None:
        patient = self.state.patient
        assert patient is not None
        self.name.setText(patient.patient_name.replace("^", " ").strip() or patient.source_path.name)
        self.series.setText(patient.series_description or "(no series description)")
        self.series.setToolTip(f"{patient.source_path}\nSeriesInstanceUID {patient.series_uid}")
        self.series.show()
        self.geometry_label.show()
        dz, dy, dx = patient.spacing_mm
        depth, rows, columns = patient.shape
        stored = stored_orientation_note(patient.source.geometry, patient.source.reorientation)
        self.geometry_label.setText(
            f"{columns} × {rows} × {depth} voxels · {dx:.3g} × {dy:.3g} × {dz:.3g} mm · {stored}"
        )
        notes = list(patient.warnings) + [f"also in this folder: {s.describe()}" for s in patient.other_series]
        self.warnings.setText("\n".join(f"⚠ {note}" for note in notes))
        self.warnings.setVisible(bool(notes))
        self.organ.clear()
        self.organ.addItems(([NO_MASK] if self.state.gt_name is None else []) + patient.available_masks)
        self.sync_organ()

    def sync_organ(self) -> None:
        """Select the organ the state shows (also to undo a pick whose loading failed)."""
        self.organ.setCurrentText(self.state.gt_name or NO_MASK)

    def _on_organ_picked(self) -> None:
        name = self.organ.currentText()
        if name != NO_MASK and name != self.state.gt_name:
            self.groundTruthRequested.emit(name)


class HuSpinBox(QSpinBox):
    """A HU box that keeps the arrow and page keys while focused (elsewhere they change slice)."""

    OWN_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown})

    def __init__(self, minimum: int, maximum: int) -> None:
        super().__init__()
        self.setRange(minimum, maximum)
        self.setSuffix(" HU")

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in self.OWN_KEYS:
            event.accept()
            return True
        return super().event(event)


class WindowPanel(QGroupBox):
    """HU window: presets (keys 1–5) and width/level boxes, in sync with right-drag on the image."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__("Window", parent)
        self.state = state
        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, CUSTOM_WINDOW])
        self.preset.setToolTip("Right-drag on the image: left/right narrows/widens, up/down raises/lowers the level")
        self.width_box = HuSpinBox(1, 65535)
        self.level_box = HuSpinBox(-32768, 32767)
        layout = QGridLayout(self)
        layout.addWidget(QLabel("Preset"), 0, 0)
        layout.addWidget(self.preset, 0, 1, 1, 3)
        layout.addWidget(QLabel("Width"), 1, 0)
        layout.addWidget(self.width_box, 1, 1)
        layout.addWidget(QLabel("Level"), 1, 2)
        layout.addWidget(self.level_box, 1, 3)
        layout.setColumnStretch(1, 1)
        layout.setColumnStretch(3, 1)
        self.preset.activated.connect(self._on_preset_picked)
        self.width_box.valueChanged.connect(self._on_spin_changed)
        self.level_box.valueChanged.connect(self._on_spin_changed)
        state.windowChanged.connect(self._on_window_changed)
        self._on_window_changed()

    def _on_preset_picked(self) -> None:
        name = self.preset.currentText()
        if name in PRESETS:
            self.state.set_window(PRESETS[name])

    def _on_spin_changed(self) -> None:
        self.state.set_window(Window(width=float(self.width_box.value()), level=float(self.level_box.value())))

    def _on_window_changed(self) -> None:
        window = self.state.window
        for box, value in ((self.width_box, window.width), (self.level_box, window.level)):
            box.blockSignals(True)
            box.setValue(round(value))
            box.blockSignals(False)
        self.preset.setCurrentText(preset_name(window))


def preset_name(window: Window) -> str:
    """The preset a window equals (to within half a HU), else "Custom"."""
    for name, preset in PRESETS.items():
        if abs(preset.width - window.width) < 0.5 and abs(preset.level - window.level) < 0.5:
            return name
    return CUSTOM_WINDOW


class OverlayPanel(QGroupBox):
    """Which masks are drawn (G, P, E: the edited label), how (fill, outline, compare) and how opaque."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__("Overlays", parent)
        self.state = state
        self.show_gt = QCheckBox("Ground truth (G)")
        self.show_prediction = QCheckBox("Prediction (P)")
        self.show_label = QCheckBox("Edited label (E)")
        self.style_box = QComboBox()
        self.style_box.addItems([style.value for style in OverlayStyle])
        self.style_box.setToolTip("Next style: O")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_value = QLabel()
        self.opacity_value.setMinimumWidth(self.opacity_value.fontMetrics().horizontalAdvance("100 %"))
        self.legend = QWidget()
        legend = QHBoxLayout(self.legend)
        legend.setContentsMargins(0, 0, 0, 0)
        self.legend_items: dict[str, tuple[QLabel, QLabel]] = {}
        for name, rgb in (("TP", TP_RGB), ("FP", FP_RGB), ("FN", FN_RGB)):
            swatch, text = _swatch(rgb), QLabel(name)
            legend.addWidget(swatch)
            legend.addWidget(text)
            self.legend_items[name] = (swatch, text)
        legend.addStretch(1)

        layers = QGridLayout()
        layers.setHorizontalSpacing(4)
        for i, (rgb, box) in enumerate(
                ((GT_RGB, self.show_gt), (PRED_RGB, self.show_prediction), (LABEL_RGB, self.show_label))):
            row, column = divmod(i, 2)
            layers.addWidget(_swatch(rgb), row, 2 * column)
            layers.addWidget(box, row, 2 * column + 1)
        layers.setColumnStretch(1, 1)
        layers.setColumnStretch(3, 1)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_value)
        layout = QGridLayout(self)
        layout.addLayout(layers, 0, 0, 1, 2)
        layout.addWidget(QLabel("Style"), 1, 0)
        layout.addWidget(self.style_box, 1, 1)
        layout.addWidget(QLabel("Fill"), 2, 0)
        layout.addLayout(opacity_row, 2, 1)
        layout.addWidget(self.legend, 3, 0, 1, 2)
        layout.setColumnStretch(1, 1)

        self.show_gt.toggled.connect(lambda on: state.set_overlay(show_gt=on))
        self.show_prediction.toggled.connect(lambda on: state.set_overlay(show_prediction=on))
        self.show_label.toggled.connect(lambda on: state.set_overlay(show_label=on))
        self.style_box.activated.connect(lambda i: state.set_overlay(style=list(OverlayStyle)[i]))
        self.opacity.valueChanged.connect(lambda v: state.set_overlay(opacity=v / 100.0))
        state.overlayChanged.connect(self._on_overlay_changed)
        self._on_overlay_changed()

    def _on_overlay_changed(self) -> None:
        overlay = self.state.overlay
        widgets = (self.show_gt, self.show_prediction, self.show_label, self.style_box, self.opacity)
        for widget in widgets:
            widget.blockSignals(True)
        self.show_gt.setChecked(overlay.show_gt)
        self.show_prediction.setChecked(overlay.show_prediction)
        self.show_label.setChecked(overlay.show_label)
        self.style_box.setCurrentText(overlay.style.value)
        self.opacity.setValue(round(overlay.opacity * 100))
        for widget in widgets:
            widget.blockSignals(False)
        self.opacity_value.setText(f"{round(overlay.opacity * 100)} %")
        self.legend.setVisible(overlay.style is OverlayStyle.COMPARE)


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
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #aaa;")
        self.status.hide()
        self.values = {key: _value_label() for key, _ in self.METRICS}
        self.values["slice_dice"].setToolTip("Dice of the slice shown; — when both masks are empty there")
        self.plot = DicePlot(state)
        self.worst = QPushButton("Worst slice")
        self.worst.setToolTip("Go to the slice with the lowest Dice (W)")
        self.worst.setEnabled(False)

        buttons = QHBoxLayout()
        buttons.addWidget(self.segment, 1)
        buttons.addWidget(self.cancel)
        metrics = QGridLayout()
        metrics.setHorizontalSpacing(10)
        for i, (key, text) in enumerate(self.METRICS):
            row, column = divmod(i, 2)
            metrics.addWidget(QLabel(text), row, 2 * column)
            metrics.addWidget(self.values[key], row, 2 * column + 1)
        metrics.addWidget(self.worst, 3, 2, 1, 2)
        metrics.setColumnStretch(1, 1)
        metrics.setColumnStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(metrics)
        layout.addWidget(self.plot, 1)

        self.worst.clicked.connect(self.go_to_worst_slice)
        state.scoresChanged.connect(self._on_scores_changed)
        state.sliceChanged.connect(self._show_slice_dice)

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


class CursorReadout(QWidget):
    """One line under the image, like Slicer's data probe: voxel, HU, LPS mm, mask membership."""

    FIELDS = (
        ("voxel", "Voxel", "0000, 0000, 0000"),
        ("hu", "Value", "-00000 HU"),
        ("position", "LPS", "-0000.0, -0000.0, -0000.0 mm"),
        ("gt", "In GT", "yes"),
        ("prediction", "In pred.", "yes"),
    )

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.values: dict[str, QLabel] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 2)
        for key, caption, widest in self.FIELDS:
            name = QLabel(caption)
            name.setStyleSheet("color: #9a9a9a;")
            value = QLabel("—")
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance(widest))
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(name)
            layout.addWidget(value)
            layout.addSpacing(6)
            self.values[key] = value
        layout.addStretch(1)
        self.values["voxel"].setToolTip("x (column), y (row) and slice, counted from 1")
        self.values["position"].setToolTip("Patient position of the voxel centre: DICOM LPS millimetres")
        state.cursorChanged.connect(self._update)
        state.sliceChanged.connect(self._update)
        state.masksChanged.connect(self._update)

    def _update(self) -> None:
        state, patient, voxel = self.state, self.state.patient, self.state.cursor
        if patient is None or voxel is None:
            for label in self.values.values():
                label.setText("—")
            return
        x, y, k = *voxel, state.slice_index
        mm = patient.geometry.voxel_to_mm(k, y, x)
        self.values["voxel"].setText(f"{x + 1}, {y + 1}, {k + 1}")
        self.values["hu"].setText(f"{int(patient.hu[k, y, x])} HU")
        self.values["position"].setText(f"{mm[0]:.1f}, {mm[1]:.1f}, {mm[2]:.1f} mm")
        self.values["gt"].setText(_membership(state.gt, k, y, x))
        self.values["prediction"].setText(_membership(state.prediction, k, y, x))


def _membership(mask: np.ndarray | None, k: int, y: int, x: int) -> str:
    if mask is None:
        return "—"
    return "yes" if mask[k, y, x] else "no"
