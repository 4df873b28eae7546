"""The segment table's commands: add, remove, recolour, and add a ground-truth organ as a segment.

A ground-truth organ the patient offers (IRCAD's tumours, vessels, kidneys, spleen …) is read on a
worker (:func:`ctseg_core.io.masks.load_mask`, cached on the patient) and becomes a segment of that
name holding a copy of it, as one undo step; its live Dice is then against that very mask.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import QColorDialog, QMenu, QMessageBox, QToolButton

from ctseg_core.annotate.segment_set import SegmentRow
from ctseg_core.io.masks import load_mask
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.panels.segments import COLOUR, SegmentsPanel
from ctseg_gui.widgets.plain_text import message_text

GROUND_TRUTH_JOB = "segment_gt"


class SegmentCommands(QObject):
    """Add / remove / from-ground-truth buttons of the segment table, and its recolour dialog."""

    def __init__(self, host: WindowHost, panel: SegmentsPanel) -> None:
        super().__init__(host.window())
        self.host, self.panel, self.editor = host, panel, host.editor
        self.add_action = self._button("Add", "Add an empty segment and edit it", self.add_empty)
        self.remove_action = self._button(
            "Remove", "Remove the selected segment (Undo brings it back; the liver asks first)", self.remove
        )
        self.truth_menu = QMenu(panel)
        self.truth_menu.aboutToShow.connect(self._fill_truth_menu)
        truth = QToolButton()
        truth.setText("From ground truth")
        truth.setToolTip("Add an organ of the patient's ground truth as a segment")
        truth.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        truth.setMenu(self.truth_menu)
        panel.add_button(truth)
        panel.table.cellDoubleClicked.connect(self._on_double_click)
        self.editor.segmentsChanged.connect(self.update_actions)
        self.editor.labelChanged.connect(self.update_actions)
        host.state.patientChanged.connect(self.update_actions)
        self.update_actions()

    def _button(self, text: str, tip: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        button = QToolButton()
        button.setDefaultAction(action)
        self.panel.add_button(button)
        return action

    def update_actions(self) -> None:
        has_patient = self.host.state.patient is not None
        self.add_action.setEnabled(has_patient)
        self.remove_action.setEnabled(len(self.editor.segments) > 1)

    def add_empty(self) -> None:
        row = self.editor.add_segment("segment")
        if row is not None:
            self.host.show_status(f"Added the segment “{row.name}”: paint it with the brush")

    def remove(self) -> None:
        """Remove the selected segment; the liver only once the user confirms (see :meth:`confirm_remove`)."""
        row = self.editor.segments.active_row()
        if row is not None and len(self.editor.segments) > 1 and self.confirm_remove(row):
            self.editor.remove_segment(row.value)
            self.host.show_status(f"Removed the segment “{row.name}” (Undo brings it back)")

    def confirm_remove(self, row: SegmentRow) -> bool:
        """True to remove segment ``row``: any but the liver at once; the liver (:meth:`SegmentSet.primary`),
        into which Accept prediction and Start from ground truth go, after a question whose default is No."""
        if row != self.editor.segments.primary():
            return True
        answer = QMessageBox.question(
            self.host.window(),
            "Remove the liver segment?",
            message_text(
                f"The segment “{row.name}” is the liver, where the model's prediction and the ground truth go "
                "when you accept them. Removing it clears its voxels (Undo brings it back); accepting a "
                "prediction later adds a new liver segment holding it.\n\nRemove the liver segment?"
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def recolour(self, value: int) -> None:
        """Ask for a colour for segment ``value``."""
        rgb = self.editor.segments.row(value).color
        colour = QColorDialog.getColor(QColor(*rgb), self.host.window(), "Segment colour")
        if colour.isValid():
            self.editor.recolour_segment(value, (colour.red(), colour.green(), colour.blue()))

    def _on_double_click(self, row: int, column: int) -> None:
        rows = self.panel.rows()
        if column == COLOUR and 0 <= row < len(rows):
            self.recolour(rows[row].value)

    def _fill_truth_menu(self) -> None:
        self.truth_menu.clear()
        patient = self.host.state.patient
        names = [] if patient is None else [n for n in patient.available_masks if n not in self.editor.segments.names]
        for name in names:
            self.truth_menu.addAction(name, partial(self.add_from_ground_truth, name))
        if not names:
            self.truth_menu.addAction("(no other ground truth)").setEnabled(False)

    def add_from_ground_truth(self, name: str) -> None:
        """Read organ ``name`` of the patient on a worker and add it as a segment of that name."""
        patient = self.host.state.patient
        if patient is None:
            return
        self.host.show_job_progress(0, 0, f"reading {name}")
        self.host.runner.start(
            GROUND_TRUTH_JOB,
            lambda progress, cancel: load_mask(patient, name, progress, cancel),
            on_success=lambda mask: self._add_truth(patient, name, mask),
            on_failure=lambda error: self.host.report_error(f"Could not read the ground truth “{name}”", error),
            on_progress=self.host.show_job_progress,
        )

    def _add_truth(self, patient: object, name: str, mask: np.ndarray) -> None:
        if patient is not self.host.state.patient:
            return  # another patient opened meanwhile
        self.editor.session.set_segment_truths(self.editor.ground_truth_segments())
        row = self.editor.add_segment(name, mask)
        if row is not None:
            self.host.show_status(f"Added the ground truth “{name}” as a segment")
