"""The cursor readout under the image, like Slicer's data probe: voxel, HU, LPS mm, mask membership."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.widgets.plain_text import data_label
from ctseg_gui.widgets.readouts import CAPTION_STYLE, live_readout


class CursorReadout(QWidget):
    """One line under the image: voxel, HU, LPS position (mm) and whether GT and prediction hold it."""

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
            name = data_label(caption)
            name.setStyleSheet(CAPTION_STYLE)
            value = live_readout(widest, Qt.AlignmentFlag.AlignLeft)  # follows the pointer: fixed size
            layout.addWidget(name)
            layout.addWidget(value)
            layout.addSpacing(6)
            self.values[key] = value
        layout.addStretch(1)
        self.values["voxel"].setToolTip("x (column), y (row) and slice, counted from 1")
        self.values["position"].setToolTip("Patient position of the voxel centre: DICOM LPS millimetres")
        state.cursorChanged.connect(self._update)
        state.masksChanged.connect(self._update)

    def _update(self) -> None:
        state, patient, voxel = self.state, self.state.patient, self.state.cursor_voxel
        if patient is None or voxel is None:
            for label in self.values.values():
                label.setText("—")
            return
        k, y, x = voxel
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
