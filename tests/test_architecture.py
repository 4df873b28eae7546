"""The layering rules hold: no import cycle anywhere, the core's and the GUI's top levels stay small."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

import ctseg_core
import ctseg_gui


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), lazy imports inside functions included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


@pytest.mark.parametrize("package", ["ctseg_core", "ctseg_gui"])
def test_no_import_cycles(package: str) -> None:
    graph = grimp.build_graph(package, "ctseg_core")
    package_cycles = [g for g in _cycles(graph) if any(m.startswith(package) for m in g)]
    assert package_cycles == []


def test_core_top_level_has_at_most_12_modules() -> None:
    root = Path(ctseg_core.__file__).parent
    modules = sorted(p.name for p in root.glob("*.py"))
    assert len(modules) <= 12, modules
    assert {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()} >= {
        "io",
        "model",
        "annotate",
        "synth",
        "export",
    }


def test_gui_top_level_has_at_most_8_modules() -> None:
    """The entry points (app, cli, main_window) stand on top; everything else lives in a room named for its role."""
    root = Path(ctseg_gui.__file__).parent
    modules = sorted(p.name for p in root.glob("*.py"))
    assert len(modules) <= 8, modules
    assert {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()} >= {
        "commands",
        "dialogs",
        "jobs",
        "panels",
        "plane_view",
        "state",
        "view3d",
        "widgets",
    }
