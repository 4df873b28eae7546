"""The Window panel: HU presets and width/level boxes, in sync with keys 1–5 and right-drag on the image."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QWidget

from ctseg_core.display.windowing import PRESETS, Window, preset_name
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.widgets.controls import HuSpinBox
from ctseg_gui.widgets.plain_text import data_label

CUSTOM_WINDOW = "Custom"


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
        layout.addWidget(data_label("Preset"), 0, 0)
        layout.addWidget(self.preset, 0, 1, 1, 3)
        layout.addWidget(data_label("Width"), 1, 0)
        layout.addWidget(self.width_box, 1, 1)
        layout.addWidget(data_label("Level"), 1, 2)
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
        self.preset.setCurrentText(preset_name(window) or CUSTOM_WINDOW)
