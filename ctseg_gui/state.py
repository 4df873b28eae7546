"""The viewer state: one QObject that holds what is shown and says when it changes.

Widgets read it and subscribe to its signals; they never talk to each other. Setters ignore
no-op changes, so two widgets showing the same value (slider and keys, preset combo and
spin boxes) cannot ping-pong.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ctseg_core.io.patient import Patient
from ctseg_core.metrics import MaskScores
from ctseg_core.windowing import PRESETS, Window

from .overlay import OverlaySettings, OverlayStyle
from .tasks import GroundTruth, OpenedPatient

DEFAULT_PRESET = "Abdomen"


class ViewerState(QObject):
    """Patient, current slice, HU window, masks, overlay choices, scores and cursor voxel."""

    patientChanged = Signal()
    sliceChanged = Signal(int)
    windowChanged = Signal(object)  # Window
    overlayChanged = Signal(object)  # OverlaySettings
    masksChanged = Signal()  # ground truth or prediction replaced
    scoresChanged = Signal(object)  # MaskScores
    cursorChanged = Signal(object)  # (x, y) voxel of the current slice, or None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.patient: Patient | None = None
        self.slice_index = 0
        self.window: Window = PRESETS[DEFAULT_PRESET]
        self.overlay = OverlaySettings()
        self.gt_name: str | None = None
        self.gt: np.ndarray | None = None
        self.prediction: np.ndarray | None = None
        self.scores = MaskScores()
        self.cursor: tuple[int, int] | None = None

    @property
    def depth(self) -> int:
        """Number of slices (0 without a patient)."""
        return 0 if self.patient is None else self.patient.shape[0]

    def set_patient(self, opened: OpenedPatient) -> None:
        """Show a newly opened patient; the prediction of the previous one is dropped."""
        self.patient = opened.patient
        self.gt_name, self.gt = opened.gt_name, opened.gt
        self.prediction = None
        self.scores = opened.scores
        self.cursor = None
        self.slice_index = opened.start_slice
        self.patientChanged.emit()
        self.masksChanged.emit()
        self.scoresChanged.emit(self.scores)
        self.sliceChanged.emit(self.slice_index)

    def set_slice(self, index: int) -> None:
        """Go to slice ``index``, clamped to the volume."""
        index = min(max(int(index), 0), max(self.depth - 1, 0))
        if index != self.slice_index:
            self.slice_index = index
            self.sliceChanged.emit(index)

    def step_slice(self, delta: int) -> None:
        self.set_slice(self.slice_index + delta)

    def set_window(self, window: Window) -> None:
        if window != self.window:
            self.window = window
            self.windowChanged.emit(window)

    def set_overlay(
        self,
        *,
        show_gt: bool | None = None,
        show_prediction: bool | None = None,
        show_label: bool | None = None,
        opacity: float | None = None,
        style: OverlayStyle | None = None,
    ) -> None:
        """Change some overlay settings, e.g. ``set_overlay(show_gt=False)``; None keeps a setting."""
        old = self.overlay
        overlay = OverlaySettings(
            show_gt=old.show_gt if show_gt is None else bool(show_gt),
            show_prediction=old.show_prediction if show_prediction is None else bool(show_prediction),
            show_label=old.show_label if show_label is None else bool(show_label),
            opacity=old.opacity if opacity is None else float(opacity),
            style=old.style if style is None else style,
        )
        if overlay != self.overlay:
            self.overlay = overlay
            self.overlayChanged.emit(overlay)

    def set_ground_truth(self, truth: GroundTruth) -> None:
        self.gt_name, self.gt = truth.name, truth.mask
        self.scores = truth.scores
        self.masksChanged.emit()
        self.scoresChanged.emit(self.scores)

    def set_prediction(self, mask: np.ndarray | None, scores: MaskScores) -> None:
        self.prediction = mask
        self.scores = scores
        self.masksChanged.emit()
        self.scoresChanged.emit(scores)

    def set_cursor(self, voxel: tuple[int, int] | None) -> None:
        if voxel != self.cursor:
            self.cursor = voxel
            self.cursorChanged.emit(voxel)
