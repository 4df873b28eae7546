"""The window's menus, edit toolbar and key help: every viewer command with its key.

Menu items change the state or the view area, or are actions the window connects to its controllers;
the editing items are the edit commands' shared QActions (:class:`~ctseg_gui.widgets.edit_actions.EditActions`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QMessageBox, QToolBar

from ctseg_core.display.windowing import PRESETS
from ctseg_gui.commands.exports import Exports
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.commands.pacs import ArchiveCommands
from ctseg_gui.plane_view.layout import Layout
from ctseg_gui.state.overlay_settings import OverlayStyle
from ctseg_gui.widgets.edit_actions import EditActions
from ctseg_gui.widgets.key_help import help_html

PAGE_SLICES = 10
LAYOUT_TEXT = {
    Layout.AXIAL: "&Axial",
    Layout.CORONAL: "&Coronal",
    Layout.SAGITTAL: "&Sagittal",
    Layout.ONE_BY_THREE: "&1 × 3 (three planes)",
    Layout.TWO_BY_TWO: "&2 × 2 (planes and 3D)",
}


Slot = Callable[[], object]


class ViewerMenus:
    """Builds File, Edit, View, Navigate, Segmentation, Model and Help (:attr:`bar`) and the edit toolbar
    (:attr:`toolbar`); keeps the overlay and layout items checked as the state and the view area say.

    Items that change the state or the view area act on them here; the window connects the items that
    start its controllers' work: :attr:`open_action`, :attr:`demo_action`, :attr:`quit_action`,
    :attr:`segment_action`, :attr:`cancel_action` and :attr:`worst_action`.
    """

    def __init__(self, host: WindowHost, actions: EditActions) -> None:
        self.host, self.state = host, host.state
        self.bar = QMenuBar()
        self._file_menu(actions)
        self._edit_menu(actions)
        self._view_menu()
        self._navigate_menu()
        segmentation = self.bar.addMenu("&Segmentation")
        self.segment_action = self._action(segmentation, "&Segment liver", "Ctrl+R")
        self.cancel_action = self._action(segmentation, "&Cancel", "Esc")
        # Model: learning from the user's corrections; the window adds its items (commands/models.py).
        self.model_menu = self.bar.addMenu("&Model")
        help_menu = self.bar.addMenu("&Help")
        self._add(help_menu, "&Mouse and keys", self.show_help, QKeySequence.StandardKey.HelpContents)
        self.toolbar = _edit_toolbar(actions)
        self.state.overlayChanged.connect(self._on_overlay_changed)
        self._on_overlay_changed()
        host.plane_layout.layoutChanged.connect(self.sync_layout)

    def _file_menu(self, actions: EditActions) -> None:
        file = self.bar.addMenu("&File")
        self.open_action = self._action(file, "&Open folder…", QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.demo_action = self._action(file, "Open &demo patient", None)
        file.addSeparator()
        for action in (actions.save, actions.save_as, actions.load_file, actions.load_folder):
            file.addAction(action)
        file.addSeparator()
        self.export_menu = file.addMenu("E&xport")
        self.exports = Exports(self.host, self.export_menu)
        self.archive = ArchiveCommands(self.host, file.addMenu("&Archive"))
        file.addSeparator()
        self.quit_action = self._action(file, "&Quit", QKeySequence.StandardKey.Quit)

    def _edit_menu(self, actions: EditActions) -> None:
        edit = self.bar.addMenu("&Edit")
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

    def _view_menu(self) -> None:
        state, views = self.state, self.host.plane_layout
        view = self.view_menu = self.bar.addMenu("&View")
        self._add(view, "&Fit to window", views.fit, "F")
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
            action = self._toggle(layouts, text, partial(_choose_layout, views.set_layout, layout), f"Ctrl+{number}")
            self.layout_actions[layout] = action
        layouts.addSeparator()
        self._add(layouts, "&Maximise view / back", views.toggle_maximise, "F11")
        self.sync_layout(Layout.AXIAL)

    def _navigate_menu(self) -> None:
        state = self.state
        navigate = self.bar.addMenu("&Navigate")
        for text, delta, key in (
            ("Next slice", 1, "Up"),
            ("Previous slice", -1, "Down"),
            (f"Forward {PAGE_SLICES} slices", PAGE_SLICES, "PgUp"),
            (f"Back {PAGE_SLICES} slices", -PAGE_SLICES, "PgDown"),
        ):
            self._add(navigate, text, partial(state.step_slice, delta), key)
        self._add(navigate, "First slice", lambda: state.set_slice(0), "Home")
        self._add(navigate, "Last slice", lambda: state.set_slice(state.depth - 1), "End")
        self.worst_action = self._action(navigate, "&Worst slice", "W")
        self.uncertain_action = self._add(navigate, "Next most &uncertain slice", self.next_uncertain_slice, "U")

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
        """An item of ``menu``; the window connects it, or :meth:`_add` and :meth:`_toggle` do."""
        action = QAction(text, self.host.window())
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
        if step is None:
            self.host.show_status(
                "No uncertain slices: segment first"
                if self.state.quality is None
                else "The model was certain on every slice",
                4000,
            )
            return
        rank, count, index = step
        self.host.show_status(f"Uncertain slice {rank} of {count}: slice {index + 1}", 4000)

    def show_help(self) -> None:
        QMessageBox.information(self.host.window(), "Mouse and keys", help_html(self.host.editor.bindings.profile))

    def _on_overlay_changed(self) -> None:
        overlay = self.state.overlay
        self.show_gt_action.setChecked(overlay.show_gt)
        self.show_prediction_action.setChecked(overlay.show_prediction)
        self.show_label_action.setChecked(overlay.show_label)
        self.show_uncertainty_action.setChecked(overlay.show_uncertainty)


def _choose_layout(set_layout: Callable[[Layout], object], layout: Layout, _checked: bool = False) -> None:
    """A layout item's slot (the checked flag Qt passes is not the layout's business)."""
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
