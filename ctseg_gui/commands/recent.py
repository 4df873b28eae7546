"""The recently opened patients: remembered in the settings, listed in File ▸ Open recent."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QMenu

RECENT_KEY = "recentPatients"
MAX_RECENT = 10


class RecentPatients(QObject):
    """The last :data:`MAX_RECENT` patient paths, newest first, and the menu that reopens them."""

    chosen = Signal(str)  # a path picked from the menu

    def __init__(self, settings: QSettings, menu: QMenu, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings, self.menu = settings, menu
        self._rebuild_menu()

    def paths(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings gives a one-item list back as a plain string
            return [value]
        return [str(path) for path in value] if isinstance(value, list | tuple) else []

    def add(self, path: str) -> None:
        """Put ``path`` first (once) and forget the oldest beyond the limit."""
        paths = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue(RECENT_KEY, paths[:MAX_RECENT])
        self._rebuild_menu()

    def clear(self) -> None:
        self.settings.remove(RECENT_KEY)
        self._rebuild_menu()

    def _rebuild_menu(self) -> None:
        self.menu.clear()
        paths = self.paths()
        for number, path in enumerate(paths, start=1):
            action = self.menu.addAction(f"&{number % 10}  {path}")
            action.triggered.connect(lambda _=False, p=path: self.chosen.emit(p))
        self.menu.addSeparator()
        self.menu.addAction("Clear list", self.clear).setEnabled(bool(paths))
        self.menu.setEnabled(bool(paths))
