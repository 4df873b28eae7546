"""Labels the panels share: colour swatches, value readouts (fixed-size ones for values that change on
every move), captions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from ctseg_gui.widgets.plain_text import data_label

CAPTION_STYLE = "color: #9a9a9a;"


def swatch(rgb: tuple[int, int, int]) -> QLabel:
    """A 12-pixel square of a layer's colour, as in a legend."""
    label = data_label()
    label.setFixedSize(12, 12)
    label.setStyleSheet(f"background: rgb{rgb}; border: 1px solid #888; border-radius: 2px;")
    return label


def value_label() -> QLabel:
    """A right-aligned, selectable readout that starts as "—" (no value)."""
    label = data_label("—")
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
    label = data_label("—")
    label.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    label.setAutoFillBackground(True)
    metrics = label.fontMetrics()
    label.setFixedSize(metrics.horizontalAdvance(widest) + 4, metrics.height() + 2)
    return label


def caption(text: str) -> QLabel:
    """A grey label naming a group of controls."""
    label = data_label(text)
    label.setStyleSheet(CAPTION_STYLE)
    return label
