"""The GUI package's shape: one job per module, controllers that never reach for the window, a
console script that stays headless, and every subpackage shipped in the wheel."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import ctseg_gui

GUI = Path(ctseg_gui.__file__).parent
REPO = GUI.parent
MAX_MODULE_LINES = 300


def _modules() -> dict[str, Path]:
    return {".".join(path.relative_to(REPO).with_suffix("").parts): path for path in sorted(GUI.rglob("*.py"))}


def _package(module: str, path: Path) -> str:
    """The package relative imports in ``path`` start from."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imported(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` imports (TYPE_CHECKING and function-level imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def test_only_the_entry_points_know_the_main_window() -> None:
    """Controllers and panels get a narrow host (commands.host.WindowHost), never ``MainWindow`` itself."""
    window = "ctseg_gui.main_window"
    users = sorted(
        name for name, path in _modules().items() if name != window and window in _imported(path, _package(name, path))
    )
    assert users == ["ctseg_gui.app"]


def test_the_controllers_reach_the_window_through_one_protocol() -> None:
    """One host protocol (``commands.host.WindowHost``): no second protocol, and every command controller
    that takes the window takes it as that protocol (not ``Any``, not a QWidget)."""
    trees = {name: ast.parse(path.read_text()) for name, path in _modules().items()}
    protocols = sorted(
        f"{name}.{node.name}"
        for name, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and any(ast.unparse(base).endswith("Protocol") for base in node.bases)
    )
    assert protocols == ["ctseg_gui.commands.host.WindowHost"]
    other_hosts = [
        f"{name}:{node.lineno}"
        for name, tree in trees.items()
        if name.startswith("ctseg_gui.commands.")
        for node in ast.walk(tree)
        if isinstance(node, ast.arg)
        and node.arg in {"host", "window"}
        and (node.annotation is None or ast.unparse(node.annotation) != "WindowHost")
    ]
    assert other_hosts == []


def test_every_gui_module_is_short() -> None:
    lines = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    long = {name: n for name, n in lines.items() if n > MAX_MODULE_LINES}
    assert long == {}


def test_the_package_and_its_console_script_import_no_qt() -> None:
    code = (
        "import sys, ctseg_gui, ctseg_gui.cli\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_every_gui_subpackage_is_shipped() -> None:
    packages = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    subpackages = {".".join(p.parent.relative_to(REPO).parts) for p in GUI.rglob("__init__.py")}
    assert subpackages - packages == set()


def test_each_type_ignore_says_why() -> None:
    bare = [
        f"{path.name}:{i}"
        for path in GUI.rglob("*.py")
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"# type: ignore(\[[^\]]*\])?\s*$", line)
    ]
    assert bare == []
