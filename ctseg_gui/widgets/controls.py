"""Small widgets the panels share: colour swatches, value readouts, captions, action buttons, HU boxes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QSizePolicy, QSpinBox, QStyle, QToolButton, QVBoxLayout, QWidget

CAPTION_STYLE = "color: #9a9a9a;"


def swatch(rgb: tuple[int, int, int]) -> QLabel:
    """A 12-pixel square of a layer's colour, as in a legend."""
    label = QLabel()
    label.setFixedSize(12, 12)
    label.setStyleSheet(f"background: rgb{rgb}; border: 1px solid #888; border-radius: 2px;")
    return label


def value_label() -> QLabel:
    """A right-aligned, selectable readout that starts as "—" (no value)."""
    label = QLabel("—")
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def live_readout(widest: str, align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignRight) -> QLabel:
    """A readout that changes on every slice, crosshair or pointer move, sized for ``widest``.

    Its size is fixed, so a new value repaints the label alone: a label whose size may change asks its
    panel to lay out again, and a selectable one rebuilds a text document, on every move (together
    ≈ 2 ms per crosshair move in the 1×3 layout, measured). So it is plain text, not selectable.
    It also paints its own background: a see-through label makes Qt repaint its panel and the
    main window beneath it first.
    """
    label = QLabel("—")
    label.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    label.setAutoFillBackground(True)
    metrics = label.fontMetrics()
    label.setFixedSize(metrics.horizontalAdvance(widest) + 4, metrics.height() + 2)
    return label


def caption(text: str) -> QLabel:
    """A grey label naming a group of controls."""
    label = QLabel(text)
    label.setStyleSheet(CAPTION_STYLE)
    return label


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
