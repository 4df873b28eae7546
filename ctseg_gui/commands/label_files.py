"""Saving and loading the label, on workers, and the Save / Discard / Cancel prompt before work is lost.

The window title carries ``*`` while the label has unsaved edits; closing the window or opening
another patient asks first (:meth:`LabelFiles.resolve_unsaved`). Writes run on a worker from a
copy taken on the GUI thread; a failed save (read-only folder, full disk) says why and keeps the
edits and the ``*``. The formats are the core's (``ctseg_core.annotate.labels``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ctseg_core.annotate.labels import LabelFormat, LoadedLabel, SavedLabel, SaveTarget, load_label, save_label
from ctseg_core.annotate.segment_set import label_map_segments
from ctseg_core.io.label_files import label_file_kind, written_by_ctseg
from ctseg_core.io.patient import Patient
from ctseg_gui.commands.autosave import Autosaver
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.dialogs.save_label import SaveLabelDialog
from ctseg_gui.widgets.edit_actions import EditActions
from ctseg_gui.widgets.plain_text import message_text

#: The runner's kinds for these jobs; the window lists them among its status-bar jobs.
SAVE_JOB, LOAD_LABEL_JOB = "save", "label"
#: The Load label dialog's file types: every label file ctseg reads.
LABEL_FILE_FILTER = ";;".join(
    (
        "Labels (*.nii.gz *.nii *.dcm *.seg.nrrd *.nrrd *.nhdr *.mha *.mhd)",
        "NIfTI (*.nii.gz *.nii)",
        "DICOM SEG or RTSTRUCT (*.dcm)",
        "3D Slicer segmentation (*.seg.nrrd)",
        "NRRD or MetaImage (*.nrrd *.nhdr *.mha *.mhd)",
        "All files (*)",
    )
)
#: The format Ctrl+S writes a loaded label file back in, by what the file is (NRRD/MetaImage: none,
#: ctseg does not write plain label volumes in them; Save as asks).
_WRITABLE_KINDS = {
    "nifti": LabelFormat.NIFTI,
    "seg": LabelFormat.DICOM_SEG,
    "rtstruct": LabelFormat.RTSTRUCT,
    "seg.nrrd": LabelFormat.SEG_NRRD,
}
#: How often a save asked for while another runs looks whether that one has ended (ms).
SAVE_WAIT_MS = 100


class LabelFiles(QObject):
    """Save, Save as, Load, and the question before unsaved edits would be dropped."""

    saved = Signal(object)  # SaveTarget, after a successful save
    labelLoaded = Signal()

    def __init__(self, host: WindowHost, autosaver: Autosaver, actions: EditActions) -> None:
        super().__init__(host.window())
        self.host, self.settings = host, host.settings
        self.state, self.editor, self.runner, self.autosaver = host.state, host.editor, host.runner, autosaver
        #: Where Ctrl+S saves without asking: the last save, or the file a label was loaded from.
        self.last_target: SaveTarget | None = None
        #: The current patient's CT headers, read by the first DICOM SEG save and reused.
        self._seg_sources: tuple[Patient, list[Any]] | None = None
        #: The file or folder the label was loaded from, while Ctrl+S would write back there.
        self._loaded_from: Path | None = None
        actions.save.triggered.connect(self.save)
        actions.save_as.triggered.connect(self.save_as)
        actions.load_file.triggered.connect(self.choose_label_file)
        actions.load_folder.triggered.connect(self.choose_label_folder)
        self.state.patientChanged.connect(self._on_patient_changed)

    def _on_patient_changed(self) -> None:
        self.last_target = self._loaded_from = None
        self._seg_sources = None

    # ---------------------------------------------------------------- saving

    def ask_save_target(self) -> SaveTarget | None:
        """The save dialog (format, name, destination); None if cancelled. Tests replace it."""
        patient = self.state.patient
        assert patient is not None
        segments = self.editor.segments.names
        dialog = SaveLabelDialog(
            patient, self.editor.name, self.last_target, self.settings, self.host.window(), segments
        )
        return dialog.target() if dialog.exec() else None

    def save(self) -> None:
        """Ctrl+S: save where the label was last saved or loaded from, else ask."""
        target = self.quick_target()
        if target is not None:
            self.save_to(target)

    def quick_target(self) -> SaveTarget | None:
        """Where Ctrl+S saves: the last target, unless that is ground truth the user has not agreed to
        replace (any format: the file or folder a label was loaded from, which ctseg did not write,
        or a mask the loader reads for this patient); then it says so and asks where. None: cancelled."""
        if self.last_target is None:
            return self.ask_save_target()
        target = self.last_target.for_segments(self.editor.segments.names)
        if target != self.last_target:  # segments added or renamed: their IRCAD folders are asked about anew
            target = replace(target, replace_ground_truth=False)
        protected = None if target.replace_ground_truth else self._protected(target)
        if protected is None:
            return target
        answer = QMessageBox.warning(
            self.host.window(),
            "Ground truth: save elsewhere",
            message_text(
                f"Ctrl+S would replace the GROUND TRUTH:\n\n{protected}\n\n"
                "It is not replaced without asking. Save the label elsewhere?"
            ),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        return self.ask_save_target() if answer == QMessageBox.StandardButton.Save else None

    def _protected(self, target: SaveTarget) -> str | None:
        """Why ``target`` is ground truth, or None; a loaded file ctseg did not write counts, as the
        IRCAD mask folder it was loaded from does."""
        protected = target.ground_truth_replaced(self.state.patient)
        if protected is None and target.written_path == self._loaded_from and not written_by_ctseg(target.written_path):
            protected = (
                f"{target.written_path}: a label ctseg did not write (another tool's annotation or ground truth)"
            )
        return protected

    def save_as(self) -> None:
        target = self.ask_save_target()
        if target is not None:
            self.save_to(target)

    def save_to(self, target: SaveTarget, then: Callable[[], object] | None = None) -> bool:
        """Save a copy of the label on a worker; ``then`` runs after a successful save. False if not started."""
        patient, label = self.state.patient, self.editor.label
        if patient is None or label is None:
            return False
        if self.runner.running(SAVE_JOB):
            if then is not None:  # a save on the way to something else (opening, closing) waits, never drops it
                QTimer.singleShot(SAVE_WAIT_MS, lambda: self._save_when_free(target, then))
                self.host.show_status("A save is already running: saving again when it ends")
                return True
            self.host.show_status("A save is already running")
            return False
        copy, revision = self.editor.label_map(), self.editor.revision  # every segment, named: a copy
        cached = self._seg_sources
        sources = cached[1] if cached is not None and cached[0] is patient else None
        self.host.show_job_progress(0, 0, "saving label")
        self.runner.start(
            SAVE_JOB,
            lambda progress, cancel: save_label(copy, patient, target, sources, progress, cancel),
            on_success=lambda saved: self._on_saved(saved, patient, revision, then),
            on_failure=lambda error: self.host.report_error("Could not save the label", error),
            on_progress=self.host.show_job_progress,
        )
        return True

    def _save_when_free(self, target: SaveTarget, then: Callable[[], object]) -> None:
        """Once the running save ends: save (if edits are still unsaved), then go on with ``then``."""
        if self.runner.running(SAVE_JOB):
            QTimer.singleShot(SAVE_WAIT_MS, lambda: self._save_when_free(target, then))
        elif self.editor.is_modified:
            self.save_to(target, then)
        else:
            then()

    def _on_saved(self, saved: SavedLabel, patient: Patient, revision: int, then: Callable[[], object] | None) -> None:
        target = saved.target
        if patient is self.state.patient:
            if saved.sources is not None:
                self._seg_sources = (patient, saved.sources)
            self.last_target = target
            self.editor.name = target.name
            if self.editor.mark_saved(revision):
                self.autosaver.discard(patient)
        self.host.show_status(f"Saved the label to {target.describe()}")
        self.saved.emit(target)
        if then is not None:
            then()

    # ---------------------------------------------------------------- loading

    def choose_label_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.host.window(),
            "Load label",
            self._start_dir(),
            LABEL_FILE_FILTER,
        )
        if path:
            self.load_label_from(path)

    def choose_label_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.host.window(), "Load label from an IRCAD mask folder", self._start_dir()
        )
        if path:
            self.load_label_from(path)

    def _start_dir(self) -> str:
        patient = self.state.patient
        return str(patient.source_path) if patient is not None else str(Path.home())

    def load_label_from(self, path: str | Path) -> None:
        """Read a label (any label file ctseg reads, or IRCAD mask folders) on a worker and edit it."""
        patient = self.state.patient
        if patient is None:
            return
        path = Path(path)
        self.host.show_job_progress(0, 0, "reading label")
        self.runner.start(
            LOAD_LABEL_JOB,
            lambda progress, cancel: load_label(path, patient, progress, cancel),
            on_success=lambda loaded: self._on_label_loaded(loaded, patient),
            on_failure=lambda error: self.host.report_error("Could not load the label", error),
            on_progress=self.host.show_job_progress,
        )

    def _on_label_loaded(self, loaded: LoadedLabel, patient: Patient) -> None:
        if patient is not self.state.patient:
            return
        if loaded.segment_map is None:
            self._edit_loaded(loaded)
        elif self.resolve_unsaved("loading the label", lambda: self._edit_loaded(loaded, patient)):
            self._edit_loaded(loaded)  # several segments start a fresh history: unsaved edits are asked about

    def _edit_loaded(self, loaded: LoadedLabel, patient: Patient | None = None) -> None:
        """Edit a loaded label: one mask (an undoable step), or every named segment in the table."""
        if patient is not None and patient is not self.state.patient:
            return  # saved first, and another patient opened meanwhile
        several = loaded.segment_map
        if several is None:
            self.editor.start_label(loaded.mask, loaded.name, f"Load {loaded.path.name}")
            said = f"the label “{loaded.name}”{loaded.note}"
        else:
            self.editor.start_segments(label_map_segments(several), several.names[0])
            said = f"{len(several.segments)} segments ({', '.join(several.names)})"
            said += "".join(f"; {note}" for note in several.notes)
        self.last_target = _target_of(loaded)
        self._loaded_from = self.last_target.written_path if self.last_target is not None else None
        self.host.show_status(f"Loaded {said} from {loaded.path}")
        self.labelLoaded.emit()

    # ---------------------------------------------------------------- never lose work

    def resolve_unsaved(self, doing: str, proceed: Callable[[], object]) -> bool:
        """Before ``doing`` (e.g. "closing"): True to go ahead now.

        Without unsaved edits, True. Otherwise asks Save / Discard / Cancel: Discard deletes the
        autosave and goes ahead; Save starts saving and calls ``proceed`` once it succeeds (False
        now); Cancel, or a cancelled save dialog, stays (False).
        """
        editor, patient = self.editor, self.state.patient
        if not editor.is_modified or patient is None:
            return True
        edits = editor.unsaved_edits
        answer = QMessageBox.question(
            self.host.window(),
            "Unsaved label",
            message_text(
                f"The label “{editor.name}” has {edits} unsaved edit{'s' if edits != 1 else ''}.\n"
                f"Save it before {doing}?"
            ),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Discard:
            self.autosaver.discard(patient)
            return True
        if answer == QMessageBox.StandardButton.Save:
            target = self.quick_target()
            if target is not None:
                self.save_to(target, then=proceed)
        return False


def _target_of(loaded: LoadedLabel) -> SaveTarget | None:
    """Where Ctrl+S writes a loaded label back: the same file (with every segment the editor opened),
    or the same IRCAD mask folder. None (Ctrl+S asks) for IRCAD folders of several segments, and
    for a plain volume of several values, which the editor opened as one mask."""
    path, several = loaded.path, loaded.segment_map
    if path.is_dir():
        if several is None and path.parent.name == "MASKS_DICOM":
            return SaveTarget(LabelFormat.IRCAD, path.parent.parent, path.name)
        return None
    if several is None and loaded.labels is not None and len(loaded.labels.segments) > 1:
        return None
    fmt = _WRITABLE_KINDS.get(label_file_kind(path) or "")
    if fmt is None:
        return None
    names = tuple(several.names) if several is not None else ()
    return SaveTarget(fmt, path, names[0] if names else loaded.name, segments=names)
