"""The Overlays panel: which masks are drawn (G, P, E), the model's uncertainty (Shift+U), in which style,
how opaque, with the compare legend."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QSlider, QWidget

from ctseg_core.display import palette
from ctseg_gui.state.overlay_settings import OverlayStyle
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.widgets.plain_text import data_label
from ctseg_gui.widgets.readouts import swatch


class OverlayPanel(QGroupBox):
    """Which masks are drawn (G, P, E: the edited label), how (fill, outline, compare) and how opaque."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__("Overlays", parent)
        self.state = state
        self._make_controls()
        self.legend = self._compare_legend()
        layout = QGridLayout(self)
        layout.addLayout(self._layer_grid(), 0, 0, 1, 2)
        layout.addWidget(data_label("Style"), 1, 0)
        layout.addWidget(self.style_box, 1, 1)
        layout.addWidget(data_label("Fill"), 2, 0)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_value)
        layout.addLayout(opacity_row, 2, 1)
        layout.addWidget(self.legend, 3, 0, 1, 2)
        layout.setColumnStretch(1, 1)
        self._follow(state)

    def _make_controls(self) -> None:
        self.show_gt = QCheckBox("Ground truth (G)")
        self.show_prediction = QCheckBox("Prediction (P)")
        self.show_label = QCheckBox("Edited label (E)")
        self.show_uncertainty = QCheckBox("Uncertainty (Shift+U)")
        self.show_uncertainty.setToolTip(
            "Where the model was unsure (heat map: red … yellow = probability near ½); after Segment"
        )
        self.style_box = QComboBox()
        self.style_box.addItems([style.value for style in OverlayStyle])
        self.style_box.setToolTip("Next style: O")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity_value = data_label()
        self.opacity_value.setMinimumWidth(self.opacity_value.fontMetrics().horizontalAdvance("100 %"))

    def _compare_legend(self) -> QWidget:
        """TP, FP and FN swatches: shown in compare mode only."""
        widget = QWidget()
        legend = QHBoxLayout(widget)
        legend.setContentsMargins(0, 0, 0, 0)
        self.legend_items: dict[str, tuple[QLabel, QLabel]] = {}
        for name, rgb in (
            ("TP", palette.TRUE_POSITIVE),
            ("FP", palette.FALSE_POSITIVE),
            ("FN", palette.FALSE_NEGATIVE),
        ):
            square, text = swatch(rgb), data_label(name)
            legend.addWidget(square)
            legend.addWidget(text)
            self.legend_items[name] = (square, text)
        legend.addStretch(1)
        return widget

    def _layer_grid(self) -> QGridLayout:
        """Each layer's checkbox beside its colour, two to a row."""
        layers = QGridLayout()
        layers.setHorizontalSpacing(4)
        for i, (rgb, box) in enumerate(
            (
                (palette.GROUND_TRUTH, self.show_gt),
                (palette.PREDICTION, self.show_prediction),
                (palette.EDITED_LABEL, self.show_label),
                (palette.UNCERTAINTY[1], self.show_uncertainty),
            )
        ):
            row, column = divmod(i, 2)
            layers.addWidget(swatch(rgb), row, 2 * column)
            layers.addWidget(box, row, 2 * column + 1)
        layers.setColumnStretch(1, 1)
        layers.setColumnStretch(3, 1)
        return layers

    def _follow(self, state: ViewerState) -> None:
        """The controls set the state's overlay settings, and show them as they change."""
        self.show_gt.toggled.connect(lambda on: state.set_overlay(show_gt=on))
        self.show_prediction.toggled.connect(lambda on: state.set_overlay(show_prediction=on))
        self.show_label.toggled.connect(lambda on: state.set_overlay(show_label=on))
        self.show_uncertainty.toggled.connect(lambda on: state.set_overlay(show_uncertainty=on))
        self.style_box.activated.connect(lambda i: state.set_overlay(style=list(OverlayStyle)[i]))
        self.opacity.valueChanged.connect(lambda v: state.set_overlay(opacity=v / 100.0))
        state.overlayChanged.connect(self._on_overlay_changed)
        self._on_overlay_changed()

    def _on_overlay_changed(self) -> None:
        overlay = self.state.overlay
        widgets = (
            self.show_gt,
            self.show_prediction,
            self.show_label,
            self.show_uncertainty,
            self.style_box,
            self.opacity,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.show_gt.setChecked(overlay.show_gt)
        self.show_prediction.setChecked(overlay.show_prediction)
        self.show_label.setChecked(overlay.show_label)
        self.show_uncertainty.setChecked(overlay.show_uncertainty)
        self.style_box.setCurrentText(overlay.style.value)
        self.opacity.setValue(round(overlay.opacity * 100))
        for widget in widgets:
            widget.blockSignals(False)
        self.opacity_value.setText(f"{round(overlay.opacity * 100)} %")
        self.legend.setVisible(overlay.style is OverlayStyle.COMPARE)
