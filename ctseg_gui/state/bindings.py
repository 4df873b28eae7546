"""The mouse and key profile in use (ctseg, Slicer or ITK-SNAP) and the window/level mode, as Qt state.

The profiles themselves are data in :mod:`ctseg_core.display.bindings`; this object says which one
the plane views and the window's profile keys follow, and keeps the choice in QSettings
(``view/mouse_profile``) so the next session starts with it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from ctseg_core.display.bindings import DEFAULT_PROFILE, PROFILE_NAMES

PROFILE_KEY = "view/mouse_profile"


class Bindings(QObject):
    """Which profile the mouse and keys follow, and whether left drag changes the window (W/L mode)."""

    profileChanged = Signal(str)
    windowModeChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.profile = DEFAULT_PROFILE
        self.window_mode = False
        self._settings: QSettings | None = None

    def load(self, settings: QSettings) -> None:
        """Follow the profile stored in ``settings`` and store later choices there."""
        self._settings = settings
        stored = settings.value(PROFILE_KEY, DEFAULT_PROFILE)
        self.set_profile(stored if isinstance(stored, str) and stored in PROFILE_NAMES else DEFAULT_PROFILE)

    def set_profile(self, name: str) -> None:
        if name not in PROFILE_NAMES:
            raise ValueError(f"profile must be one of {', '.join(PROFILE_NAMES)}, got {name!r}")
        if self._settings is not None:
            self._settings.setValue(PROFILE_KEY, name)
        if name != self.profile:
            self.profile = name
            self.profileChanged.emit(name)

    def set_window_mode(self, on: bool) -> None:
        if bool(on) != self.window_mode:
            self.window_mode = bool(on)
            self.windowModeChanged.emit(self.window_mode)
