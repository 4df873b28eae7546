"""The keys of the mouse and key profile in use, and View ▸ Mouse and keys to choose the profile.

Each key row of the active profile (:func:`ctseg_core.display.bindings.key_bindings`) becomes a
window-wide QAction; a menu item whose key the profile takes loses that key while the profile is
active (Slicer's W is "next segment", not "worst slice") and gets it back on a switch. The
commands are the state's, the views' and the editor's own: no key logic lives elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from ctseg_core.annotate.tools import Tool
from ctseg_core.display.bindings import PROFILE_NAMES, Command, key_bindings
from ctseg_gui.commands.host import WindowHost
from ctseg_gui.widgets.edit_actions import EditActions

#: (rows, columns) a crosshair key moves on the screen of the active plane.
CURSOR_STEPS = {
    Command.CURSOR_LEFT: (0, -1),
    Command.CURSOR_RIGHT: (0, 1),
    Command.CURSOR_UP: (-1, 0),
    Command.CURSOR_DOWN: (1, 0),
}


class ProfileKeys(QObject):
    """Installs the active profile's keys on the window and offers the profiles in ``menu``."""

    def __init__(self, host: WindowHost, actions: EditActions, menu: QMenu, settings: QSettings) -> None:
        super().__init__(host.window())
        self.host, self.actions, self.bindings = host, actions, host.editor.bindings
        self.key_actions: list[QAction] = []
        self._taken: dict[QAction, list[QKeySequence]] = {}
        self._build_menu(menu)
        self.bindings.profileChanged.connect(self.apply)
        self.bindings.load(settings)
        self.apply()

    def _build_menu(self, menu: QMenu) -> None:
        submenu = menu.addMenu("Mouse and &keys")
        group = QActionGroup(submenu)
        self.profile_actions: dict[str, QAction] = {}
        for name in PROFILE_NAMES:
            act = submenu.addAction(f"{name} profile")
            act.setCheckable(True)
            act.triggered.connect(partial(self._choose, name))
            group.addAction(act)
            self.profile_actions[name] = act
        submenu.addSeparator()
        self.window_mode_action = submenu.addAction("&Window/level mode (left drag sets the window)")
        self.window_mode_action.setCheckable(True)
        self.window_mode_action.toggled.connect(self.bindings.set_window_mode)
        self.bindings.windowModeChanged.connect(self.window_mode_action.setChecked)

    def _choose(self, name: str, _checked: bool = False) -> None:
        self.bindings.set_profile(name)
        self.host.show_status(f"Mouse and keys: {name} profile (F1 lists them)")

    def apply(self) -> None:
        """Give the window the active profile's keys, and the menu items back the keys it no longer takes."""
        window = self.host.window()
        for act in self.key_actions:
            act.setShortcuts([])  # gone before deleteLater lands: _take must not see it
            window.removeAction(act)
            act.deleteLater()
        for act, keys in self._taken.items():
            act.setShortcuts(keys)
        self.key_actions, self._taken = [], {}
        commands = self._commands()
        for binding in key_bindings(self.bindings.profile):
            sequence = QKeySequence(binding.gesture.key)
            self._take(sequence)
            act = QAction(binding.command.value, window)
            act.setShortcut(sequence)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(partial(_run, commands[binding.command]))
            window.addAction(act)
            self.key_actions.append(act)
        self.profile_actions[self.bindings.profile].setChecked(True)

    def _take(self, sequence: QKeySequence) -> None:
        """Take ``sequence`` from any other action of the window for as long as the profile is active."""
        for act in self.host.window().findChildren(QAction):
            keys = act.shortcuts()
            if act not in self.key_actions and sequence in keys:
                self._taken.setdefault(act, keys)
                act.setShortcuts([key for key in keys if key != sequence])

    def _commands(self) -> dict[Command, Callable[[], object]]:
        state, editor, views, actions = self.host.state, self.host.editor, self.host.plane_layout, self.actions
        commands: dict[Command, Callable[[], object]] = {
            Command.NEXT_SLICE: lambda: state.step_plane(editor.active_plane, 1),
            Command.PREVIOUS_SLICE: lambda: state.step_plane(editor.active_plane, -1),
            Command.RESET_VIEW: views.fit,
            Command.NEXT_SEGMENT: lambda: editor.step_segment(1),
            Command.PREVIOUS_SEGMENT: lambda: editor.step_segment(-1),
            Command.UNDO: actions.undo.trigger,
            Command.REDO: actions.redo.trigger,
            Command.SMALLER_BRUSH: lambda: editor.step_brush(-1),
            Command.LARGER_BRUSH: lambda: editor.step_brush(1),
            Command.TOOL_NAVIGATE: lambda: editor.set_tool(Tool.NAVIGATE),
            Command.TOOL_BRUSH: lambda: editor.set_tool(Tool.BRUSH),
            Command.TOOL_ERASER: lambda: editor.set_tool(Tool.ERASER),
        }
        for command, step in CURSOR_STEPS.items():
            commands[command] = partial(self.move_cursor, *step)
        return commands

    def move_cursor(self, rows: int, columns: int) -> None:
        """Move the crosshair by screen rows and columns in the active plane (ITK-SNAP's arrow keys)."""
        state, plane = self.host.state, self.host.editor.active_plane
        patient = state.patient
        if patient is None:
            return
        row, column = plane.pixel(patient.shape, state.position)
        height, width = plane.image_shape(patient.shape)
        row, column = min(max(row + rows, 0), height - 1), min(max(column + columns, 0), width - 1)
        state.set_position(plane.voxel(patient.shape, state.plane_index(plane), row, column))


def _run(command: Callable[[], object], _checked: bool = False) -> None:
    """A key action's slot (the checked flag Qt passes is not the command's business)."""
    command()
