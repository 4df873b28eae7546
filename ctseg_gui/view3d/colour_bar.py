"""The 3D pane's distance colouring controls: the checkbox that turns it on, and the colour bar (the core's
diverging map with ticks in mm)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QCheckBox, QWidget

from ctseg_core.surface.distance import DEFAULT_LIMIT_MM, colour_bar_ticks, diverging_rgba


def distance_checkbox(limit_mm: float) -> QCheckBox:
    """The checkbox "Colour prediction by distance to ground truth"; its tooltip says what the colours mean."""
    box = QCheckBox("Colour prediction by distance to ground truth")
    box.setToolTip(
        "Red: the prediction lies outside the ground truth (over-segmented); blue: inside it (under). "
        f"Clamped at ±{limit_mm:g} mm. The ground-truth surface is hidden meanwhile. "
        "The distances are those ASSD and HD95 average. Click a surface to move the crosshair there."
    )
    return box


class DistanceColourBar(QWidget):
    """The colour bar of the distance colouring: the core's diverging map, −limit … +limit, ticks in mm."""

    def __init__(self, limit_mm: float = DEFAULT_LIMIT_MM, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit_mm = limit_mm
        self.setFixedWidth(74)
        self.setMinimumHeight(120)
        self.setToolTip(
            "Signed distance of the prediction's surface to the ground truth's, in mm: red outside "
            f"(over-segmented), blue inside (under-segmented), clamped at ±{limit_mm:g} mm"
        )

    def tick_labels(self) -> list[str]:
        return [f"{value:+g}".replace("-", "−") if value else "0" for value in colour_bar_ticks(self.limit_mm)]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("black"))
        metrics = painter.fontMetrics()
        top, bottom = metrics.height() * 3, self.height() - metrics.height() * 2
        bar = QRect(8, top, 16, max(bottom - top, 10))
        gradient = QLinearGradient(0, bar.top(), 0, bar.bottom())
        values = np.linspace(self.limit_mm, -self.limit_mm, 21)
        for fraction, (red, green, blue, _alpha) in zip(
            np.linspace(0, 1, 21), diverging_rgba(values, self.limit_mm), strict=True
        ):
            gradient.setColorAt(float(fraction), QColor.fromRgbF(float(red), float(green), float(blue)))
        painter.fillRect(bar, gradient)
        painter.setPen(QColor("#d0d0d0"))
        painter.drawText(QRect(0, 2, self.width(), metrics.height()), Qt.AlignmentFlag.AlignHCenter, "mm")
        painter.drawText(
            QRect(0, 2 + metrics.height(), self.width(), metrics.height()), Qt.AlignmentFlag.AlignHCenter, "over"
        )
        painter.drawText(
            QRect(0, bar.bottom() + metrics.height() // 2 + 2, self.width(), metrics.height()),
            Qt.AlignmentFlag.AlignHCenter,
            "under",
        )
        for value, text in zip(colour_bar_ticks(self.limit_mm), self.tick_labels(), strict=True):
            y = bar.bottom() - (value + self.limit_mm) / (2 * self.limit_mm) * bar.height()
            painter.drawLine(bar.right() + 1, int(y), bar.right() + 5, int(y))
            painter.drawText(
                QRect(bar.right() + 8, int(y) - metrics.height() // 2, 40, metrics.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                text,
            )
        painter.end()
