"""The annotator's commands: edit actions and their keys, saving, loading, autosave and recovery.

It never loses work. The window title carries ``*`` while the label has unsaved edits; closing the
window or opening another patient asks Save / Discard / Cancel first. A copy of the label is
autosaved to the recovery file (``ctseg_core.annotate.recovery``) every minute and every 20 edits, written
on a worker from a copy taken on the GUI thread; when a patient opens with an autosave of that very
CT, the user is offered to restore it. A successful save, or an explicit discard, deletes it. A
failed save (read-only folder, full disk) says why and keeps the edits and the ``*``.

The volume tools (interpolate, remove islands, keep largest) run on a worker, shown in the status
bar with Cancel; the editing commands wait (disabled) until the result is written as one undo step.

Keys (free in the viewer): N navigate, B brush, X or Shift+B eraser, L flood fill, H fill holes on
the slice, I interpolate between annotated slices, [ and ] brush size, Ctrl+Z undo, Ctrl+Shift+Z
or Ctrl+Y redo, Ctrl+S save, Ctrl+Shift+S save as, E show/hide the label (View menu).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ctseg_core.annotate.labels import (
    LabelFormat,
    LoadedLabel,
    SavedLabel,
    SaveTarget,
    autosave,
    load_label,
    save_label,
)
from ctseg_core.annotate.recovery import RecoveryInfo, discard_recovery, load_recovery
from ctseg_core.errors import CtsegError
from ctseg_core.io.patient import Patient

from .editor import DEFAULT_LABEL_NAME, EditorState, PendingVolumeEdit, Tool, VolumeTool
from .save_dialog import SaveLabelDialog
from .tasks import VolumeEdit
from .workers import Job

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

AUTOSAVE_INTERVAL_MS = 60_000
#: The runner's kind for the volume tools; the window lists it among its status-bar jobs.
VOLUME_EDIT_JOB = "edit"
AUTOSAVE_EVERY_EDITS = 20
STATUS_MS = 6000
TOOL_KEYS: dict[Tool, tuple[str, ...]] = {
    Tool.NAVIGATE: ("N",),
    Tool.BRUSH: ("B",),
    Tool.ERASER: ("X", "Shift+B"),
    Tool.FLOOD: ("L",),
}
TOOL_TIPS = {
    Tool.NAVIGATE: "Left drag pans; no editing",
    Tool.BRUSH: "Left drag paints a round brush ([ and ] change its size)",
    Tool.ERASER: "Left drag erases with the brush",
    Tool.FLOOD: "Click fills the connected region within the HU range, on this slice",
}


def _keys(*keys: str) -> list[QKeySequence]:
    return [QKeySequence(key) for key in keys]


class EditActions:
    """Every annotator command as a QAction: menus, the toolbar and the Edit panel's buttons share them."""

    def __init__(self, parent: QWidget) -> None:
        def action(text: str, keys: tuple[str, ...] = (), tip: str = "", checkable: bool = False) -> QAction:
            act = QAction(text, parent)
            act.setShortcuts(_keys(*keys))
            shown_keys = " or ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            act.setToolTip(f"{tip or text} ({shown_keys})" if keys else (tip or text))
            act.setCheckable(checkable)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            parent.addAction(act)  # keys work even when the action is in no visible menu
            return act

        self.tool_group = QActionGroup(parent)
        self.tools: dict[Tool, QAction] = {}
        for tool in Tool:
            act = action(tool.value, TOOL_KEYS[tool], TOOL_TIPS[tool], checkable=True)
            act.setData(tool)
            self.tool_group.addAction(act)
            self.tools[tool] = act
        self.undo = action("Undo", ("Ctrl+Z",))
        self.redo = action("Redo", ("Ctrl+Shift+Z", "Ctrl+Y"))
        self.fill_holes = action("Fill holes", ("H",), "Fill holes enclosed by the label on this slice")
        self.interpolate = action(
            "Interpolate", ("I",), "Fill the empty slices between annotated slices (shape-based interpolation)")
        self.remove_islands = action("Remove islands", (), "Delete 3D pieces smaller than the size beside")
        self.keep_largest = action("Keep largest", (), "Keep only the largest 3D piece of the label")
        self.smaller_brush = action("Smaller brush", ("[",))
        self.larger_brush = action("Larger brush", ("]",))
        self.new_empty = action("Empty", (), "Start an empty label")
        self.from_gt = action("Ground truth", (), "Start from a copy of the ground truth")
        self.accept_prediction = action("Accept prediction", (), "Start from the model's prediction")
        self.save = action("&Save label", ("Ctrl+S",), "Save the label (asks where the first time)")
        self.save_as = action("Save label &as…", ("Ctrl+Shift+S",), "Save the label as IRCAD, NIfTI or DICOM SEG")
        self.load_file = action("Load label from &file…", ("Ctrl+L",), "Load a NIfTI or DICOM SEG label")
        self.load_folder = action("Load label from IRCAD mask &folder…", (), "Load MASKS_DICOM/<name>")


