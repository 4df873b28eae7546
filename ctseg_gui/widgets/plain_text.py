"""Text from files shown as text, never as HTML: one home for the viewer's data labels and tooltips.

Qt guesses a label's format (``Qt.AutoText``): a PatientName of ``<h1>VERIFIED</h1>`` would show as a
heading, and ``<img src=…>`` would load a local file. Every QLabel of the viewer is made here, plain
text; the few that format their own text (bold names) escape what they insert (:func:`escaped`).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


def data_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that shows its text literally (``Qt.PlainText``), whatever a file put in it."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def escaped(text: str) -> str:
    """``text`` for insertion into the viewer's own rich text: its ``<`` ``>`` ``&`` shown, not parsed."""
    return html.escape(text, quote=False)


def plain_tooltip(text: str) -> str:
    """A tooltip showing ``text`` literally: tooltips have no text format, so it is escaped and marked
    as rich text (line breaks kept), which Qt then shows as the characters given."""
    return f"<p style='white-space:pre'>{html.escape(text, quote=False)}</p>"


#: A zero-width space: after a ``<`` it keeps Qt from reading what follows as a tag, and shows nothing.
_TAG_BREAK = "\u200b"


def message_text(text: str) -> str:
    """Text for Qt's static message boxes (``QMessageBox.question`` and the like), which guess the format
    (``Qt.AutoText``) and have no plain-text switch: every ``<`` is followed by a zero-width space, so a
    label or file name like ``<h1>…`` or ``<img src=…>`` is shown as typed and nothing is parsed or loaded."""
    return text.replace("<", "<" + _TAG_BREAK)
