"""The viewer state: one QObject that holds what is shown and says when it changes.

Widgets read it and subscribe to its signals; they never talk to each other. Setters ignore
no-op changes, so two widgets showing the same value (slider and keys, preset combo and
spin boxes) cannot ping-pong.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ctseg_core.display.planes import Plane, Voxel
from ctseg_core.display.windowing import PRESETS, Window
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import MaskScores
from ctseg_core.model.quality import ScanQuality
from ctseg_gui.jobs.patients import GroundTruth, OpenedPatient
from ctseg_gui.state.overlay_settings import OverlaySettings, OverlayStyle

DEFAULT_PRESET = "Abdomen"


class ViewerState(QObject):
    """Patient, current slice, HU window, masks, overlay choices, scores and cursor voxel."""

    patientChanged = Signal()
    sliceChanged = Signal(int)
    windowChanged = Signal(object)  # Window
    overlayChanged = Signal(object)  # OverlaySettings
    masksChanged = Signal()  # ground truth, prediction or uncertainty replaced
    qualityChanged = Signal(object)  # ScanQuality of the prediction, or None
    scoresChanged = Signal(object)  # MaskScores
    cursorChanged = Signal(object)  # (x, y) voxel of the current slice, or None
    crosshairChanged = Signal(object)  # (z, y, x): the voxel the three plane views meet at

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.patient: Patient | None = None
        self.slice_index = 0
        self.window: Window = PRESETS[DEFAULT_PRESET]
        self.overlay = OverlaySettings()
        self.gt_name: str | None = None
        self.gt: np.ndarray | None = None
        self.prediction: np.ndarray | None = None
        #: The model's quality estimate of ``prediction`` (None: no prediction, or not from the model).
        self.quality: ScanQuality | None = None
        #: The model's per-voxel uncertainty, uint8 [z, y, x] (0 certain … 255 p = ½), or None.
        self.uncertainty: np.ndarray | None = None
        self.scores = MaskScores()
        self.cursor: tuple[int, int] | None = None
        #: The voxel under the pointer in any plane view, (z, y, x), or None.
        self.cursor_voxel: Voxel | None = None
        #: The crosshair (z, y, x); z is always ``slice_index``, the axial slice.
        self.position: Voxel = (0, 0, 0)

    @property
    def depth(self) -> int:
        """Number of slices (0 without a patient)."""
        return 0 if self.patient is None else self.patient.shape[0]

    def set_patient(self, opened: OpenedPatient) -> None:
        """Show a newly opened patient; the prediction of the previous one is dropped."""
        self.patient = opened.patient
        self.gt_name, self.gt = opened.gt_name, opened.gt
        self.prediction = None
        self.quality, self.uncertainty = None, None
        self.scores = opened.scores
        self.cursor = None
        self.cursor_voxel = None
        self.slice_index = opened.start_slice
        _, rows, columns = opened.patient.shape
        self.position = (self.slice_index, rows // 2, columns // 2)
        self.patientChanged.emit()
        self.masksChanged.emit()
        self.scoresChanged.emit(self.scores)
        self.qualityChanged.emit(None)
        self.sliceChanged.emit(self.slice_index)
        self.crosshairChanged.emit(self.position)

    def set_slice(self, index: int) -> None:
        """Go to slice ``index``, clamped to the volume."""
        _, y, x = self.position
        self.set_position((index, y, x))

    def step_slice(self, delta: int) -> None:
        self.set_slice(self.slice_index + delta)

    def set_position(self, voxel: Voxel) -> None:
        """Move the crosshair to (z, y, x), clamped to the volume; z is the axial slice shown."""
        if self.patient is None:
            return
        shape = self.patient.shape
        clamped = tuple(min(max(int(v), 0), max(n - 1, 0)) for v, n in zip(voxel, shape[:3], strict=True))
        position: Voxel = (clamped[0], clamped[1], clamped[2])
        if position == self.position:
            return
        self.position = position
        if position[0] != self.slice_index:
            self.slice_index = position[0]
            self.sliceChanged.emit(self.slice_index)
        self.crosshairChanged.emit(position)

    def plane_index(self, plane: Plane) -> int:
        """The slice of ``plane`` the crosshair sits on."""
        return self.position[plane.axis]

    def set_plane_index(self, plane: Plane, index: int) -> None:
        """Show slice ``index`` of ``plane`` (the crosshair moves along that plane's axis)."""
        position = list(self.position)
        position[plane.axis] = index
        self.set_position((position[0], position[1], position[2]))

    def step_plane(self, plane: Plane, delta: int) -> None:
        self.set_plane_index(plane, self.plane_index(plane) + delta)

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
        show_uncertainty: bool | None = None,
    ) -> None:
        """Change some overlay settings, e.g. ``set_overlay(show_gt=False)``; None keeps a setting."""
        old = self.overlay
        overlay = OverlaySettings(
            show_gt=old.show_gt if show_gt is None else bool(show_gt),
            show_prediction=old.show_prediction if show_prediction is None else bool(show_prediction),
            show_label=old.show_label if show_label is None else bool(show_label),
            opacity=old.opacity if opacity is None else float(opacity),
            style=old.style if style is None else style,
            show_uncertainty=old.show_uncertainty if show_uncertainty is None else bool(show_uncertainty),
        )
        if overlay != self.overlay:
            self.overlay = overlay
            self.overlayChanged.emit(overlay)

    def set_ground_truth(self, truth: GroundTruth) -> None:
        self.gt_name, self.gt = truth.name, truth.mask
        self.scores = truth.scores
        self.masksChanged.emit()
        self.scoresChanged.emit(self.scores)

    def set_prediction(
        self,
        mask: np.ndarray | None,
        scores: MaskScores,
        quality: ScanQuality | None = None,
        uncertainty: np.ndarray | None = None,
    ) -> None:
        """Show a prediction, with the model's quality estimate and uncertainty volume when it gave them
        (a prediction without them drops the previous ones: they described another mask)."""
        self.prediction = mask
        self.scores = scores
        self.quality, self.uncertainty = quality, uncertainty
        self.masksChanged.emit()
        self.scoresChanged.emit(scores)
        self.qualityChanged.emit(quality)

    def go_to_next_uncertain_slice(self) -> tuple[int, int, int] | None:
        """Move the axial slice (and crosshair) to the next most uncertain slice after the one shown
        (``ScanQuality.next_uncertain_slice``); returns (rank from 1, how many, slice), None if none."""
        quality = self.quality
        if quality is None or self.patient is None:
            return None
        target = quality.next_uncertain_slice(self.slice_index)
        if target is None:
            return None
        order = quality.most_uncertain_slices()
        self.set_slice(target)
        return order.index(target) + 1, len(order), target

    def set_cursor(self, voxel: tuple[int, int] | None) -> None:
        """The (x, y) voxel of the axial slice shown under the pointer, or None."""
        self.set_cursor_voxel(None if voxel is None else (self.slice_index, voxel[1], voxel[0]))

    def set_cursor_voxel(self, voxel: Voxel | None) -> None:
        """The (z, y, x) voxel under the pointer in any plane view, or None."""
        if voxel == self.cursor_voxel:
            return
        self.cursor_voxel = voxel
        self.cursor = None if voxel is None else (voxel[2], voxel[1])
        self.cursorChanged.emit(self.cursor)