class Annotator(QObject):
    """Connects the editor to the window: commands, file jobs on workers, autosave, prompts."""

    saved = Signal(object)  # SaveTarget, after a successful save
    labelLoaded = Signal()
    autosaved = Signal(object)  # Path of the recovery sidecar
    volumeEditFinished = Signal(object)  # VolumeTool whose result was written (or changed nothing)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.editor: EditorState = window.editor
        self.runner = window.runner
        self.actions = EditActions(window)
        #: Where Ctrl+S saves without asking: the last save, or the file a label was loaded from.
        self.last_target: SaveTarget | None = None
        #: The current patient's CT headers, read by the first DICOM SEG save and reused.
        self._seg_sources: tuple[Patient, list] | None = None
        self._edits_since_autosave = 0
        self._autosaved_revision = -1
        self._autosave_again = False
        self._autosave_job: Job | None = None
        self._volume_job: tuple[Job, PendingVolumeEdit] | None = None
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self._connect_actions()
        self.editor.stepCommitted.connect(self._on_step_committed)
        self.editor.historyChanged.connect(self.update_actions)
        self.editor.labelChanged.connect(self._on_label_changed)
        self.editor.volumeEditChanged.connect(self.update_actions)
        self.editor.toolChanged.connect(self._on_tool_changed)
        self.editor.notice.connect(self._status)
        self.state.patientChanged.connect(self._on_patient_changed)
        self.state.masksChanged.connect(self.update_actions)
        self.runner.changed.connect(self._on_jobs_changed)
        self._on_tool_changed(self.editor.tool)
        self.update_actions()

    def _connect_actions(self) -> None:
        a, editor = self.actions, self.editor
        a.tool_group.triggered.connect(lambda act: editor.set_tool(act.data()))
        a.undo.triggered.connect(self.undo)
        a.redo.triggered.connect(self.redo)
        a.fill_holes.triggered.connect(self.fill_holes)
        a.interpolate.triggered.connect(self.interpolate)
        a.remove_islands.triggered.connect(self.remove_small_islands)
        a.keep_largest.triggered.connect(self.keep_largest_component)
        a.smaller_brush.triggered.connect(lambda: editor.step_brush(-1))
        a.larger_brush.triggered.connect(lambda: editor.step_brush(1))
        a.new_empty.triggered.connect(self.start_empty)
        a.from_gt.triggered.connect(self.start_from_ground_truth)
        a.accept_prediction.triggered.connect(self.accept_prediction)
        a.save.triggered.connect(self.save)
        a.save_as.triggered.connect(self.save_as)
        a.load_file.triggered.connect(self.choose_label_file)
        a.load_folder.triggered.connect(self.choose_label_folder)

    # ---------------------------------------------------------------- state → actions

    def update_actions(self) -> None:
        a, editor, state = self.actions, self.editor, self.state
        has_patient, has_label = state.patient is not None, editor.has_label
        editable = has_label and editor.volume_edit is None  # a volume tool running takes no other edit
        history = editor.history
        a.undo.setEnabled(editable and history.can_undo)
        a.undo.setText(f"&Undo {history.undo_description}" if has_label and history.can_undo else "&Undo")
        a.redo.setEnabled(editable and history.can_redo)
        a.redo.setText(f"&Redo {history.redo_description}" if has_label and history.can_redo else "&Redo")
        for act in (a.fill_holes, a.interpolate, a.remove_islands, a.keep_largest):
            act.setEnabled(editable)
        for act in (*a.tools.values(), a.new_empty, a.smaller_brush, a.larger_brush, a.load_file, a.load_folder):
            act.setEnabled(has_patient)
        a.from_gt.setEnabled(state.gt is not None)
        a.accept_prediction.setEnabled(state.prediction is not None)
        saving = self.runner.running("save")
        a.save.setEnabled(has_label and not saving)
        a.save_as.setEnabled(has_label and not saving)

    def _on_tool_changed(self, tool: Tool) -> None:
        self.actions.tools[tool].setChecked(True)

    def _on_label_changed(self) -> None:
        """A new label, or none (another patient): a volume tool still running worked on the old one."""
        if self._volume_job is not None:
            self.runner.cancel(VOLUME_EDIT_JOB)
        self.update_actions()

    def _on_jobs_changed(self) -> None:
        volume_job = self._volume_job
        if volume_job is not None and volume_job[0].cancelled:  # Cancel in the status bar, a new label, closing
            self._volume_job = None
            self.editor.cancel_volume_edit(volume_job[1])
        self.update_actions()

    def _on_patient_changed(self) -> None:
        self.last_target = None
        self._seg_sources = None
        self._edits_since_autosave = 0
        self._autosaved_revision = -1
        self.update_actions()

    def _status(self, message: str) -> None:
        self.window.statusBar().showMessage(message, STATUS_MS)

    # ---------------------------------------------------------------- starting a label

    def start_empty(self) -> None:
        self.editor.start_label(None, self.editor.name, "New empty label")
        self._status("Started an empty label")

    def start_from_ground_truth(self) -> None:
        state = self.state
        if state.gt is not None:
            name = state.gt_name or DEFAULT_LABEL_NAME
            self.editor.start_label(state.gt, name, f"Start from ground truth ({name})")
            self._status(f"Editing a copy of the ground truth “{name}”")

    def accept_prediction(self) -> None:
        """Edit the model's prediction; it exists nowhere on disk, so it counts as unsaved."""
        if self.state.prediction is not None:
            self.editor.start_label(self.state.prediction, DEFAULT_LABEL_NAME, "Accept prediction", modified=True)
            self._status("Editing the accepted prediction")

    # ---------------------------------------------------------------- tools

    def undo(self) -> None:
        description = self.editor.history.undo_description
        if self.editor.undo() is not None:
            self._status(f"Undid {description}")

    def redo(self) -> None:
        description = self.editor.history.redo_description
        if self.editor.redo() is not None:
            self._status(f"Redid {description}")

    def fill_holes(self) -> None:
        added = self.editor.fill_holes()
        self._status(f"Filled holes: {added} voxels added on slice {self.state.slice_index + 1}"
                     if added else "No holes on this slice")

    def interpolate(self) -> bool:
        return self.start_volume_edit(VolumeTool.INTERPOLATE)

    def remove_small_islands(self) -> bool:
        return self.start_volume_edit(VolumeTool.REMOVE_ISLANDS)

    def keep_largest_component(self) -> bool:
        return self.start_volume_edit(VolumeTool.KEEP_LARGEST)

    def start_volume_edit(self, tool: VolumeTool) -> bool:
        """Run a volume tool on a worker over a copy of the label; False if it could not start.

        Its result is written, as one undo step, only if it is still the edit under way: Cancel,
        a new label or another patient meanwhile drops it.
        """
        pending = self.editor.begin_volume_edit(tool)
        if pending is None:
            return False
        min_ml = self.editor.min_island_ml
        self.window.show_job_progress(0, 0, tool.stage)
        job = self.runner.start(
            VOLUME_EDIT_JOB, pending.run,
            on_success=lambda edit: self._on_volume_edited(pending, edit, min_ml),
            on_failure=lambda error: self._on_volume_edit_failed(pending, error),
            on_progress=self.window.show_job_progress,
        )
        self._volume_job = (job, pending)
        self.update_actions()
        return True

    def _on_volume_edited(self, pending: PendingVolumeEdit, edit: VolumeEdit, min_ml: float) -> None:
        self._volume_job = None
        if self.editor.finish_volume_edit(pending, edit) is None:
            return
        result = edit.result
        if pending.tool is VolumeTool.INTERPOLATE:
            self._status(f"Interpolated {len(result)} slices" if result
                         else "Nothing to interpolate: annotate two slices with empty slices between them")
        elif pending.tool is VolumeTool.REMOVE_ISLANDS:
            self._status(f"Removed islands under {min_ml:g} mL from {len(result)} slices"
                         if result else f"No islands under {min_ml:g} mL")
        else:
            self._status(f"Kept the largest piece; {len(result)} slices changed" if result
                         else "The label is already one piece")
        self.volumeEditFinished.emit(pending.tool)

    def _on_volume_edit_failed(self, pending: PendingVolumeEdit, error: BaseException) -> None:
        self._volume_job = None
        self.editor.cancel_volume_edit(pending)
        self.window.report_error(f"{pending.tool.value} failed", error)

    # ---------------------------------------------------------------- saving

    def ask_save_target(self) -> SaveTarget | None:
        """The save dialog (format, name, destination); None if cancelled. Tests replace it."""
        patient = self.state.patient
        assert patient is not None
        dialog = SaveLabelDialog(patient, self.editor.name, self.last_target, self.window.settings, self.window)
        return dialog.target() if dialog.exec() else None

    def save(self) -> None:
        """Ctrl+S: save where the label was last saved or loaded from, else ask."""
        target = self.last_target or self.ask_save_target()
        if target is not None:
            self.save_to(target)

    def save_as(self) -> None:
        target = self.ask_save_target()
        if target is not None:
            self.save_to(target)

    def save_to(self, target: SaveTarget, then: Callable[[], None] | None = None) -> bool:
        """Save a copy of the label on a worker; ``then`` runs after a successful save. False if not started."""
        patient, label = self.state.patient, self.editor.label
        if patient is None or label is None:
            return False
        if self.runner.running("save"):
            self._status("A save is already running")
            return False
        copy, revision = label.copy(), self.editor.revision
        cached = self._seg_sources
        sources = cached[1] if cached is not None and cached[0] is patient else None
        self.window.show_job_progress(0, 0, "saving label")
        self.runner.start(
            "save", lambda progress, cancel: save_label(copy, patient, target, sources, progress, cancel),
            on_success=lambda saved: self._on_saved(saved, patient, revision, then),
            on_failure=lambda error: self.window.report_error("Could not save the label", error),
            on_progress=self.window.show_job_progress,
        )
        return True

    def _on_saved(self, saved: SavedLabel, patient: Patient, revision: int,
                  then: Callable[[], None] | None) -> None:
        target = saved.target
        if patient is self.state.patient:
            if saved.sources is not None:
                self._seg_sources = (patient, saved.sources)
            self.last_target = target
            self.editor.name = target.name
            if self.editor.mark_saved(revision):
                self._discard_recovery(patient)
        self._status(f"Saved the label to {target.describe()}")
        self.saved.emit(target)
        if then is not None:
            then()

    # ---------------------------------------------------------------- loading

    def choose_label_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Load label", self._start_dir(),
            "Labels (*.nii.gz *.nii *.dcm);;NIfTI (*.nii.gz *.nii);;DICOM SEG (*.dcm);;All files (*)")
        if path:
            self.load_label_from(path)

    def choose_label_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Load label from an IRCAD mask folder", self._start_dir())
        if path:
            self.load_label_from(path)

    def _start_dir(self) -> str:
        patient = self.state.patient
        return str(patient.source_path) if patient is not None else str(Path.home())

    def load_label_from(self, path: str | Path) -> None:
        """Read a label (NIfTI file, DICOM SEG file, or IRCAD mask folder) on a worker and edit it."""
        patient = self.state.patient
        if patient is None:
            return
        path = Path(path)
        self.window.show_job_progress(0, 0, "reading label")
        self.runner.start(
            "label", lambda progress, cancel: load_label(path, patient, progress, cancel),
            on_success=lambda loaded: self._on_label_loaded(loaded, patient),
            on_failure=lambda error: self.window.report_error("Could not load the label", error),
            on_progress=self.window.show_job_progress,
        )

    def _on_label_loaded(self, loaded: LoadedLabel, patient: Patient) -> None:
        if patient is not self.state.patient:
            return
        self.editor.start_label(loaded.mask, loaded.name, f"Load {loaded.path.name}")
        self.last_target = _target_of(loaded)
        self._status(f"Loaded the label “{loaded.name}”{loaded.note} from {loaded.path}")
        self.labelLoaded.emit()

    # ---------------------------------------------------------------- never lose work

    def resolve_unsaved(self, doing: str, proceed: Callable[[], None]) -> bool:
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
            self.window, "Unsaved label",
            f"The label “{editor.name}” has {edits} unsaved edit{'s' if edits != 1 else ''}.\n"
            f"Save it before {doing}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Discard:
            self._discard_recovery(patient)
            return True
        if answer == QMessageBox.StandardButton.Save:
            target = self.last_target or self.ask_save_target()
            if target is not None:
                self.save_to(target, then=proceed)
        return False

    def _on_step_committed(self) -> None:
        self._edits_since_autosave += 1
        if self._edits_since_autosave >= AUTOSAVE_EVERY_EDITS:
            self.autosave()

    def autosave(self) -> bool:
        """Write the recovery copy on a worker if the label changed since the last one; True if started."""
        editor, patient = self.editor, self.state.patient
        if patient is None or editor.label is None or not editor.is_modified:
            return False
        if editor.revision == self._autosaved_revision:
            return False
        if self.runner.running("autosave"):  # two writers would delete each other's files
            self._autosave_again = True
            return False
        self._edits_since_autosave = 0
        copy, revision, name, edits = editor.label.copy(), editor.revision, editor.name, editor.unsaved_edits
        self._autosave_job = self.runner.start(
            "autosave", lambda progress, cancel: autosave(copy, patient, name, edits),
            on_success=lambda path: self._on_autosaved(path, patient, revision),
            on_failure=self._on_autosave_failed,
        )
        return True

    def _on_autosaved(self, path: Path, patient: Patient, revision: int) -> None:
        self._autosaved_revision = revision
        if patient is self.state.patient and not self.editor.is_modified:
            self._discard_recovery(patient)  # saved meanwhile: the autosave is stale
        self.autosaved.emit(path)
        if self._autosave_again:
            self._autosave_again = False
            self.autosave()

    def _on_autosave_failed(self, error: BaseException) -> None:
        """A failing autosave says so in the status bar; a dialog every minute would stop the work."""
        log.warning("autosave failed: %s", error)
        self.window.statusBar().showMessage(f"Autosave failed: {_describe(error)}", STATUS_MS)
        if self._autosave_again:
            self._autosave_again = False
            self.autosave()

    def offer_recovery(self, info: RecoveryInfo | None) -> bool:
        """Ask to restore an autosave of this CT; restore it (unsaved, undoable), or delete it. True if restored."""
        patient = self.state.patient
        if info is None or patient is None or not self.window.ask_questions:
            return False  # a scripted run leaves the autosave for the next interactive session
        answer = QMessageBox.question(
            self.window, "Restore autosaved label?",
            f"An autosave of the label “{info.name}” ({info.edits} unsaved edit{'s' if info.edits != 1 else ''}, "
            f"{info.saved_at.replace('T', ' ')} UTC) was found for this CT.\n\n"
            "Restore it? No deletes the autosave.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
        )
        if answer != QMessageBox.StandardButton.Yes:
            self._discard_recovery(patient)
            return False
        try:
            mask = load_recovery(info)
        except CtsegError as error:
            self.window.report_error("Could not restore the autosave", error)
            return False
        self.editor.start_label(mask, info.name, "Restore autosave", modified=True)
        self._status(f"Restored the autosaved label “{info.name}”")
        return True

    def _discard_recovery(self, patient: Patient) -> None:
        """Delete the patient's autosave, after letting an autosave being written land (≤ 0.2 s),
        so that it cannot bring the file back once deleted."""
        job = self._autosave_job
        if job is not None and job.isRunning():
            job.wait(10_000)
        try:
            discard_recovery(patient)
        except OSError as error:
            log.warning("could not delete the autosave: %s", error)


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


def _target_of(loaded: LoadedLabel) -> SaveTarget | None:
    """Where Ctrl+S writes a loaded label back: the same file, or the same IRCAD mask folder."""
    path = loaded.path
    if path.is_dir():
        if path.parent.name == "MASKS_DICOM":
            return SaveTarget(LabelFormat.IRCAD, path.parent.parent, path.name)
        return None
    fmt = LabelFormat.NIFTI if path.name.lower().endswith((".nii", ".nii.gz")) else LabelFormat.DICOM_SEG
    return SaveTarget(fmt, path, loaded.name)
