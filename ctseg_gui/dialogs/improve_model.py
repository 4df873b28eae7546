"""Model ▸ Improve the model with my saved labels…: fine-tune on the user's corrections, on a worker.

The dialog gathers the patients (by default the recently opened ones that have a label saved by
ctseg), the base model, the epochs and a new name; :func:`ctseg_core.model.finetune.fine_tune`
does the work on a worker thread with epoch progress and Cancel, and registers the result as a
new named model (never over the bundled one). The window stays usable meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.errors import CtsegError
from ctseg_core.metrics import format_metric
from ctseg_core.model.finetune import (
    DEFAULT_EPOCHS,
    HOLD_OUT_RULE,
    FineTuneResult,
    TrainingPatient,
    collect_training_patients,
)
from ctseg_core.model.registry import check_new_name
from ctseg_gui.dialogs.messages import error_message
from ctseg_gui.jobs.segmentation import fine_tune_in_model_process
from ctseg_gui.jobs.workers import JobRunner
from ctseg_gui.widgets.model_picker import ModelPicker
from ctseg_gui.widgets.plain_text import data_label, plain_tooltip

IMPROVE_JOB = "improve-model"
NAME_STEM = "my-liver-model"
TRUTH_RULE = (
    "A patient's newest label saved by ctseg (a MASKS_DICOM folder in the patient, or "
    "PATIENT_NAME.nii.gz / .dcm beside it) is its truth; else its liver ground truth."
)


def free_name(stem: str = NAME_STEM) -> str:
    """``stem``, or ``stem-2``, ``stem-3``… : the first name no registered model has."""
    for number in range(1, 1000):
        name = stem if number == 1 else f"{stem}-{number}"
        try:
            check_new_name(name)
        except CtsegError:
            continue
        return name
    return stem


class ImproveModelDialog(QDialog):
    """Patients, base model, epochs and name; Improve runs ``fine_tune`` on a worker; shows Dice before/after."""

    registered = Signal(object)  # FineTuneResult, once the new model is registered

    def __init__(
        self,
        runner: JobRunner,
        patients: Sequence[TrainingPatient],
        base_model: str | None,
        training_options: dict[str, Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``training_options``: extra keywords for ``fine_tune`` (tests make the run tiny)."""
        super().__init__(parent)
        self.setWindowTitle("Improve the model with my saved labels")
        self.runner = runner
        self.training_options = dict(training_options or {})
        self.outcome: FineTuneResult | None = None

        self._make_widgets(base_model)
        self._arrange()
        self.resize(560, 520)
        self.add_patients(patients)
        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self._remove_selected)
        self.name.textChanged.connect(self._update_enabled)
        self.patients.itemChanged.connect(self._update_enabled)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        self._update_enabled()

    def _make_widgets(self, base_model: str | None) -> None:
        self.patients = QListWidget()
        self.patients.setToolTip("Tick the patients to learn from; each one's training truth is in its tooltip")
        self.patients.setMinimumHeight(120)
        self.add_button = QPushButton("Add patients…")
        self.add_button.setToolTip("A patient folder, or a folder of patients")
        self.remove_button = QPushButton("Remove")
        self.base = ModelPicker()
        self.base.select_path(base_model)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(DEFAULT_EPOCHS)
        self.epochs.setSuffix(" epochs")
        self.name = QLineEdit(free_name())
        self.name.setToolTip("The new model's name (letters, digits, '.', '_', '-'); it never replaces a model")
        self.name_problem = data_label()
        self.name_problem.setStyleSheet("color: #e07070;")
        self.name_problem.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = data_label()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setMinimumHeight(4 * self.status.fontMetrics().lineSpacing())  # the result's Dice lines
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.start_button = QPushButton("Improve")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Close")

    def _arrange(self) -> None:
        """Patients and their buttons, the form, the rules, progress and result, Improve / Close."""
        rule = data_label(f"{TRUTH_RULE}\nValidation: {HOLD_OUT_RULE}.")
        rule.setWordWrap(True)
        rule.setStyleSheet("color: #aaa;")
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        list_buttons.addStretch(1)
        form = QFormLayout()
        form.addRow("Base model", self.base)
        form.addRow("Training", self.epochs)
        form.addRow("New model name", self.name)
        form.addRow("", self.name_problem)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(data_label("Patients with saved labels"))
        layout.addWidget(self.patients, 1)
        layout.addLayout(list_buttons)
        layout.addLayout(form)
        layout.addWidget(rule)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    # ---------------------------------------------------------------- patients

    def add_patients(self, patients: Sequence[TrainingPatient]) -> None:
        known = {str(self.patients.item(i).data(Qt.ItemDataRole.UserRole).source) for i in range(self.patients.count())}
        for patient in patients:
            if str(patient.source) in known:
                continue
            item = QListWidgetItem(f"{patient.name}  —  {patient.truth}")
            item.setData(Qt.ItemDataRole.UserRole, patient)
            item.setToolTip(plain_tooltip(f"{patient.source}\nTruth: {patient.label or 'the liver ground truth'}"))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.patients.addItem(item)
        self._update_enabled()

    def add_folder(self, folder: str | Path) -> dict[str, str]:
        """Add the patients of a folder (or the folder itself); what was skipped and why."""
        found, skipped = collect_training_patients([folder])
        self.add_patients(found)
        if skipped:
            self.status.setText("Skipped: " + "; ".join(f"{Path(p).name} ({why})" for p, why in skipped.items()))
        return skipped

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Patients with saved labels")
        if folder:
            self.add_folder(folder)

    def chosen_patients(self) -> list[TrainingPatient]:
        return [
            self.patients.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.patients.count())
            if self.patients.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _remove_selected(self) -> None:
        for item in self.patients.selectedItems():
            self.patients.takeItem(self.patients.row(item))
        self._update_enabled()

    # ---------------------------------------------------------------- running

    @property
    def running(self) -> bool:
        return self.runner.running(IMPROVE_JOB)

    def name_problem_text(self) -> str:
        try:
            check_new_name(self.name.text().strip())
        except CtsegError as error:
            return error.problem
        return ""

    def start(self) -> None:
        """Fine-tune on a worker; the dialog shows epochs, then the Dice before and after."""
        patients, name = self.chosen_patients(), self.name.text().strip()
        if self.running or not patients or self.name_problem_text():
            return
        base, epochs, options = self.base.current_path(), self.epochs.value(), self.training_options
        self.outcome = None
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText(f"Starting: {len(patients)} patient{'s' if len(patients) != 1 else ''}, {epochs} epochs…")
        self.runner.start(
            IMPROVE_JOB,
            lambda progress, cancel: fine_tune_in_model_process(
                patients, base, name, epochs, progress=progress, should_cancel=cancel, **options
            ),
            on_success=self._on_done,
            on_failure=self._on_failed,
            on_progress=self._on_progress,
        )
        self._update_enabled()

    def cancel_or_close(self) -> None:
        """Cancel a running improvement (nothing is registered); else close the dialog."""
        if self.runner.cancel(IMPROVE_JOB):
            self.progress.hide()
            self.status.setText("Cancelled: no model was registered.")
            self._update_enabled()
        else:
            self.close()

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat("%v/%m epochs" if stage == "training" else "%v/%m")
        self.status.setText(f"{stage[:1].upper()}{stage[1:]}…")

    def _on_done(self, result: FineTuneResult) -> None:
        self.outcome = result
        self.progress.hide()
        self.status.setText(summary(result))
        self.name.setText(free_name())
        self._update_enabled()
        self.registered.emit(result)

    def _on_failed(self, error: BaseException) -> None:
        self.progress.hide()
        self.status.setText(f"Failed: {error_message(error)}")
        self._update_enabled()

    def _update_enabled(self) -> None:
        running = self.running
        problem = self.name_problem_text()
        self.name_problem.setText(problem)
        self.name_problem.setVisible(bool(problem))
        for widget in (self.patients, self.add_button, self.remove_button, self.base, self.epochs, self.name):
            widget.setEnabled(not running)
        self.start_button.setEnabled(not running and bool(self.chosen_patients()) and not problem)
        self.cancel_button.setText("Cancel" if running else "Close")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.cancel(IMPROVE_JOB)  # closing the dialog stops the training: nothing is registered
        super().closeEvent(event)


def summary(result: FineTuneResult) -> str:
    """What the user reads when a model is registered: the Dice before and after, per held-out patient."""
    lines = [
        f"Registered “{result.name}” ({result.epochs} epochs on {', '.join(result.trained_on)}, "
        f"{result.seconds:.0f} s); Segment now uses it."
    ]
    if result.held_out:
        lines.append(
            f"Dice on held-out {', '.join(result.held_out)}: before {format_metric(result.mean_before)} "
            f"→ after {format_metric(result.mean_after)}"
        )
        if len(result.held_out) > 1:
            lines += [
                f"  {name}: {format_metric(result.dice_before.get(name))} → "
                f"{format_metric(result.dice_after.get(name))}"
                for name in result.held_out
            ]
    else:
        lines.append("One patient only: nothing held out, so no Dice was measured.")
    lines += [f"Left out {name}: {why}" for name, why in result.left_out.items()]
    return "\n".join(lines)
