"""The slice slider under the image, with "slice k/N · z = … mm"."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QSlider, QWidget

from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.widgets.readouts import live_readout


class SliceNavigator(QWidget):
    """Slider along z with "slice k/N · z = … mm"; keyboard focus stays on the image."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setPageStep(10)
        self.slider.setEnabled(False)
        self.slider.setAutoFillBackground(True)  # it moves on every slice change: no repaint of the window beneath
        self.label = live_readout("slice 0000/0000 · z = -0000.00 mm", Qt.AlignmentFlag.AlignLeft)
        self.label.setText("no patient")
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
