"""Controls the panels share: buttons that are QActions, HU boxes that keep their keys, a scrolling panel column."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QScrollArea, QSizePolicy, QSpinBox, QStyle, QToolButton, QVBoxLayout, QWidget


def action_button(action: QAction) -> QToolButton:
    """A text button that is ``action`` (same text, enabled and checked state, shortcut tooltip)."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


def command_button(action: QAction, text: str) -> QToolButton:
    """A short-labelled button for an action whose own text is long ("Undo Remove small islands")."""
    button = QToolButton()
    button.setText(text)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def follow() -> None:
        button.setEnabled(action.isEnabled())
        button.setToolTip(f"{action.text().replace('&', '')} ({action.shortcut().toString()})")

    button.clicked.connect(action.trigger)
    action.changed.connect(follow)
    follow()
    return button


class HuSpinBox(QSpinBox):
    """A HU box that keeps the arrow and page keys while focused (elsewhere they change slice)."""

    OWN_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown})

    def __init__(self, minimum: int, maximum: int) -> None:
        super().__init__()
        self.setRange(minimum, maximum)
        self.setSuffix(" HU")

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in self.OWN_KEYS
        ):
            event.accept()
            return True
        return super().event(event)


def panel_column(panels: list[QWidget], width: int) -> QScrollArea:
    """Panels stacked in a fixed-width column that scrolls when the window is short; the last stretches.

    The column keeps room for its vertical scroll bar: on a short screen (a 1366 × 768 laptop) the bar
    appears and would otherwise take its width from the panels, cutting off their right edge.
    """
    content = QWidget()
    column = QVBoxLayout(content)
    column.setContentsMargins(6, 6, 6, 6)
    for panel in panels:
        column.addWidget(panel, 1 if panel is panels[-1] else 0)
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setFixedWidth(width + scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent))
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    return scroll
