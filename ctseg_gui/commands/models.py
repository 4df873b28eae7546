"""Model: which model Segment uses (the Segmentation panel's picker), and Model ▸ Improve… (fine-tuning
on the user's saved labels, in :class:`~ctseg_gui.dialogs.improve_model.ImproveModelDialog`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QWidget

from ctseg_core.model.finetune import FineTuneResult, TrainingPatient, collect_training_patients
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.segmentation import Segmentation
from ctseg_gui.dialogs.improve_model import ImproveModelDialog
from ctseg_gui.jobs.workers import JobRunner
from ctseg_gui.widgets.model_picker import ModelPicker


class ModelChoice(QObject):
    """Connects the model picker to Segment (and its preload) and adds the Improve action to ``menu``."""

    def __init__(
        self,
        host: WindowHost,
        segmentation: Segmentation,
        menu: QMenu,
        recent_paths: Callable[[], list[str]],
        model_path: str | None,
    ) -> None:
        """The picker is the Segmentation panel's; ``recent_paths()``: the recently opened patients, newest
        first (the dialog's default patients)."""
        super().__init__(host.window())
        self.host, self.segmentation = host, segmentation
        self.picker = picker = segmentation.panel.model_picker
        picker.select_path(model_path)
        picker.modelChanged.connect(self._on_model_chosen)
        self.improver = ModelImprover(host.runner, picker, recent_paths, host.window())
        self.improve_action = menu.addAction("&Improve the model with my saved labels…")
        self.improve_action.triggered.connect(lambda _checked=False: self.improver.open())
        self.improver.registered.connect(lambda result: host.show_status(f"Registered the model “{result.name}”"))

    def _on_model_chosen(self, model_path: str | None) -> None:
        self.segmentation.set_model(model_path)
        self.host.show_status(f"Segment uses the model “{self.picker.current_name()}”")
        if self.segmentation.preloading:
            self.segmentation.preload()


class ModelImprover(QObject):
    """Opens the dialog (one at a time) and puts a newly registered model in the window's picker."""

    registered = Signal(object)  # FineTuneResult

    def __init__(
        self,
        runner: JobRunner,
        picker: ModelPicker,
        recent_paths: Callable[[], list[str]],
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
