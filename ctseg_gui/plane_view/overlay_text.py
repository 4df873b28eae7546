"""Text drawn over a plane view's image (title, window, orientation letters), kept as a pixmap.

A child widget over the view's viewport is repainted whenever the viewport under it is, so on every
crosshair move. A style-sheet QLabel lays out and draws its text each time: six of them per view
cost ≈ 0.9 ms per view and frame in the 1×3 layout (measured, `benchmarks/bench_view.py`). This
widget draws its text once into a pixmap when the text changes, and each repaint only copies it.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QWidget

TEXT_RGB = "#e6e6e6"
LETTER_RGB = "#f0c000"
PADDING = 1  # pixels round the text, as a QLabel's margin


class OverlayText(QWidget):
    """A transparent, mouse-transparent text label over the image; the same text API as a QLabel."""

    def __init__(self, parent: QWidget, colour: str = TEXT_RGB, pixel_size: int = 12, bold: bool = False) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        font = QFont(self.font())
        font.setPixelSize(pixel_size)
        font.setBold(bold)
        self.setFont(font)
        self._colour = QColor(colour)
        self._text = ""
        self._alignment = Qt.AlignmentFlag.AlignLeft
        self._pixmap = QPixmap()
        self._render()

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._render()

    def setAlignment(self, alignment: Qt.AlignmentFlag) -> None:
        """Horizontal alignment of the lines within the label (a QLabel's, for multi-line text)."""
        self._alignment = alignment
        self._render()

    def sizeHint(self) -> QSize:
        return self._size

    def adjustSize(self) -> None:
        self.resize(self._size)

    def _render(self) -> None:
        """Draw the text into the pixmap, at the screen's pixel ratio so it stays sharp."""
        metrics = QFontMetrics(self.font())
        lines = self._text.split("\n") if self._text else []
        width = max((metrics.horizontalAdvance(line) for line in lines), default=0) + 2 * PADDING
        height = metrics.height() * len(lines) + 2 * PADDING
        self._size = QSize(width, height)
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(max(1, round(width * ratio)), max(1, round(height * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        if lines:
            painter = QPainter(pixmap)
            painter.setFont(self.font())
            painter.setPen(self._colour)
            for i, line in enumerate(lines):
                rect = QRect(PADDING, PADDING + i * metrics.height(), width - 2 * PADDING, metrics.height())
                painter.drawText(rect, int(self._alignment | Qt.AlignmentFlag.AlignVCenter), line)
            painter.end()
        self._pixmap = pixmap
        self.updateGeometry()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._pixmap.devicePixelRatio() != self.devicePixelRatioF():  # moved to a screen of another ratio
            self._render()
        painter = QPainter(self)
        painter.drawPixmap(QPoint(0, 0), self._pixmap)
        painter.end()
