"""ctseg_core must stay usable headless: importing any of its modules loads no Qt."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import ctseg_core


def test_core_modules_import_no_qt_and_no_tensorflow() -> None:
    modules = [f"ctseg_core.{m.name}" for m in pkgutil.iter_modules(ctseg_core.__path__)]
    assert "ctseg_core.patient" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6', 'tensorflow', 'keras'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"ctseg_core imported: {result.stdout.strip()}"
