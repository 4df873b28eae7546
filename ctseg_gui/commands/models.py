"""The window's model choice: the Segmentation panel's picker drives Segment, and Model ▸ Improve….

Kept out of ``main_window.py`` so the window only says where the picker lives; the fine-tuning
dialog and controller are in ``improve_model.py``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from ctseg_core.model.finetune import FineTuneResult, TrainingPatient, collect_training_patients
from ctseg_gui.improve_model import ImproveModelDialog
from ctseg_gui.model_picker import ModelPicker
from ctseg_gui.workers import JobRunner


class ModelChoice(QObject):
    """Connects the picker to the segmenter (and its preload) and adds the Improve action."""

    def __init__(self, window: Any, model_path: str | None) -> None:
        super().__init__(window)
        self.window = window
        picker = window.segmentation_panel.model_picker
        picker.select_path(model_path)
        picker.modelChanged.connect(self._on_model_chosen)
        self.improver = ModelImprover(window.runner, picker, window.recent.paths, window)
        self.improve_action = window.menus.model_menu.addAction("&Improve the model with my saved labels…")
        self.improve_action.triggered.connect(lambda _checked=False: self.improver.open())
        self.improver.registered.connect(lambda result: window.show_status(f"Registered the model “{result.name}”"))

    def _on_model_chosen(self, model_path: str | None) -> None:
        window = self.window
        window.segmentation.set_model(model_path)
        window.show_status(f"Segment uses the model “{window.segmentation_panel.model_picker.current_name()}”")
        if window.preload_model and window._shown_once:
            window.segmentation.preload()


class ModelImprover(QObject):
    """Opens the dialog (one at a time) and puts a newly registered model in the window's picker."""

    registered = Signal(object)  # FineTuneResult

    def __init__(
        self,
        runner: JobRunner,
        picker: ModelPicker,
        recent_paths: Any,
        parent: QWidget | None = None,
        training_options: dict[str, Any] | None = None,
    ) -> None:
        """``recent_paths()``: the recently opened patients, newest first."""
        super().__init__(parent)
        self.runner, self.picker, self.recent_paths = runner, picker, recent_paths
        self.parent_widget = parent
        self.training_options = training_options
        self.dialog: ImproveModelDialog | None = None

    def default_patients(self) -> list[TrainingPatient]:
        """The recently opened patients that have a label saved by ctseg."""
        found, _skipped = collect_training_patients(list(self.recent_paths()), require_saved_label=True)
        return found

    def open(self) -> ImproveModelDialog:
        if self.dialog is None:
            self.dialog = ImproveModelDialog(
                self.runner,
                self.default_patients(),
                self.picker.current_path(),
                self.training_options,
                self.parent_widget,
            )
            self.dialog.registered.connect(self._on_registered)
            self.dialog.finished.connect(self._on_closed)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def _on_registered(self, result: FineTuneResult) -> None:
        self.picker.refresh(select=result.model_path)
        self.registered.emit(result)

    def _on_closed(self, _code: int = 0) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = None
