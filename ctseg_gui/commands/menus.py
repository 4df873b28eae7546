"""The window's menus, edit toolbar and key help: every viewer command with its key.

Menu items change the state or call the window's commands (:class:`WindowCommands`); the editing
items are the annotator's shared QActions (:class:`~ctseg_gui.edit_actions.EditActions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QToolBar

from ctseg_core.display.windowing import PRESETS
from ctseg_gui.edit_actions import EditActions
from ctseg_gui.exporting import ExportHost, Exports
from ctseg_gui.overlay import OverlayStyle
from ctseg_gui.plane_layout import Layout
from ctseg_gui.state import ViewerState

PAGE_SLICES = 10
LAYOUT_TEXT = {
    Layout.AXIAL: "&Axial",
    Layout.CORONAL: "&Coronal",
    Layout.SAGITTAL: "&Sagittal",
    Layout.ONE_BY_THREE: "&1 × 3 (three planes)",
    Layout.TWO_BY_TWO: "&2 × 2 (planes and 3D)",
}

HELP_TEXT = """<table cellspacing=4>
<tr><td><b>Wheel</b></td><td>next / previous slice</td></tr>
<tr><td><b>Ctrl + wheel</b></td><td>zoom about the pointer</td></tr>
<tr><td><b>Middle drag, Shift + left drag</b></td><td>pan</td></tr>
<tr><td><b>Right drag</b></td><td>window: ← → width, ↑ ↓ level</td></tr>
<tr><td><b>↑ ↓ &nbsp; PgUp PgDn &nbsp; Home End</b></td><td>slice ±1, ±10, first, last</td></tr>
<tr><td><b>1 – 5</b></td><td>window presets</td></tr>
<tr><td><b>G &nbsp; P &nbsp; E &nbsp; O</b></td><td>ground truth, prediction, edited label, overlay style</td></tr>
<tr><td><b>F</b></td><td>fit the slice to the window</td></tr>
<tr><td><b>Left click or drag</b></td><td>move the crosshair: the other planes follow (Shift+drag pans)</td></tr>
<tr><td><b>Ctrl+1 – Ctrl+5</b></td><td>layout: axial, coronal, sagittal, 1×3, 2×2</td></tr>
<tr><td><b>F11 &nbsp; double click</b></td><td>show the view alone, and back</td></tr>
<tr><td><b>Ctrl+R &nbsp; Esc &nbsp; W</b></td><td>segment, cancel, worst slice</td></tr>
<tr><td><b>U &nbsp; Shift+U</b></td><td>next most uncertain slice (the model's), uncertainty overlay</td></tr>
<tr><td colspan=2><br><b>Editing</b> (the brush and eraser paint with the left button; middle drag pans)</td></tr>
<tr><td><b>N &nbsp; B &nbsp; X or Shift+B &nbsp; L</b></td><td>navigate, brush, eraser, flood fill</td></tr>
<tr><td><b>[ &nbsp; ]</b></td><td>smaller, larger brush</td></tr>
<tr><td><b>H &nbsp; I</b></td><td>fill holes on the slice, interpolate between slices</td></tr>
<tr><td><b>Ctrl+Z &nbsp; Ctrl+Shift+Z or Ctrl+Y</b></td><td>undo, redo</td></tr>
<tr><td><b>Ctrl+S &nbsp; Ctrl+Shift+S &nbsp; Ctrl+L</b></td><td>save label, save as, load label</td></tr>
</table>"""

Slot = Callable[[], object]


@dataclass(frozen=True)
class WindowCommands:
    """What the menus call that is not a state change."""

    choose_folder: Slot
    open_demo: Slot
    quit: Slot
    fit: Slot
    segment: Slot
    cancel_segmentation: Slot
    worst_slice: Slot
    set_layout: Callable[[Layout], object]
    toggle_maximise: Slot


class ViewerMenus:
    """Builds File, Edit, View, Navigate, Segmentation and Help, and the edit toolbar, on ``window``;
    keeps the overlay items checked as the state says."""

    def __init__(self, window: QMainWindow, state: ViewerState, actions: EditActions, commands: WindowCommands) -> None:
        self.window, self.state = window, state
        bar = window.menuBar()
        file = bar.addMenu("&File")
        self._add(file, "&Open folder…", commands.choose_folder, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self._add(file, "Open &demo patient", commands.open_demo)
        file.addSeparator()
        for action in (actions.save, actions.save_as, actions.load_file, actions.load_folder):
            file.addAction(action)
        file.addSeparator()
        self.export_menu = file.addMenu("E&xport")
        self.exports = Exports(window, self.export_menu) if isinstance(window, ExportHost) else None
        file.addSeparator()
        self._add(file, "&Quit", commands.quit, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        for group in (
            (actions.undo, actions.redo),
            tuple(actions.tools.values()),
            (actions.smaller_brush, actions.larger_brush),
            (actions.fill_holes, actions.interpolate, actions.remove_islands, actions.keep_largest),
        ):
            for action in group:
                edit.addAction(action)
            edit.addSeparator()
        start = edit.addMenu("&New label from")
        for action in (actions.new_empty, actions.from_gt, actions.accept_prediction):
            start.addAction(action)

        view = bar.addMenu("&View")
        self._add(view, "&Fit to window", commands.fit, "F")
        view.addSeparator()
        for number, name in enumerate(PRESETS, start=1):
            self._add(view, f"Window: {name}", partial(state.set_window, PRESETS[name]), str(number))
        view.addSeparator()
        self.show_gt_action = self._toggle(view, "Show &ground truth", lambda on: state.set_overlay(show_gt=on), "G")
        self.show_prediction_action = self._toggle(
            view, "Show &prediction", lambda on: state.set_overlay(show_prediction=on), "P"
        )
        self.show_label_action = self._toggle(
            view, "Show &edited label", lambda on: state.set_overlay(show_label=on), "E"
        )
        self.show_uncertainty_action = self._toggle(
            view, "Show &uncertainty", lambda on: state.set_overlay(show_uncertainty=on), "Shift+U"
        )
        self._add(view, "Next overlay &style", self.next_overlay_style, "O")
        view.addSeparator()
        layouts = view.addMenu("&Layout")
        self.layout_actions: dict[Layout, QAction] = {}
        for number, (layout, text) in enumerate(LAYOUT_TEXT.items(), start=1):
            action = self._toggle(layouts, text, partial(_choose_layout, commands.set_layout, layout), f"Ctrl+{number}")
            self.layout_actions[layout] = action
        layouts.addSeparator()
        self._add(layouts, "&Maximise view / back", commands.toggle_maximise, "F11")
        self.sync_layout(Layout.AXIAL)

        navigate = bar.addMenu("&Navigate")
        for text, delta, key in (
            ("Next slice", 1, "Up"),
            ("Previous slice", -1, "Down"),
            (f"Forward {PAGE_SLICES} slices", PAGE_SLICES, "PgUp"),
            (f"Back {PAGE_SLICES} slices", -PAGE_SLICES, "PgDown"),
        ):
            self._add(navigate, text, partial(state.step_slice, delta), key)
        self._add(navigate, "First slice", lambda: state.set_slice(0), "Home")
        self._add(navigate, "Last slice", lambda: state.set_slice(state.depth - 1), "End")
        self.worst_action = self._add(navigate, "&Worst slice", commands.worst_slice, "W")
        self.uncertain_action = self._add(navigate, "Next most &uncertain slice", self.next_uncertain_slice, "U")

        segmentation = bar.addMenu("&Segmentation")
        self.segment_action = self._add(segmentation, "&Segment liver", commands.segment, "Ctrl+R")
        self.cancel_action = self._add(segmentation, "&Cancel", commands.cancel_segmentation, "Esc")

        # Model: learning from the user's corrections; the window adds its items (improve_model.py).
        self.model_menu = bar.addMenu("&Model")

        help_menu = bar.addMenu("&Help")
        self._add(help_menu, "&Mouse and keys", self.show_help, QKeySequence.StandardKey.HelpContents)
        self.toolbar = _edit_toolbar(actions)
        window.addToolBar(self.toolbar)
        state.overlayChanged.connect(self._on_overlay_changed)
        self._on_overlay_changed()

    def _add(
        self, menu: QMenu, text: str, slot: Slot, shortcut: str | QKeySequence.StandardKey | None = None
    ) -> QAction:
        action = self._action(menu, text, shortcut)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _toggle(self, menu: QMenu, text: str, slot: Callable[[bool], object], shortcut: str) -> QAction:
        action = self._action(menu, text, shortcut)
        action.setCheckable(True)
        action.triggered.connect(slot)
        return action

    def _action(self, menu: QMenu, text: str, shortcut: str | QKeySequence.StandardKey | None) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        menu.addAction(action)
        return action

    def sync_layout(self, layout: Layout) -> None:
        """Check the layout shown."""
        for each, action in self.layout_actions.items():
            action.setChecked(each is layout)

    def next_overlay_style(self) -> None:
        styles = list(OverlayStyle)
        self.state.set_overlay(style=styles[(styles.index(self.state.overlay.style) + 1) % len(styles)])

    def next_uncertain_slice(self) -> None:
        """Go to the next slice where the model was most unsure, and say which it is in the status bar."""
        step = self.state.go_to_next_uncertain_slice()
        bar = self.window.statusBar()
        if step is None:
            bar.showMessage(
                "No uncertain slices: segment first"
                if self.state.quality is None
                else "The model was certain on every slice",
                4000,
            )
            return
        rank, count, index = step
        bar.showMessage(f"Uncertain slice {rank} of {count}: slice {index + 1}", 4000)

    def show_help(self) -> None:
        QMessageBox.information(self.window, "Mouse and keys", HELP_TEXT)

    def _on_overlay_changed(self) -> None:
        overlay = self.state.overlay
        self.show_gt_action.setChecked(overlay.show_gt)
        self.show_prediction_action.setChecked(overlay.show_prediction)
        self.show_label_action.setChecked(overlay.show_label)
        self.show_uncertainty_action.setChecked(overlay.show_uncertainty)


def _choose_layout(set_layout: Callable[[Layout], object], layout: Layout, _checked: bool = False) -> None:
    set_layout(layout)


def _edit_toolbar(actions: EditActions) -> QToolBar:
    """Tools, whole-label commands, undo/redo and save, as text buttons."""
    toolbar = QToolBar("Edit tools")
    toolbar.setObjectName("editTools")
    toolbar.setMovable(False)
    toolbar.setIconSize(QSize(16, 16))
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for group in (
        tuple(actions.tools.values()),
        (actions.fill_holes, actions.interpolate, actions.remove_islands, actions.keep_largest),
        (actions.undo, actions.redo),
        (actions.save,),
    ):
        for action in group:
            toolbar.addAction(action)
        if group[0] is not actions.save:
            toolbar.addSeparator()
    return toolbar
