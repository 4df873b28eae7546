"""The Edit panel: the label being corrected, its tools and settings, undo, live Dice, save and load.

Built on the :class:`~ctseg_gui.state.editor.EditorState` and following its signals; buttons are the
annotator's QActions (``setDefaultAction``), so a key, a menu item and a button stay one command
with one enabled and checked state.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.annotate.session import LiveDice
from ctseg_core.annotate.tools import MAX_BRUSH_MM, MIN_BRUSH_MM, Tool
from ctseg_core.display import palette
from ctseg_core.metrics import format_metric
from ctseg_gui.state.editor import EditorState
from ctseg_gui.widgets.controls import HuSpinBox, action_button, command_button
from ctseg_gui.widgets.edit_actions import EditActions
from ctseg_gui.widgets.plain_text import data_label, escaped
from ctseg_gui.widgets.readouts import caption, live_readout, swatch, value_label

HU_MIN, HU_MAX = -1024, 3071
CHECKED_TOOL_STYLE = (
    "QToolButton:checked { background: #3d7ad6; color: white; border: 1px solid #6ea8ff; border-radius: 3px; }"
)


class EditPanel(QGroupBox):
    """Everything the annotator needs beside the image, top to bottom in the order of the work."""

    def __init__(self, editor: EditorState, actions: EditActions, parent: QWidget | None = None) -> None:
        super().__init__("Edit", parent)
        self.editor = editor
        self.summary = data_label()
        self.summary.setTextFormat(Qt.TextFormat.RichText)  # the name in bold, escaped (a file may name it)
        self.summary.setWordWrap(True)
        header = QHBoxLayout()
        header.addWidget(swatch(palette.EDITED_LABEL))
        header.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.setSpacing(5)
        layout.addLayout(header)
        layout.addWidget(caption("Start from"))
        layout.addLayout(_start_grid(actions))
        layout.addWidget(caption("Tool"))
        layout.addLayout(self._tool_grid(actions))
        layout.addLayout(self._brush_grid())
        layout.addWidget(caption("Correct"))
        layout.addLayout(self._cleanup_grid(actions))
        layout.addSpacing(4)
        layout.addLayout(self._dice_grid())
        layout.addSpacing(4)
        layout.addLayout(self._files_row(actions))
        layout.addSpacing(6)
        hint = caption(
            "Brush and eraser: left drag paints, middle drag pans, the wheel changes slice. Hover a button for its key."
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addStretch(1)
        self._follow(editor)

    def _tool_grid(self, actions: EditActions) -> QGridLayout:
        """Navigate, brush, eraser, flood fill: checkable buttons, two to a row."""
        self.tool_buttons = {tool: action_button(actions.tools[tool]) for tool in Tool}
        for button in self.tool_buttons.values():  # Fusion's checked button is barely darker: make the tool plain
            button.setStyleSheet(CHECKED_TOOL_STYLE)
        tools = QGridLayout()
        for i, tool in enumerate(Tool):
            tools.addWidget(self.tool_buttons[tool], i // 2, i % 2)
        return tools

    def _brush_grid(self) -> QGridLayout:
        """The brush radius and the HU range the brush (if asked) and flood fill keep to."""
        self.radius = QDoubleSpinBox()
        self.radius.setRange(MIN_BRUSH_MM, MAX_BRUSH_MM)
        self.radius.setDecimals(1)
        self.radius.setSingleStep(0.5)
        self.radius.setSuffix(" mm")
        self.radius.setToolTip("Brush radius ([ smaller, ] larger)")
        self.hu_enabled = QCheckBox("Brush only within HU range")
        self.hu_enabled.setToolTip("The brush changes only voxels in this HU range; flood fill always uses it")
        self.hu_lo, self.hu_hi = HuSpinBox(HU_MIN, HU_MAX), HuSpinBox(HU_MIN, HU_MAX)
        for box in (self.hu_lo, self.hu_hi):
            box.setSuffix("")  # the row says HU
        self.hu_lo.setToolTip("Lowest HU the brush and flood fill change")
        self.hu_hi.setToolTip("Highest HU the brush and flood fill change")
        brush = QGridLayout()
        brush.addWidget(data_label("Radius"), 0, 0)
        brush.addWidget(self.radius, 0, 1, 1, 3)
        brush.addWidget(self.hu_enabled, 1, 0, 1, 4)
        brush.addWidget(data_label("HU"), 2, 0)
        brush.addWidget(self.hu_lo, 2, 1)
        brush.addWidget(data_label("–"), 2, 2)
        brush.addWidget(self.hu_hi, 2, 3)
        brush.setColumnStretch(1, 1)
        brush.setColumnStretch(3, 1)
        return brush

    def _cleanup_grid(self, actions: EditActions) -> QGridLayout:
        """Fill holes, interpolate, remove islands (with their size), keep largest, undo and redo."""
        self.island_ml = QDoubleSpinBox()
        self.island_ml.setRange(0.01, 1000.0)
        self.island_ml.setDecimals(2)
        self.island_ml.setSuffix(" mL")
        self.island_ml.setToolTip("Remove islands deletes 3D pieces smaller than this")
        cleanup = QGridLayout()
        cleanup.addWidget(action_button(actions.fill_holes), 0, 0)
        cleanup.addWidget(action_button(actions.interpolate), 0, 1)
        cleanup.addWidget(action_button(actions.remove_islands), 1, 0)
        cleanup.addWidget(self.island_ml, 1, 1)
        cleanup.addWidget(action_button(actions.keep_largest), 2, 0)
        self.undo_button = command_button(actions.undo, "Undo")
        self.redo_button = command_button(actions.redo, "Redo")
        cleanup.addWidget(self.undo_button, 3, 0)
        cleanup.addWidget(self.redo_button, 3, 1)
        return cleanup

    def _dice_grid(self) -> QGridLayout:
        """Live Dice of the label against the ground truth and the prediction, on the slice and the volume."""
        self.dice: dict[tuple[str, str], QLabel] = {}
        dice = QGridLayout()
        dice.setHorizontalSpacing(10)
        dice.addWidget(caption("Live Dice vs."), 0, 0)
        dice.addWidget(caption("slice"), 0, 1, Qt.AlignmentFlag.AlignRight)
        dice.addWidget(caption("volume"), 0, 2, Qt.AlignmentFlag.AlignRight)
        for row, (key, text) in enumerate((("gt", "Ground truth"), ("prediction", "Prediction")), start=1):
            dice.addWidget(data_label(text), row, 0)
            for column, part in enumerate(("slice", "volume"), start=1):
                self.dice[key, part] = live_readout("0.000") if part == "slice" else value_label()
                dice.addWidget(self.dice[key, part], row, column, Qt.AlignmentFlag.AlignRight)
        dice.setColumnStretch(1, 1)
        dice.setColumnStretch(2, 1)
        return dice

    def _files_row(self, actions: EditActions) -> QHBoxLayout:
        """Save, Save as, and Load with its menu of a file or an IRCAD mask folder."""
        load = QToolButton()
        load.setText("Load")
        load.setToolTip("Load a label: NIfTI or DICOM SEG file, or an IRCAD mask folder")
        load.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        load.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        menu = QMenu(load)
        menu.addAction(actions.load_file)
        menu.addAction(actions.load_folder)
        load.setMenu(menu)
        self.load_button = load
        files = QHBoxLayout()
        files.addWidget(command_button(actions.save, "Save"))
        files.addWidget(command_button(actions.save_as, "Save as…"))
        files.addWidget(load)
        return files

    def _follow(self, editor: EditorState) -> None:
        """The settings go to the editor; the editor's changes come back to the panel."""
        self.radius.valueChanged.connect(editor.set_brush_radius)
        self.hu_enabled.toggled.connect(lambda on: editor.set_hu_limit(enabled=on))
        self.hu_lo.valueChanged.connect(lambda value: editor.set_hu_limit(lo=value))
        self.hu_hi.valueChanged.connect(lambda value: editor.set_hu_limit(hi=value))
        self.island_ml.valueChanged.connect(editor.set_min_island_ml)
        editor.brushChanged.connect(self._on_brush_changed)
        editor.huLimitChanged.connect(self._on_hu_limit_changed)
        editor.labelChanged.connect(self._update_summary)
        editor.labelEdited.connect(self._update_summary)
        editor.historyChanged.connect(self._update_summary)
        editor.segmentsChanged.connect(self._update_summary)
        editor.diceChanged.connect(self._update_dice)
        self._on_brush_changed()
        self._on_hu_limit_changed()
        self.island_ml.setValue(editor.min_island_ml)
        self._update_summary()
        self._update_dice()

    def _on_brush_changed(self) -> None:
        self.radius.blockSignals(True)
        self.radius.setValue(self.editor.brush_radius_mm)
        self.radius.blockSignals(False)

    def _on_hu_limit_changed(self) -> None:
        limit = self.editor.hu_limit
        widgets = (self.hu_enabled, self.hu_lo, self.hu_hi)
        for widget in widgets:
            widget.blockSignals(True)
        self.hu_enabled.setChecked(limit.enabled)
        self.hu_lo.setValue(limit.lo)
        self.hu_hi.setValue(limit.hi)
        for widget in widgets:
            widget.blockSignals(False)

    def _update_summary(self) -> None:
        editor = self.editor
        if not editor.has_label:
            self.summary.setText("No label yet: paint, or start one below")
            return
        edits = editor.unsaved_edits
        state = f"{edits} unsaved edit{'s' if edits != 1 else ''}" if edits else "no unsaved edits"
        active = editor.segments.active_row()
        segment = f" · segment <b>{escaped(active.name)}</b>" if active is not None and len(editor.segments) > 1 else ""
        volume = format_metric(editor.volume_ml(), 1)
        self.summary.setText(f"<b>{escaped(editor.name)}</b>{segment} · {volume} mL · {state}")

    def _update_dice(self) -> None:
        for key in ("gt", "prediction"):
            live: LiveDice = self.editor.dice(key)
            self.dice[key, "slice"].setText(format_metric(live.slice))
            self.dice[key, "volume"].setText(format_metric(live.volume))


def _start_grid(actions: EditActions) -> QGridLayout:
    """New empty label, from the ground truth, or the accepted prediction."""
    start = QGridLayout()
    start.addWidget(action_button(actions.new_empty), 0, 0)
    start.addWidget(action_button(actions.from_gt), 0, 1)
    start.addWidget(action_button(actions.accept_prediction), 1, 0, 1, 2)
    return start
