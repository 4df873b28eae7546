"""The main window: the Edit panel on the left, the slice view, review controls on the right.

It owns the viewer and editor states, the job runner and the model cache, turns menus, keys and
drops into state changes or jobs, and reports job errors as dialogs with the core's message.
Loading, mask reading, segmentation, scoring, label saving and the volume edit tools all run on
workers: the GUI thread only displays and edits. The annotator (``annotator.py``) holds the
editing commands, and the window asks it before anything would drop unsaved edits (closing,
opening another patient).

Once the window has been shown and left idle for a moment, a worker loads the model (and so
imports TensorFlow, which holds the GIL for a while) so that the first Segment starts at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.errors import CtsegError
from ctseg_core.progress import CancelCheck, ProgressCallback
from ctseg_core.windowing import PRESETS

from .annotator import VOLUME_EDIT_JOB, Annotator
from .demo import ensure_demo_patient
from .edit_panel import EditPanel
from .editor import EditorState
from .overlay import OverlayStyle
from .panels import CursorReadout, OverlayPanel, PatientPanel, SegmentationPanel, SliceNavigator, WindowPanel
from .slice_view import SliceView
from .state import ViewerState
from .tasks import (
    GroundTruth,
    OpenedPatient,
    SegmentationOutcome,
    SegmenterCache,
    load_ground_truth,
    open_patient,
    preload_segmenter,
    segment,
)
from .workers import JobRunner, Work

log = logging.getLogger(__name__)

RECENT_KEY = "recentPatients"
GEOMETRY_KEY = "window/geometry"
MAX_RECENT = 10
PAGE_SLICES = 10
PANEL_WIDTH = 340
EDIT_PANEL_WIDTH = 262
STATUS_MESSAGE_MS = 8000
#: Jobs shown in the status bar with progress and Cancel (segmentation has its own panel; autosave
#: and the model preload are silent).
STATUS_JOBS = ("load", "mask", "label", "save", VOLUME_EDIT_JOB)
#: The model starts loading this long after the window is first shown, and is put off by as much
#: again while a status-bar job runs, so that launching and opening a patient never share the CPU with it.
PRELOAD_DELAY_MS = 1500

HELP_TEXT = """<table cellspacing=4>
<tr><td><b>Wheel</b></td><td>next / previous slice</td></tr>
<tr><td><b>Ctrl + wheel</b></td><td>zoom about the pointer</td></tr>
<tr><td><b>Left or middle drag</b></td><td>pan</td></tr>
<tr><td><b>Right drag</b></td><td>window: ← → width, ↑ ↓ level</td></tr>
<tr><td><b>↑ ↓ &nbsp; PgUp PgDn &nbsp; Home End</b></td><td>slice ±1, ±10, first, last</td></tr>
<tr><td><b>1 – 5</b></td><td>window presets</td></tr>
<tr><td><b>G &nbsp; P &nbsp; E &nbsp; O</b></td><td>ground truth, prediction, edited label, overlay style</td></tr>
<tr><td><b>F</b></td><td>fit the slice to the window</td></tr>
<tr><td><b>Ctrl+R &nbsp; Esc &nbsp; W</b></td><td>segment, cancel, worst slice</td></tr>
<tr><td colspan=2><br><b>Editing</b> (the brush and eraser paint with the left button; middle drag pans)</td></tr>
<tr><td><b>N &nbsp; B &nbsp; X or Shift+B &nbsp; L</b></td><td>navigate, brush, eraser, flood fill</td></tr>
<tr><td><b>[ &nbsp; ]</b></td><td>smaller, larger brush</td></tr>
<tr><td><b>H &nbsp; I</b></td><td>fill holes on the slice, interpolate between slices</td></tr>
<tr><td><b>Ctrl+Z &nbsp; Ctrl+Shift+Z or Ctrl+Y</b></td><td>undo, redo</td></tr>
<tr><td><b>Ctrl+S &nbsp; Ctrl+Shift+S &nbsp; Ctrl+L</b></td><td>save label, save as, load label</td></tr>
</table>"""


def error_message(error: BaseException) -> str:
    """What the user reads: the core's own message, the OS's for a file error (read-only folder,
    full disk), or the exception's type and text; never a traceback."""
    if isinstance(error, CtsegError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    log.error("unexpected error in a background job", exc_info=error)
    return f"{type(error).__name__}: {error}"


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
        self.model_path = model_path
        self.segmenters = segmenters if segmenters is not None else SegmenterCache()
        self.preload_model = preload_model
        self.preload_timer = QTimer(self)
        self.preload_timer.setSingleShot(True)
        self.preload_timer.setInterval(PRELOAD_DELAY_MS)
        self.preload_timer.timeout.connect(self.preload_segmenter)
        self._shown_once = False
        #: Errors open a modal dialog; scripted runs (screenshots) turn this off and use errorReported.
        self.show_error_dialogs = True
        #: Scripted runs also skip the offer to restore an autosave (it stays for the next session).
        self.ask_questions = True
        self.state = ViewerState(self)
        self.editor = EditorState(self.state, self)
        self.runner = JobRunner(self)
        self._segment_started = 0.0
        self._title = "ctseg"

        self.slice_view = SliceView(self.state, self.editor)
        self.navigator = SliceNavigator(self.state)
        self.patient_panel = PatientPanel(self.state)
        self.window_panel = WindowPanel(self.state)
        self.overlay_panel = OverlayPanel(self.state)
        self.segmentation_panel = SegmentationPanel(self.state)
        self.cursor_readout = CursorReadout(self.state)
        self._build_status_bar()
        self.annotator = Annotator(self)
        self.edit_panel = EditPanel(self.editor, self.annotator.actions)
        self._build_layout()
        self._build_menus()
        self._build_toolbar()

        self.patient_panel.groundTruthRequested.connect(self.choose_ground_truth)
        self.segmentation_panel.segment.clicked.connect(self.start_segmentation)
        self.segmentation_panel.cancel.clicked.connect(self.cancel_segmentation)
        self.runner.changed.connect(self._update_enabled)
        self.state.patientChanged.connect(self._update_enabled)
        self.state.scoresChanged.connect(self._update_enabled)
        self.state.overlayChanged.connect(self._on_overlay_changed)
        self.editor.historyChanged.connect(self._update_title)

        self.setAcceptDrops(True)
        self._update_title()
        self.resize(1360, 900)
        geometry = self.settings.value(GEOMETRY_KEY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._update_enabled()
        self._rebuild_recent_menu()
        self.slice_view.setFocus()

    # ---------------------------------------------------------------- layout

    def _build_layout(self) -> None:
        viewer = QVBoxLayout()
        viewer.setContentsMargins(0, 0, 0, 0)
        viewer.setSpacing(0)
        viewer.addWidget(self.slice_view, 1)
        viewer.addWidget(self.navigator)
        viewer.addWidget(self.cursor_readout)

        edit_column = _panel_column([self.edit_panel], EDIT_PANEL_WIDTH)
        # the segmentation panel's Dice plot takes the spare height
        review_column = _panel_column(
            [self.patient_panel, self.window_panel, self.overlay_panel, self.segmentation_panel], PANEL_WIDTH)

        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(edit_column)
        row.addLayout(viewer, 1)
        row.addWidget(review_column)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        self.load_stage = QLabel()
        self.load_progress = QProgressBar()
        self.load_progress.setFixedWidth(220)
        self.load_progress.setFormat("%v/%m")
        self.load_cancel = QToolButton()
        self.load_cancel.setText("Cancel")
        self.load_cancel.clicked.connect(self.cancel_loading)
        for widget in (self.load_stage, self.load_progress, self.load_cancel):
            self.statusBar().addPermanentWidget(widget)
            widget.hide()

    def _action(self, menu: QMenu, text: str, slot: Callable[..., object],
                shortcut: str | QKeySequence.StandardKey | None = None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        state = self.state
        file = self.menuBar().addMenu("&File")
        self._action(file, "&Open folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self._action(file, "Open &demo patient", self.open_demo)
        file.addSeparator()
        edit_actions = self.annotator.actions
        for action in (edit_actions.save, edit_actions.save_as, edit_actions.load_file, edit_actions.load_folder):
            file.addAction(action)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = self.menuBar().addMenu("&Edit")
        for group in ((edit_actions.undo, edit_actions.redo), tuple(edit_actions.tools.values()),
                      (edit_actions.smaller_brush, edit_actions.larger_brush),
                      (edit_actions.fill_holes, edit_actions.interpolate, edit_actions.remove_islands,
                       edit_actions.keep_largest)):
            for action in group:
                edit.addAction(action)
            edit.addSeparator()
        start = edit.addMenu("&New label from")
        for action in (edit_actions.new_empty, edit_actions.from_gt, edit_actions.accept_prediction):
            start.addAction(action)

        view = self.menuBar().addMenu("&View")
        self._action(view, "&Fit to window", self.slice_view.fit, "F")
        view.addSeparator()
        for number, name in enumerate(PRESETS, start=1):
            self._action(view, f"Window: {name}", lambda _=False, n=name: state.set_window(PRESETS[n]), str(number))
        view.addSeparator()
        self.show_gt_action = self._action(
            view, "Show &ground truth", lambda on: state.set_overlay(show_gt=on), "G", checkable=True)
        self.show_prediction_action = self._action(
            view, "Show &prediction", lambda on: state.set_overlay(show_prediction=on), "P", checkable=True)
        self.show_label_action = self._action(
            view, "Show &edited label", lambda on: state.set_overlay(show_label=on), "E", checkable=True)
        self._action(view, "Next overlay &style", self.next_overlay_style, "O")

        navigate = self.menuBar().addMenu("&Navigate")
        for text, delta, key in (("Next slice", 1, "Up"), ("Previous slice", -1, "Down"),
                                 (f"Forward {PAGE_SLICES} slices", PAGE_SLICES, "PgUp"),
                                 (f"Back {PAGE_SLICES} slices", -PAGE_SLICES, "PgDown")):
            self._action(navigate, text, lambda _=False, d=delta: state.step_slice(d), key)
        self._action(navigate, "First slice", lambda: state.set_slice(0), "Home")
        self._action(navigate, "Last slice", lambda: state.set_slice(state.depth - 1), "End")
        self.worst_action = self._action(
            navigate, "&Worst slice", self.segmentation_panel.go_to_worst_slice, "W")

        segmentation = self.menuBar().addMenu("&Segmentation")
        self.segment_action = self._action(segmentation, "&Segment liver", self.start_segmentation, "Ctrl+R")
        self.cancel_action = self._action(segmentation, "&Cancel", self.cancel_segmentation, "Esc")

        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Mouse and keys", self._show_help, QKeySequence.StandardKey.HelpContents)
        self._on_overlay_changed()

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Edit tools")
        toolbar.setObjectName("editTools")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(16, 16))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        actions = self.annotator.actions
        for action in actions.tools.values():
            toolbar.addAction(action)
        toolbar.addSeparator()
        for action in (actions.fill_holes, actions.interpolate, actions.remove_islands, actions.keep_largest):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(actions.undo)
        toolbar.addAction(actions.redo)
        toolbar.addSeparator()
        toolbar.addAction(actions.save)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    # ---------------------------------------------------------------- opening

    def choose_folder(self) -> None:
        start = (self._recent_paths() or [str(Path.home())])[0]
        folder = QFileDialog.getExistingDirectory(self, "Open patient folder", str(Path(start).parent))
        if folder:
            self.open_path(folder)

    def open_path(self, path: str | Path) -> None:
        """Load a patient on a worker; the one shown stays until the new one is ready."""
        path = str(Path(path).expanduser().absolute())
        self._start_load(path, lambda progress, cancel: open_patient(path, progress, cancel), Path(path).name)

    def open_demo(self) -> None:
        """Open the demo phantom, writing it to the cache folder first if needed."""

        def work(progress: ProgressCallback, cancel: CancelCheck) -> OpenedPatient:
            return open_patient(ensure_demo_patient(progress, cancel), progress, cancel)

        self._start_load(None, work, "demo patient")

    def _start_load(self, path: str | None, work: Work, label: str) -> None:
        if not self.annotator.resolve_unsaved(
                "opening another patient", lambda: self._start_load(path, work, label)):
            return
        self.statusBar().showMessage(f"Opening {label}…")
        self.load_stage.setText("opening")
        self.load_progress.setRange(0, 0)
        self.runner.start(
            "load", work,
            on_success=lambda opened: self._on_patient_opened(opened, path),
            on_failure=lambda error: self.report_error("Could not open patient", error),
            on_progress=self.show_job_progress,
        )

    def cancel_loading(self) -> None:
        cancelled = [kind for kind in STATUS_JOBS if self.runner.cancel(kind)]
        if cancelled:
            self.patient_panel.sync_organ()
            self.statusBar().showMessage("Cancelled", STATUS_MESSAGE_MS)

    def show_job_progress(self, done: int, total: int, stage: str) -> None:
        """The status bar's stage, progress bar and Cancel, for loading, reading masks and labels, saving."""
        self.load_stage.setText(stage)
        self.load_progress.setRange(0, total)
        self.load_progress.setValue(done)

    def _on_patient_opened(self, opened: OpenedPatient, path: str | None) -> None:
        self.runner.cancel("segment")  # both belong to the patient being replaced
        self.runner.cancel("mask")
        self.segmentation_panel.set_running(False)
        self.runner.cancel("label")
        self.state.set_patient(opened)
        patient = opened.patient
        self._add_recent(path or str(patient.source_path))
        title = f"ctseg — {patient.title()}"
        if patient.other_series:
            title += f" [series 1 of {1 + len(patient.other_series)}]"
        self._title = title
        self._update_title()
        notes = f" — {len(patient.warnings)} warning(s), see Patient" if patient.warnings else ""
        self.statusBar().showMessage(
            f"Opened {patient.source_path.name}: {patient.shape[0]} slices in {patient.load_seconds:.1f} s{notes}",
            STATUS_MESSAGE_MS,
        )
        self.annotator.offer_recovery(opened.recovery)
        self.patientLoaded.emit()

    def choose_ground_truth(self, name: str) -> None:
        """Use organ ``name`` as ground truth: read it on a worker (first time) and rescore."""
        patient, prediction = self.state.patient, self.state.prediction
        if patient is None or name == self.state.gt_name:
            return
        self.load_stage.setText(f"reading {name}")
        self.load_progress.setRange(0, 0)
        self.runner.start(
            "mask", lambda progress, cancel: load_ground_truth(patient, name, prediction, progress, cancel),
            on_success=self._on_ground_truth_loaded,
            on_failure=self._on_ground_truth_failed,
            on_progress=self.show_job_progress,
        )

    def _on_ground_truth_loaded(self, truth: GroundTruth) -> None:
        self.state.set_ground_truth(truth)
        self.statusBar().showMessage(f"Ground truth: {truth.name}", STATUS_MESSAGE_MS)

    def _on_ground_truth_failed(self, error: BaseException) -> None:
        self.patient_panel.sync_organ()
        self.report_error("Could not read the mask", error)

    # ---------------------------------------------------------------- segmentation

    def start_segmentation(self) -> None:
        """Segment the liver on a worker: model loaded once, then predicted and measured there."""
        patient, gt = self.state.patient, self.state.gt
        if patient is None or self.runner.running("segment") or self.runner.running("mask"):
            return
        segmenters, model_path = self.segmenters, self.model_path
        self.segmentation_panel.set_running(True, "starting…")
        self._segment_started = time.monotonic()
        self.runner.start(
            "segment",
            lambda progress, cancel: segment(segmenters, model_path, patient, gt, progress, cancel),
            on_success=self._on_segmented,
            on_failure=self._on_segmentation_failed,
            on_progress=self.segmentation_panel.show_progress,
        )

    def cancel_segmentation(self) -> None:
        if self.runner.cancel("segment"):
            self.segmentation_panel.set_running(False, "Cancelled.")
            self.statusBar().showMessage("Segmentation cancelled", STATUS_MESSAGE_MS)

    def _on_segmented(self, outcome: SegmentationOutcome) -> None:
        self.state.set_prediction(outcome.mask, outcome.scores)
        seconds = time.monotonic() - self._segment_started
        self.segmentation_panel.set_running(False, f"Done in {seconds:.1f} s (model, prediction and metrics).")
        stages = " · ".join(f"{stage} {seconds:.2f} s" for stage, seconds in outcome.timings.items())
        self.segmentation_panel.status.setToolTip(stages)
        self.segmentationFinished.emit()

    def _on_segmentation_failed(self, error: BaseException) -> None:
        self.segmentation_panel.set_running(False, "Failed.")
        self.report_error("Segmentation failed", error)

    def preload_segmenter(self) -> bool:
        """Load the model on a worker unless it is loaded or Segment is loading it; True if started.

        While a status-bar job (opening a patient, saving…) runs, it tries again a little later.
        A missing model file is skipped, and a failure only logged: Segment reports the real error.
        """
        segmenters, model_path = self.segmenters, self.model_path
        if self.runner.running("preload") or self.runner.running("segment") or segmenters.is_loaded(model_path):
            return False
        if any(self.runner.running(kind) for kind in STATUS_JOBS):
            self.preload_timer.start()
            return False
        self.runner.start(
            "preload", lambda progress, cancel: preload_segmenter(segmenters, model_path, progress, cancel),
            on_success=self.modelPreloaded.emit,
            on_failure=self._on_preload_failed,
        )
        return True

    def _on_preload_failed(self, error: BaseException) -> None:
        log.info("model preload failed (Segment will report it): %s", error)
        self.modelPreloaded.emit(False)

    # ---------------------------------------------------------------- overlays, actions

    def next_overlay_style(self) -> None:
        styles = list(OverlayStyle)
        self.state.set_overlay(style=styles[(styles.index(self.state.overlay.style) + 1) % len(styles)])

    def _on_overlay_changed(self) -> None:
        overlay = self.state.overlay
        self.show_gt_action.setChecked(overlay.show_gt)
        self.show_prediction_action.setChecked(overlay.show_prediction)
        self.show_label_action.setChecked(overlay.show_label)

    def _update_title(self) -> None:
        """The patient's title, with " *" while the label has unsaved edits."""
        modified = self.editor.is_modified
        self.setWindowTitle(self._title + (" *" if modified else ""))

    def _update_enabled(self) -> None:
        has_patient = self.state.patient is not None
        segmenting = self.runner.running("segment")
        can_segment = has_patient and not segmenting and not self.runner.running("mask")
        self.segment_action.setEnabled(can_segment)
        self.segmentation_panel.segment.setEnabled(can_segment)
        self.cancel_action.setEnabled(segmenting)
        self.worst_action.setEnabled(self.state.scores.worst_slice() is not None)
        self.patient_panel.organ.setEnabled(
            has_patient and bool(self.state.patient.available_masks) and not segmenting)
        loading = any(self.runner.running(kind) for kind in STATUS_JOBS)
        for widget in (self.load_stage, self.load_progress, self.load_cancel):
            widget.setVisible(loading)

    # ---------------------------------------------------------------- errors, help

    def report_error(self, title: str, error: BaseException) -> None:
        message = error_message(error)
        self.statusBar().showMessage(f"{title}: {message}", STATUS_MESSAGE_MS)
        self.errorReported.emit(message)
        if self.show_error_dialogs:
            QMessageBox.critical(self, title, message)

    def _show_help(self) -> None:
        QMessageBox.information(self, "Mouse and keys", HELP_TEXT)

    # ---------------------------------------------------------------- recent patients

    def _recent_paths(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        return [value] if isinstance(value, str) else list(value or [])

    def _add_recent(self, path: str) -> None:
        paths = [path] + [p for p in self._recent_paths() if p != path]
        self.settings.setValue(RECENT_KEY, paths[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _clear_recent(self) -> None:
        self.settings.remove(RECENT_KEY)
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self._recent_paths()
        for number, path in enumerate(paths, start=1):
            action = self.recent_menu.addAction(f"&{number % 10}  {path}")
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear list", self._clear_recent).setEnabled(bool(paths))
        self.recent_menu.setEnabled(bool(paths))

    # ---------------------------------------------------------------- Qt events

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if self.preload_model:
                self.preload_timer.start()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_path(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            self.open_path(path)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.annotator.resolve_unsaved("closing", self.close):
            event.ignore()
            return
        self.annotator.autosave_timer.stop()
        self.preload_timer.stop()
        self.runner.shutdown()
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        super().closeEvent(event)


def _panel_column(panels: list[QWidget], width: int) -> QScrollArea:
    """Panels stacked in a fixed-width column that scrolls when the window is short; the last stretches."""
    content = QWidget()
    column = QVBoxLayout(content)
    column.setContentsMargins(6, 6, 6, 6)
    for panel in panels:
        column.addWidget(panel, 1 if panel is panels[-1] else 0)
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setFixedWidth(width)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    return scroll


def _dropped_path(event: QDropEvent | QDragEnterEvent) -> str | None:
    """The one local file or folder being dropped, else None."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    if len(urls) == 1 and urls[0].isLocalFile():
        return urls[0].toLocalFile()
    return None
