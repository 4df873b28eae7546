"""The annotator's commands: edit actions to editor calls, volume tools on a worker, enabled states.

The volume tools (interpolate, remove islands, keep largest) run on a worker, shown in the status
bar with Cancel; the editing commands wait (disabled) until the result is written as one undo step.
Saving and loading are :mod:`~ctseg_gui.commands.label_files`' job, autosave :mod:`~ctseg_gui.commands.autosave`'s.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ctseg_core.annotate.session import DEFAULT_LABEL_NAME
from ctseg_core.annotate.tools import Tool
from ctseg_core.annotate.volume_tools import PendingVolumeEdit, VolumeEdit, VolumeTool
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.label_files import SAVE_JOB
from ctseg_gui.jobs.workers import Job
from ctseg_gui.widgets.edit_actions import EditActions

#: The runner's kind for the volume tools; the window lists it among its status-bar jobs.
VOLUME_EDIT_JOB = "edit"


class Annotator(QObject):
    """Connects the edit actions to the editor and keeps their enabled, checked and text states."""

    volumeEditFinished = Signal(object)  # VolumeTool whose result was written (or changed nothing)

    def __init__(self, host: WindowHost, actions: EditActions) -> None:
        super().__init__(host.window())
        self.host, self.actions = host, actions
        state, editor = host.state, host.editor
        self.state, self.editor, self.runner = state, editor, host.runner
        self._volume_job: tuple[Job, PendingVolumeEdit] | None = None
        self._connect_actions()
        editor.historyChanged.connect(self.update_actions)
        editor.labelChanged.connect(self._on_label_changed)
        editor.volumeEditChanged.connect(self.update_actions)
        editor.segmentsChanged.connect(self._name_empty)
        editor.toolChanged.connect(self._on_tool_changed)
        editor.notice.connect(host.show_status)
        state.patientChanged.connect(self.update_actions)
        state.masksChanged.connect(self.update_actions)
        self.runner.changed.connect(self._on_jobs_changed)
        self._on_tool_changed(editor.tool)
        self.update_actions()

    def _connect_actions(self) -> None:
        a, editor = self.actions, self.editor
        a.tool_group.triggered.connect(lambda act: editor.set_tool(act.data()))
        a.undo.triggered.connect(self.undo)
        a.redo.triggered.connect(self.redo)
        a.fill_holes.triggered.connect(self.fill_holes)
        a.interpolate.triggered.connect(lambda: self.start_volume_edit(VolumeTool.INTERPOLATE))
        a.remove_islands.triggered.connect(lambda: self.start_volume_edit(VolumeTool.REMOVE_ISLANDS))
        a.keep_largest.triggered.connect(lambda: self.start_volume_edit(VolumeTool.KEEP_LARGEST))
        a.smaller_brush.triggered.connect(lambda: editor.step_brush(-1))
        a.larger_brush.triggered.connect(lambda: editor.step_brush(1))
        a.new_empty.triggered.connect(self.start_empty)
        a.from_gt.triggered.connect(self.start_from_ground_truth)
        a.accept_prediction.triggered.connect(self.accept_prediction)

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
        saving = self.runner.running(SAVE_JOB)
        a.save.setEnabled(has_label and not saving)
        a.save_as.setEnabled(has_label and not saving)

    def _name_empty(self) -> None:
        """With several segments, Empty says which it clears: the active one only."""
        row, empty = self.editor.segments.active_row(), self.actions.new_empty
        if len(self.editor.segments) > 1 and row is not None:
            shown = row.name if len(row.name) <= 14 else f"{row.name[:13]}…"
            empty.setText(f"Empty “{shown}”")
            empty.setToolTip(f"Empty the active segment “{row.name}” only; the other segments are kept")
        else:
            empty.setText("Empty")
            empty.setToolTip("Start an empty label")

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

    # ---------------------------------------------------------------- starting a label

    def start_empty(self) -> None:
        """Empty: a new empty label, or with several segments the active one only (the others are kept)."""
        several = len(self.editor.segments) > 1
        emptied = self.editor.empty_active_segment()
        if not several:
            self.host.show_status("Started an empty label")
        elif emptied is not None:
            self.host.show_status(
                f"Emptied the segment “{emptied}” only; the other segments are kept (Undo brings it back)"
            )

    def start_from_ground_truth(self) -> None:
        state = self.state
        if state.gt is not None:
            name = state.gt_name or DEFAULT_LABEL_NAME
            self.editor.start_label(state.gt, name, f"Start from ground truth ({name})")
            self.host.show_status(f"Editing a copy of the ground truth “{name}”")

    def accept_prediction(self) -> None:
        """Edit the model's prediction; it exists nowhere on disk, so it counts as unsaved."""
        if self.state.prediction is not None:
            self.editor.start_label(self.state.prediction, DEFAULT_LABEL_NAME, "Accept prediction", modified=True)
            self.host.show_status("Editing the accepted prediction")

    # ---------------------------------------------------------------- tools

    def undo(self) -> None:
        description = self.editor.history.undo_description
        if self.editor.undo() is not None:
            self.host.show_status(f"Undid {description}")

    def redo(self) -> None:
        description = self.editor.history.redo_description
        if self.editor.redo() is not None:
            self.host.show_status(f"Redid {description}")

    def fill_holes(self) -> None:
        added = self.editor.fill_holes()
        self.host.show_status(
            f"Filled holes: {added} voxels added on {self.editor.active_slice_text()}"
            if added
            else "No holes on this slice"
        )

    def start_volume_edit(self, tool: VolumeTool) -> bool:
        """Run a volume tool on a worker over a copy of the label; False if it could not start.

        Its result is written, as one undo step, only if it is still the edit under way: Cancel,
        a new label or another patient meanwhile drops it.
        """
        pending = self.editor.begin_volume_edit(tool)
        if pending is None:
            return False
        min_ml = self.editor.min_island_ml
        self.host.show_job_progress(0, 0, tool.stage)
        job = self.runner.start(
            VOLUME_EDIT_JOB,
            pending.run,
            on_success=lambda edit: self._on_volume_edited(pending, edit, min_ml),
            on_failure=lambda error: self._on_volume_edit_failed(pending, error),
            on_progress=self.host.show_job_progress,
        )
        self._volume_job = (job, pending)
        self.update_actions()
        return True

    def _on_volume_edited(self, pending: PendingVolumeEdit, edit: VolumeEdit, min_ml: float) -> None:
        self._volume_job = None
        if self.editor.finish_volume_edit(pending, edit) is None:
            return
        self.host.show_status(_volume_outcome(pending.tool, edit.result, min_ml))
        self.volumeEditFinished.emit(pending.tool)

    def _on_volume_edit_failed(self, pending: PendingVolumeEdit, error: BaseException) -> None:
        self._volume_job = None
        self.editor.cancel_volume_edit(pending)
        self.host.report_error(f"{pending.tool.value} failed", error)


def _volume_outcome(tool: VolumeTool, slices: list[int], min_ml: float) -> str:
    """What the status bar says after a volume tool, from the slices its core function reported."""
    if tool is VolumeTool.INTERPOLATE:
        return (
            f"Interpolated {len(slices)} slices"
            if slices
            else "Nothing to interpolate: annotate two slices with empty slices between them"
        )
    if tool is VolumeTool.REMOVE_ISLANDS:
        return (
            f"Removed islands under {min_ml:g} mL from {len(slices)} slices"
            if slices
            else (f"No islands under {min_ml:g} mL")
        )
    return f"Kept the largest piece; {len(slices)} slices changed" if slices else "The label is already one piece"
