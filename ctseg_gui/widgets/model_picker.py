"""The model picker: a combo box of the bundled model and the user's registered models (and a file given)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from ctseg_core.metrics import format_metric
from ctseg_core.model.registry import RegisteredModel, list_models


def describe_model(model: RegisteredModel) -> str:
    """One tooltip line set for a model: what it learnt from and how well it did."""
    if model.problem:
        return f"{model.path}\nCannot be used: {model.problem}"
    lines = [str(model.path)]
    if model.patients:
        lines.append(f"Trained on {len(model.patients)} patients: {', '.join(model.patients)}")
    lineage = model.lineage
    if lineage:
        base = lineage.get("base_name") or Path(str(lineage.get("base_model", "?"))).stem
        added = lineage.get("added_patients") or []
        lines.append(f"Fine-tuned from {base}; added patients: {', '.join(added) or 'none'}")
        before = (lineage.get("validation_dice_before") or {}).get("mean")
        after = (lineage.get("validation_dice_after") or {}).get("mean")
        held = lineage.get("held_out") or []
        if before is not None or after is not None:
            lines.append(
                f"Dice on held-out {', '.join(held)}: before {format_metric(before)} → after {format_metric(after)}"
            )
    elif model.card and model.card.validation.get("mean_dice") is not None:
        lines.append(f"Cross-validation Dice {format_metric(model.card.validation['mean_dice'])}")
    return "\n".join(lines)


def _key(path: str | Path | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None


class ModelPicker(QComboBox):
    """Lists models by name; ``modelChanged`` gives the chosen model's file (None: the bundled model)."""

    modelChanged = Signal(object)  # str | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("The model Segment uses: the bundled one or one you improved (Model ▸ Improve…)")
        self._extra: str | None = None  # a model file given on the command line, not registered
        self.currentIndexChanged.connect(lambda _index: self.modelChanged.emit(self.current_path()))
        self.refresh()

    def models(self) -> list[RegisteredModel]:
        return list_models()

    def refresh(self, select: str | Path | None = None, keep: bool = True) -> None:
        """Re-read the models folder; select the model at ``select`` (else keep the current one)."""
        wanted = _key(select) if select is not None else (_key(self.current_path()) if keep else None)
        self.blockSignals(True)
        try:
            before = self.current_path()
            self.clear()
            chosen = 0
            for model in self.models():
                path = None if model.bundled else str(model.path)
                self.addItem(model.name + (" (unreadable)" if model.problem else ""), path)
                self.setItemData(self.count() - 1, describe_model(model), Qt.ItemDataRole.ToolTipRole)
                if wanted is not None and _key(model.path) == wanted:
                    chosen = self.count() - 1
            if self._extra is not None:
                self.addItem(f"file: {Path(self._extra).name}", self._extra)
                self.setItemData(self.count() - 1, self._extra, Qt.ItemDataRole.ToolTipRole)
                if wanted == _key(self._extra):
                    chosen = self.count() - 1
            self.setCurrentIndex(chosen)
        finally:
            self.blockSignals(False)
        if self.current_path() != before:
            self.modelChanged.emit(self.current_path())

    def select_path(self, path: str | Path | None) -> None:
        """Choose the model at ``path`` (None: bundled); a file not in the list is added as ``file: NAME``."""
        bundled = self.models()[0].path
        if path is not None and _key(path) != _key(bundled):
            known = {_key(self.itemData(i)) for i in range(self.count()) if self.itemData(i)}
            if _key(path) not in known:
                self._extra = str(path)
        self.refresh(select=path if path is not None else bundled)

    def current_path(self) -> str | None:
        data = self.currentData()
        return str(data) if data else None

    def current_name(self) -> str:
        return self.currentText()
