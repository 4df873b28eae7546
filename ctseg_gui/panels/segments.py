"""The segment table, as in Slicer's Segment Editor: colour, name, shown, locked, and live Dice.

One row per segment of the label being edited (:attr:`EditorState.segments`); the selected row is
the segment the tools edit. Double-click a name to rename it, the colour to recolour it; the boxes
show or hide and lock or unlock it. Add, remove and "add from ground truth" are the
:class:`~ctseg_gui.commands.segments.SegmentCommands`' buttons. The table redraws from the editor's
signals and changes the segments only through the editor: it holds no state of its own.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.annotate.segment_set import SegmentRow
from ctseg_core.metrics import format_metric
from ctseg_gui.state.editor import EditorState

COLOUR, NAME, SHOWN, LOCKED, DICE = range(5)
HEADERS = ("", "Segment", "Show", "Lock", "Dice")


class SegmentsPanel(QGroupBox):
    """The segment table and its buttons (filled by :class:`~ctseg_gui.commands.segments.SegmentCommands`)."""

    def __init__(self, editor: EditorState, parent: QWidget | None = None) -> None:
        super().__init__("Segments", parent)
        self.editor = editor
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column in (COLOUR, SHOWN, LOCKED, DICE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(110)
        self.buttons = QHBoxLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(self.buttons)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_selection)
        editor.segmentsChanged.connect(self.refresh)
        editor.labelChanged.connect(self.refresh)
        editor.diceChanged.connect(self._refresh_dice)
        self.refresh()

    def add_button(self, button: QToolButton) -> None:
        self.buttons.addWidget(button)

    def rows(self) -> list[SegmentRow]:
        return list(self.editor.segments.rows)

    def refresh(self) -> None:
        """Fill the table from the editor's segments and select the active one."""
        rows, active = self.rows(), self.editor.segments.active
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(rows))
            for index, row in enumerate(rows):
                self._fill(index, row)
            selected = next((i for i, row in enumerate(rows) if row.value == active), None)
            if selected is not None:
                self.table.selectRow(selected)
        self._refresh_dice()

    def _fill(self, index: int, row: SegmentRow) -> None:
        colour = QTableWidgetItem()
        colour.setData(Qt.ItemDataRole.DecorationRole, QColor(*row.color))  # a swatch, seen when selected too
        colour.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        colour.setToolTip("Double-click to recolour")
        name = QTableWidgetItem(row.name)
        name.setToolTip(f"Label value {row.value}; double-click to rename")
        self.table.setItem(index, COLOUR, colour)
        self.table.setItem(index, NAME, name)
        self.table.setItem(index, SHOWN, _check(row.visible, "Show the segment in the views"))
        self.table.setItem(index, LOCKED, _check(row.locked, "Locked: no tool changes it"))
        dice = QTableWidgetItem("—")
        dice.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        dice.setToolTip("Live Dice against the ground truth of this segment (— where there is none)")
        self.table.setItem(index, DICE, dice)

    def _refresh_dice(self) -> None:
        """Each segment's volume Dice against its ground truth, where the ground truth has it."""
        with QSignalBlocker(self.table):
            for index, row in enumerate(self.rows()):
                item = self.table.item(index, DICE)
                if item is not None:
                    volume = self.editor.dice("gt", row.name).volume
                    item.setText("—" if math.isnan(volume) else format_metric(volume))

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        rows = self.rows()
        if not 0 <= item.row() < len(rows):
            return
        value = rows[item.row()].value
        checked = item.checkState() == Qt.CheckState.Checked
        if item.column() == SHOWN:
            self.editor.set_segment_visible(value, checked)
        elif item.column() == LOCKED:
            self.editor.set_segment_locked(value, checked)
        elif item.column() == NAME:
            self._rename(value, item.text())

    def _rename(self, value: int, name: str) -> None:
        try:
            self.editor.rename_segment(value, name)
        except ValueError as error:
            self.editor.notice.emit(f"Not renamed: {error}")
            self.refresh()

    def _on_selection(self) -> None:
        rows, selected = self.rows(), self.table.selectionModel().selectedRows()
        if selected and selected[0].row() < len(rows):
            self.editor.set_active_segment(rows[selected[0].row()].value)


def _check(checked: bool, tip: str) -> QTableWidgetItem:
    item = QTableWidgetItem()
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    item.setToolTip(tip)
    return item
