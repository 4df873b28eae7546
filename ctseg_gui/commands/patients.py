"""Opening a patient (a folder, a file, the demo) and reading another organ as ground truth, on workers.

The patient shown stays until the new one is ready; a load error shows the core's message and
leaves it open. Unsaved edits are resolved first (:meth:`LabelFiles.resolve_unsaved`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_core.synth.demo import ensure_demo_patient
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.label_files import LabelFiles
from ctseg_gui.jobs.patients import GroundTruth, OpenedPatient, load_ground_truth, open_patient
from ctseg_gui.jobs.workers import Work

#: The runner's kinds for these jobs; the window lists them among its status-bar jobs.
OPEN_JOB, MASK_JOB = "load", "mask"


class PatientOpener(QObject):
    """Starts the loading jobs and hands their results over: ``opened`` for a patient (the window shows
    it), the state itself for another ground-truth organ."""

    opened = Signal(object, object)  # OpenedPatient, the path asked for (None for the demo)
    groundTruthFailed = Signal()

    def __init__(self, host: WindowHost, files: LabelFiles) -> None:
        super().__init__(host.window())
        self.host, self.state, self.runner, self.files = host, host.state, host.runner, files

    def open_path(self, path: str | Path, series_uid: str | None = None) -> None:
        """Load a patient (``series_uid``: that series) on a worker; the one shown stays until the new one is ready."""
        path = str(Path(path).expanduser().absolute())
        self._start_load(
            path, lambda progress, cancel: open_patient(path, progress, cancel, series_uid), Path(path).name
        )

    def open_loaded(self, opened: OpenedPatient, path: str) -> None:
        """Show a patient already loaded (the cohort browser's next one, read in the background)."""
        self._start_load(path, lambda progress, cancel: opened, Path(path).name)

    def open_demo(self) -> None:
        """Open the demo phantom, writing it to the cache folder first if needed."""

        def work(progress: ProgressCallback, cancel: CancelCheck) -> OpenedPatient:
            return open_patient(ensure_demo_patient(progress, cancel), progress, cancel)

        self._start_load(None, work, "demo patient")

    def _start_load(self, path: str | None, work: Work[OpenedPatient], label: str) -> None:
        if not self.files.resolve_unsaved("opening another patient", lambda: self._start_load(path, work, label)):
            return
        self.host.show_status(f"Opening {label}…", timeout_ms=0)
        self.host.show_job_progress(0, 0, "opening")
        self.runner.start(
            OPEN_JOB,
            work,
            on_success=lambda opened: self.opened.emit(opened, path),
            on_failure=lambda error: self.host.report_error("Could not open patient", error),
            on_progress=self.host.show_job_progress,
        )

    def choose_ground_truth(self, name: str) -> None:
        """Use organ ``name`` as ground truth: read it on a worker (first time) and rescore."""
        patient, prediction = self.state.patient, self.state.prediction
        if patient is None or name == self.state.gt_name:
            return
        self.host.show_job_progress(0, 0, f"reading {name}")
        self.runner.start(
            MASK_JOB,
            lambda progress, cancel: load_ground_truth(patient, name, prediction, progress, cancel),
            on_success=self._on_ground_truth_loaded,
            on_failure=self._on_ground_truth_failed,
            on_progress=self.host.show_job_progress,
        )

    def _on_ground_truth_loaded(self, truth: GroundTruth) -> None:
        self.state.set_ground_truth(truth)
        self.host.show_status(f"Ground truth: {truth.name}")

    def _on_ground_truth_failed(self, error: BaseException) -> None:
        self.groundTruthFailed.emit()
        self.host.report_error("Could not read the mask", error)
