"""The Patient panel: who and what is open, how it was stored, warnings, and the ground-truth organ."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QVBoxLayout, QWidget

from ctseg_core.orientation import stored_orientation_note
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.widgets.plain_text import data_label, plain_tooltip

NO_MASK = "(none)"


class PatientPanel(QGroupBox):
    """Who and what is open, its geometry and warnings, and which organ is the ground truth."""

    groundTruthRequested = Signal(str)

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__("Patient", parent)
        self.state = state
        self.name = data_label("No patient open")
        self.name.setWordWrap(True)
        self.name.setStyleSheet("font-weight: bold;")
        self.series = data_label()
        self.series.setWordWrap(True)
        self.series.hide()
        self.geometry_label = data_label()
        self.geometry_label.setWordWrap(True)
        self.geometry_label.hide()
        self.warnings = data_label()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #f0a030;")
        self.warnings.hide()
        self.organ = QComboBox()
        self.organ.setToolTip("Mask shown and scored as ground truth; other organs load when picked")
        self.organ.setEnabled(False)
        organ_row = QHBoxLayout()
        organ_row.addWidget(data_label("Ground truth"))
        organ_row.addWidget(self.organ, 1)
        layout = QVBoxLayout(self)
        for widget in (self.name, self.series, self.geometry_label, self.warnings):
            layout.addWidget(widget)
        layout.addLayout(organ_row)
        self.organ.activated.connect(self._on_organ_picked)
        state.patientChanged.connect(self._on_patient_changed)
        state.masksChanged.connect(self.sync_organ)

    def _on_patient_changed(self) -> None:
        patient = self.state.patient
        assert patient is not None
        self.name.setText(patient.patient_name.replace("^", " ").strip() or patient.source_path.name)
        self.series.setText(patient.series_description or "(no series description)")
        self.series.setToolTip(plain_tooltip(f"{patient.source_path}\nSeriesInstanceUID {patient.series_uid}"))
        self.series.show()
        self.geometry_label.show()
        dz, dy, dx = patient.spacing_mm
        depth, rows, columns = patient.shape
        stored = stored_orientation_note(patient.source.geometry, patient.source.reorientation)
        self.geometry_label.setText(
            f"{columns} × {rows} × {depth} voxels · {dx:.3g} × {dy:.3g} × {dz:.3g} mm · {stored}"
        )
        notes = list(patient.warnings) + [f"also in this folder: {s.describe()}" for s in patient.other_series]
        self.warnings.setText("\n".join(f"⚠ {note}" for note in notes))
        self.warnings.setVisible(bool(notes))
        self.organ.clear()
        self.organ.addItems(([NO_MASK] if self.state.gt_name is None else []) + patient.available_masks)
        self.sync_organ()

    def sync_organ(self) -> None:
        """Select the organ the state shows (also to undo a pick whose loading failed)."""
        self.organ.setCurrentText(self.state.gt_name or NO_MASK)

    def _on_organ_picked(self) -> None:
        name = self.organ.currentText()
        if name != NO_MASK and name != self.state.gt_name:
            self.groundTruthRequested.emit(name)
