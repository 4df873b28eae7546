"""Autosave and recovery of the label: never lose more than a minute or 20 edits.

A copy of the label is autosaved to the recovery file (``ctseg_core.annotate.recovery``) every
minute and every 20 edits, written on a worker from a copy taken on the GUI thread. When a patient
opens with an autosave of that very CT, the user is offered to restore it. A successful save, or
an explicit discard, deletes it (:meth:`Autosaver.discard`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from ctseg_core.annotate.recovery import (
    RecoveryInfo,
    discard_recovery,
    load_recovery,
    load_recovery_segments,
    save_recovery,
)
from ctseg_core.annotate.segment_set import PRIMARY_SEGMENT
from ctseg_core.errors import CtsegError
from ctseg_core.io.patient import Patient
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.dialogs.messages import short_error
from ctseg_gui.jobs.workers import Job
from ctseg_gui.widgets.plain_text import message_text

log = logging.getLogger(__name__)

AUTOSAVE_INTERVAL_MS = 60_000
AUTOSAVE_EVERY_EDITS = 20
#: How long a deletion waits for an autosave being written to land (it takes ≈ 0.2 s).
WRITE_WAIT_MS = 10_000


class Autosaver(QObject):
    """Writes the recovery copy on a worker when the label changed, and offers it back on opening."""

    autosaved = Signal(object)  # Path of the recovery sidecar

    def __init__(self, host: WindowHost) -> None:
        super().__init__(host.window())
        self.host = host
        self.state, self.editor, self.runner = host.state, host.editor, host.runner
        self._edits_since_autosave = 0
        self._autosaved_revision = -1
        self._again = False
        self._job: Job | None = None
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.editor.stepCommitted.connect(self._on_step_committed)
        self.state.patientChanged.connect(self._on_patient_changed)

    def _on_patient_changed(self) -> None:
        self._edits_since_autosave = 0
        self._autosaved_revision = -1

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
            self._again = True
            return False
        self._edits_since_autosave = 0
        copy = [(segment, mask.copy()) for segment, mask in editor.segments.pairs()]  # every segment
        revision, name, edits = editor.revision, editor.name, editor.unsaved_edits
        self._job = self.runner.start(
            "autosave",
            lambda progress, cancel: save_recovery(copy, patient, name, edits),
            on_success=lambda path: self._on_autosaved(path, patient, revision),
            on_failure=self._on_autosave_failed,
        )
        return True

    def _on_autosaved(self, path: Path, patient: Patient, revision: int) -> None:
        self._autosaved_revision = revision
        if patient is self.state.patient and not self.editor.is_modified:
            self.discard(patient)  # saved meanwhile: the autosave is stale
        self.autosaved.emit(path)
        self._autosave_if_asked_meanwhile()

    def _on_autosave_failed(self, error: BaseException) -> None:
        """A failing autosave says so in the status bar; a dialog every minute would stop the work."""
        log.warning("autosave failed: %s", error)
        self.host.show_status(f"Autosave failed: {short_error(error)}")
        self._autosave_if_asked_meanwhile()

    def _autosave_if_asked_meanwhile(self) -> None:
        if self._again:
            self._again = False
            self.autosave()

    def offer_recovery(self, info: RecoveryInfo | None) -> bool:
        """Ask to restore an autosave of this CT; restore it (unsaved, undoable), or delete it. True if restored."""
        patient = self.state.patient
        if info is None or patient is None or not self.host.ask_questions:
            return False  # a scripted run leaves the autosave for the next interactive session
        answer = QMessageBox.question(
            self.host.window(),
            "Restore autosaved label?",
            message_text(
                f"An autosave of the label “{info.name}” ({info.edits} unsaved edit{'s' if info.edits != 1 else ''}, "
                f"{info.saved_at.replace('T', ' ')} UTC) was found for this CT.\n\n"
                "Restore it? No deletes the autosave."
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        if answer != QMessageBox.StandardButton.Yes:
            self.discard(patient)
            return False
        try:
            self._restore(info)
        except CtsegError as error:
            self.host.report_error("Could not restore the autosave", error)
            return False
        self.host.show_status(f"Restored the autosaved label “{info.name}”")
        return True

    def _restore(self, info: RecoveryInfo) -> None:
        """Edit the autosaved label again: a lone liver as one undoable step, several segments afresh."""
        segments = load_recovery_segments(info) if info.segments else []
        if not segments:
            self.editor.start_label(load_recovery(info), info.name, "Restore autosave", modified=True)
        elif len(segments) == 1 and segments[0][0].name == PRIMARY_SEGMENT:
            self.editor.start_label(segments[0][1], info.name, "Restore autosave", modified=True)
        else:
            self.editor.start_segments(segments, info.name, modified=True)

    def discard(self, patient: Patient) -> None:
        """Delete the patient's autosave, after letting an autosave being written land, so that it
        cannot bring the file back once deleted."""
        job = self._job
        if job is not None and job.isRunning():
            job.wait(WRITE_WAIT_MS)
        try:
            discard_recovery(patient)
        except OSError as error:
            log.warning("could not delete the autosave: %s", error)

    def stop(self) -> None:
        """No more timed autosaves (the window is closing)."""
        self.autosave_timer.stop()
