"""The main window: the Edit panel on the left, the plane views, review controls on the right.

It builds the states, the widgets and the controllers, wires them together, and is the host they
reach it through (:class:`~ctseg_gui.commands.host.WindowHost`: the state, editor and runner they
share, the status line, error dialogs, the status bar's job progress). The controllers in
:mod:`ctseg_gui.commands` do the work: patients and masks, Segment, the edit commands, saving and
loading labels, autosave, exports, the model choice; every long job runs on a worker.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QMainWindow, QVBoxLayout, QWidget

from ctseg_core.display.planes import Plane
from ctseg_gui.commands.autosave import Autosaver
from ctseg_gui.commands.cohort import CohortBrowser
from ctseg_gui.commands.edit import VOLUME_EDIT_JOB, Annotator
from ctseg_gui.commands.host import STATUS_MS
from ctseg_gui.commands.label_files import LOAD_LABEL_JOB, SAVE_JOB, LabelFiles
from ctseg_gui.commands.menus import ViewerMenus
from ctseg_gui.commands.models import ModelChoice
from ctseg_gui.commands.patients import MASK_JOB, OPEN_JOB, PatientOpener
from ctseg_gui.commands.profile_keys import ProfileKeys
from ctseg_gui.commands.recent import RecentPatients
from ctseg_gui.commands.segmentation import Segmentation
from ctseg_gui.commands.segments import SegmentCommands
from ctseg_gui.dialogs import messages
from ctseg_gui.dialogs.messages import error_message
from ctseg_gui.jobs.patients import OpenedPatient
from ctseg_gui.jobs.segmentation import SegmenterCache
from ctseg_gui.jobs.status import JobStatus
from ctseg_gui.jobs.workers import JobRunner
from ctseg_gui.panels.cursor import CursorReadout
from ctseg_gui.panels.edit import EditPanel
from ctseg_gui.panels.navigator import SliceNavigator
from ctseg_gui.panels.overlays import OverlayPanel
from ctseg_gui.panels.patient import PatientPanel
from ctseg_gui.panels.segmentation import SegmentationPanel
from ctseg_gui.panels.segments import SegmentsPanel
from ctseg_gui.panels.window import WindowPanel
from ctseg_gui.plane_view.layout import Layout, PlaneLayout
from ctseg_gui.state.editor import EditorState
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.view3d.pane import make_3d_pane
from ctseg_gui.widgets.controls import panel_column
from ctseg_gui.widgets.edit_actions import EditActions

GEOMETRY_KEY = "window/geometry"
PANEL_WIDTH = 340
EDIT_PANEL_WIDTH = 262
#: Jobs shown in the status bar with progress and Cancel (segmentation has its own panel; autosave
#: and the model preload are silent).
STATUS_JOBS = (OPEN_JOB, MASK_JOB, LOAD_LABEL_JOB, SAVE_JOB, VOLUME_EDIT_JOB)


class MainWindow(QMainWindow):
    """ctseg's viewer window. ``settings`` defaults to QSettings("ctseg", "ctseg")."""

    patientLoaded = Signal()
    segmentationFinished = Signal()
    errorReported = Signal(str)
    modelPreloaded = Signal(bool)  # the background model load ended: True if the model is ready

    def __init__(
        self,
        settings: QSettings | None = None,
        model_path: str | None = None,
        segmenters: SegmenterCache | None = None,
        preload_model: bool = True,
    ) -> None:
        """``preload_model``: load the model in the background once the window is shown and idle
        (the app does; tests and benchmarks turn it off to keep TensorFlow out of their timings)."""
        super().__init__()
        self.settings = settings if settings is not None else QSettings("ctseg", "ctseg")
        self.preload_model = preload_model
        self._shown_once = False
        #: Errors open a modal dialog; scripted runs (screenshots) turn this off and use errorReported.
        self.show_error_dialogs = True
        #: Scripted runs also skip the offer to restore an autosave (it stays for the next session).
        self.ask_questions = True
        self._title = "ctseg"
        self.state = ViewerState(self)
        self.editor = EditorState(self.state, self)  # first to follow a new patient: it drops the old label
        self.runner = JobRunner(self)
        self._build_views_and_panels()
        self._build_controllers(model_path, segmenters)
        self._build_menus(model_path)
        self._build_layout()
        self._connect()
        self._show_first_time()

    def _build_views_and_panels(self) -> None:
        self.plane_layout = PlaneLayout(self.state, self.editor, make_3d_pane(self.state, self.editor, self.runner))
        self.axial_view = self.plane_layout.view(Plane.AXIAL)  # the axial view: editing and the Dice plot's plane
        self.navigator = SliceNavigator(self.state)
        self.patient_panel = PatientPanel(self.state)
        self.window_panel = WindowPanel(self.state)
        self.overlay_panel = OverlayPanel(self.state)
        self.segmentation_panel = SegmentationPanel(self.state)
        self.cursor_readout = CursorReadout(self.state)
        self.job_status = JobStatus()
        self.statusBar().addPermanentWidget(self.job_status)
        self.edit_actions = EditActions(self)
        self.edit_panel = EditPanel(self.editor, self.edit_actions)
        self.segments_panel = SegmentsPanel(self.editor)

    def _build_controllers(self, model_path: str | None, segmenters: SegmenterCache | None) -> None:
        self.autosaver = Autosaver(self)
        self.label_files = LabelFiles(self, self.autosaver, self.edit_actions)
        self.annotator = Annotator(self, self.edit_actions)
        self.segment_commands = SegmentCommands(self, self.segments_panel)
        self.opener = PatientOpener(self, self.label_files)
        self.segmentation = Segmentation(self, self.segmentation_panel, self._status_busy, model_path, segmenters)

    def _build_menus(self, model_path: str | None) -> None:
        self.menus = ViewerMenus(self, self.edit_actions)
        self.setMenuBar(self.menus.bar)
        self.addToolBar(self.menus.toolbar)
        self.profile_keys = ProfileKeys(self, self.edit_actions, self.menus.view_menu, self.settings)
        self.recent = RecentPatients(self.settings, self.menus.recent_menu, self)
        self.model_choice = ModelChoice(self, self.segmentation, self.menus.model_menu, self.recent.paths, model_path)
        self.cohort = CohortBrowser(self, self.opener, self.label_files, self.segmentation)

    def _show_first_time(self) -> None:
        self.setAcceptDrops(True)
        self._update_title()
        self.resize(1360, 900)
        geometry = self.settings.value(GEOMETRY_KEY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._update_enabled()
        self.axial_view.setFocus()

    def _build_layout(self) -> None:
        viewer = QVBoxLayout()
        viewer.setContentsMargins(0, 0, 0, 0)
        viewer.setSpacing(0)
        viewer.addWidget(self.plane_layout, 1)
        viewer.addWidget(self.navigator)
        viewer.addWidget(self.cursor_readout)
        edit_column = panel_column([self.edit_panel, self.segments_panel], EDIT_PANEL_WIDTH)
        # the segmentation panel's Dice plot takes the spare height
        review_column = panel_column(
            [self.patient_panel, self.window_panel, self.overlay_panel, self.segmentation_panel], PANEL_WIDTH
        )
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(edit_column)
        row.addLayout(viewer, 1)
        row.addWidget(review_column)
        self.setCentralWidget(central)

    def _connect(self) -> None:
        menus = self.menus
        menus.open_action.triggered.connect(self.choose_folder)
        menus.demo_action.triggered.connect(self.open_demo)
        menus.quit_action.triggered.connect(self.close)
        menus.segment_action.triggered.connect(self.segmentation.start)
        menus.cancel_action.triggered.connect(self.segmentation.cancel)
        menus.worst_action.triggered.connect(self.segmentation_panel.go_to_worst_slice)
        self.job_status.cancel.clicked.connect(self.cancel_loading)
        self.patient_panel.groundTruthRequested.connect(self.opener.choose_ground_truth)
        self.segmentation_panel.segment.clicked.connect(self.segmentation.start)
        self.segmentation_panel.cancel.clicked.connect(self.segmentation.cancel)
        self.opener.opened.connect(self._on_patient_opened)
        self.opener.groundTruthFailed.connect(self.patient_panel.sync_organ)
        self.recent.chosen.connect(self.open_path)
        self.segmentation.finished.connect(self.segmentationFinished)
        self.segmentation.preloaded.connect(self.modelPreloaded)
        self.runner.changed.connect(self._update_enabled)
        self.state.patientChanged.connect(self._update_enabled)
        self.state.scoresChanged.connect(self._update_enabled)
        self.editor.historyChanged.connect(self._update_title)

    # ---------------------------------------------------------------- commands

    def choose_folder(self) -> None:
        start = (self.recent.paths() or [str(Path.home())])[0]
        folder = QFileDialog.getExistingDirectory(self, "Open patient folder", str(Path(start).parent))
        if folder:
            self.cohort.series_choice.open_folder(folder)  # asks which series when it holds several

    def open_path(self, path: str | Path) -> None:
        """Load a patient on a worker; the one shown stays until the new one is ready."""
        self.opener.open_path(path)

    def open_demo(self) -> None:
        """Open the demo phantom, writing it to the cache folder first if needed."""
        self.opener.open_demo()

    def set_layout(self, layout: Layout | str) -> None:
        """Show one plane, the three planes (``"1x3"``) or the planes and the 3D pane (``"2x2"``)."""
        self.plane_layout.set_layout(Layout(layout))

    def start_segmentation(self) -> None:
        """Segment the liver of the patient shown, on a worker."""
        self.segmentation.start()

    def cancel_loading(self) -> None:
        """The status bar's Cancel: stop every job it shows."""
        cancelled = [kind for kind in STATUS_JOBS if self.runner.cancel(kind)]
        if cancelled:
            self.patient_panel.sync_organ()
            self.show_status("Cancelled")

    def _on_patient_opened(self, opened: OpenedPatient, path: str | None) -> None:
        self.segmentation.drop()  # the jobs of the patient being replaced
        for kind in (MASK_JOB, LOAD_LABEL_JOB):
            self.runner.cancel(kind)
        self.state.set_patient(opened)
        patient = opened.patient
        self.recent.add(path or str(patient.source_path))
        title = f"ctseg — {patient.title()}"
        if patient.other_series:
            title += f" [series 1 of {1 + len(patient.other_series)}]"
        self._title = title
        self._update_title()
        notes = f" — {len(patient.warnings)} warning(s), see Patient" if patient.warnings else ""
        self.show_status(
            f"Opened {patient.source_path.name}: {patient.shape[0]} slices in {patient.load_seconds:.1f} s{notes}"
        )
        self.autosaver.offer_recovery(opened.recovery)
        self.patientLoaded.emit()

    # ---------------------------------------------------------------- the controllers' host (commands.host.WindowHost)

    def show_status(self, message: str, timeout_ms: int = STATUS_MS) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def report_error(self, title: str, error: BaseException) -> None:
        message = error_message(error)
        self.show_status(f"{title}: {message}")
        self.errorReported.emit(message)
        if self.show_error_dialogs:
            messages.show_error(self, title, message)

    def show_job_progress(self, done: int, total: int, stage: str) -> None:
        """The status bar's stage, progress bar and Cancel, for loading, reading masks and labels, saving."""
        self.job_status.show_progress(done, total, stage)

    def _status_busy(self) -> bool:
        return any(self.runner.running(kind) for kind in STATUS_JOBS)

    def _update_title(self) -> None:
        """The patient's title, with " *" while the label has unsaved edits."""
        self.setWindowTitle(self._title + (" *" if self.editor.is_modified else ""))

    def _update_enabled(self) -> None:
        patient, menus = self.state.patient, self.menus
        segmenting = self.segmentation.running
        can_segment = patient is not None and not segmenting and not self.runner.running(MASK_JOB)
        menus.segment_action.setEnabled(can_segment)
        self.segmentation_panel.segment.setEnabled(can_segment)
        menus.cancel_action.setEnabled(segmenting)
        menus.worst_action.setEnabled(self.state.scores.worst_slice() is not None)
        self.patient_panel.organ.setEnabled(patient is not None and bool(patient.available_masks) and not segmenting)
        self.job_status.setVisible(self._status_busy())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if self.preload_model:
                self.segmentation.start_preloading()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_path(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            self.open_path(path)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.label_files.resolve_unsaved("closing", self.close):
            event.ignore()
            return
        self.autosaver.stop()
        self.segmentation.shutdown()
        self.runner.shutdown()
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        super().closeEvent(event)


def _dropped_path(event: QDropEvent | QDragEnterEvent) -> str | None:
    """The one local file or folder being dropped, else None."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    if len(urls) == 1 and urls[0].isLocalFile():
        return urls[0].toLocalFile()
    return None
