"""The "Save label as" dialog: one place to pick the format, the label's name and where it goes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from ctseg_core.annotate.labels import LabelFormat, SaveTarget
from ctseg_core.errors import CtsegError
from ctseg_core.io.patient import Patient
from ctseg_gui.widgets.plain_text import data_label, message_text

LAST_DIR_KEY = "labels/lastSaveDir"
LAST_FORMAT_KEY = "labels/lastFormat"


def patient_folder(patient: Patient) -> Path:
    """The folder a patient was opened from (its file's folder for a NIfTI or zip)."""
    source = Path(patient.source_path)
    return source if source.is_dir() else source.parent


def default_target(
    fmt: LabelFormat, patient: Patient, name: str, last_dir: str | None, segments: Sequence[str] = ()
) -> SaveTarget:
    """IRCAD into the patient's own folder (its MASKS_DICOM; a folder per segment of ``segments``);
    files beside the patient folder, never inside it, where a NIfTI would be read as one of its
    masks next time."""
    folder = patient_folder(patient)
    if fmt is LabelFormat.IRCAD:
        target = SaveTarget(fmt, folder, name).for_segments(segments)
        if target.ground_truth_replaced(patient) is not None:  # never offer to overwrite the ground truth
            target = replace(target, name=f"{name}_edited")
        return target
    directory = Path(last_dir) if last_dir else folder.parent
    return SaveTarget(fmt, directory / f"{folder.name}_{name}{fmt.suffix}", name).for_segments(segments)


class SaveLabelDialog(QDialog):
    """Format (every writer of :class:`LabelFormat`), name (IRCAD folder, segment name in a file) and
    destination; remembers the last choice."""

    def __init__(
        self,
        patient: Patient,
        name: str,
        last: SaveTarget | None,
        settings: QSettings,
        parent: QWidget | None = None,
        segments: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save label as")
        self.patient, self.settings, self.segments = patient, settings, tuple(segments)
        self.format_box = QComboBox()
        self.format_box.addItems([fmt.value for fmt in LabelFormat])
        self.name_edit = QLineEdit(last.name if last else name)
        self.name_edit.setToolTip(
            "The name of a single label: its IRCAD mask folder, or its segment name in the file. "
            "A label of several segments keeps the segments' names in a file; in IRCAD this is the first "
            "segment's folder, and the others take the same ending (liver_edited, tumour_edited)"
        )
        self.path_edit = QLineEdit()
        self.path_edit.setMinimumWidth(420)
        browse = QPushButton("Browse…")
        self.written = data_label()
        self.written.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        destination = QHBoxLayout()
        destination.addWidget(self.path_edit, 1)
        destination.addWidget(browse)
        form = QFormLayout(self)
        form.addRow("Format", self.format_box)
        form.addRow("Name", self.name_edit)
        form.addRow("Destination", destination)
        form.addRow("", self.written)
        form.addRow(buttons)

        fallback = str(settings.value(LAST_FORMAT_KEY, LabelFormat.NIFTI.name))
        fmt = last.format if last else LabelFormat.__members__.get(fallback, LabelFormat.NIFTI)
        self.format_box.setCurrentText(fmt.value)
        self.path_edit.setText(str(last.path) if last else "")
        if not last:
            self._fill_default()
        self.format_box.currentIndexChanged.connect(self._fill_default)
        self.name_edit.textChanged.connect(self._show_written)
        self.path_edit.textChanged.connect(self._show_written)
        browse.clicked.connect(self._browse)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self._show_written()

    @property
    def format(self) -> LabelFormat:
        return list(LabelFormat)[self.format_box.currentIndex()]

    _replace_ground_truth = False

    def target(self) -> SaveTarget:
        return SaveTarget(
            self.format,
            Path(self.path_edit.text().strip()).expanduser(),
            self.name_edit.text().strip(),
            replace_ground_truth=self._replace_ground_truth,
        ).for_segments(self.segments)

    def _fill_default(self) -> None:
        last_dir = self.settings.value(LAST_DIR_KEY)
        name = self.name_edit.text().strip() or "label"
        target = default_target(self.format, self.patient, name, str(last_dir) if last_dir else None, self.segments)
        if target.name != name:  # the default would have replaced the ground truth: offer a new name
            self.name_edit.setText(target.name)
        self.path_edit.setText(str(target.path))

    def _show_written(self) -> None:
        """Say what will appear on disk, in orange when it replaces something (e.g. the ground truth)."""
        target = self.target()
        if not target.name or str(target.path) == ".":
            self.written.setText("")
            return
        replaces = any(path.exists() for path in target.written_paths)
        self.written.setText(f"{'Replaces' if replaces else 'Writes'} {target.describe()}")
        self.written.setStyleSheet(f"color: {'#f0a030' if replaces else '#9a9a9a'};")

    def _browse(self) -> None:
        current = self.path_edit.text()
        if self.format.is_folder:
            path = QFileDialog.getExistingDirectory(self, "Patient or output folder", current)
        else:
            path, _ = QFileDialog.getSaveFileName(
                self,
                "Save label",
                current,
                f"{self.format.value} (*{self.format.suffix})",
                options=QFileDialog.Option.DontConfirmOverwrite,
            )  # accept() asks once, for every format
        if path:
            if not self.format.is_folder and not path.endswith(self.format.suffix):
                path += self.format.suffix
            self.path_edit.setText(path)

    def accept(self) -> None:
        target = self.target()
        try:
            target.check()
        except CtsegError as error:
            QMessageBox.warning(self, "Save label", message_text(error.problem))
            return
        if not self.path_edit.text().strip():
            QMessageBox.warning(self, "Save label", "Choose where to save the label.")
            return
        ground_truth = target.ground_truth_replaced(self.patient)
        if ground_truth is not None:
            answer = QMessageBox.warning(
                self,
                "Replace the ground truth?",
                message_text(
                    f"Saving “{target.name}” here replaces the GROUND TRUTH:\n\n{ground_truth}\n\n"
                    "The original mask is lost unless you have a copy. Replace the ground truth?"
                ),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            self._replace_ground_truth = True
        elif any(path.exists() for path in target.written_paths):
            answer = QMessageBox.question(
                self,
                "Replace?",
                message_text(f"{target.describe()} exists. Replace it?"),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.settings.setValue(LAST_FORMAT_KEY, target.format.name)
        if not target.format.is_folder:
            self.settings.setValue(LAST_DIR_KEY, str(target.path.parent))
        super().accept()
