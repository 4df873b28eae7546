"""An install without the ``gui`` extra (batch and cluster workers) runs every headless command, and
``ctseg view`` / ``ctseg demo`` there say which extra to install instead of printing a traceback.

Building and installing a wheel without the extra takes minutes, so the missing packages are blocked
from import instead: a finder first on ``sys.meta_path`` answers as Python does for a package that is
not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: The top-level packages the ``gui`` extra brings (PySide6's shiboken6 with it).
GUI_IMPORTS = ("PySide6", "shiboken6", "pyqtgraph", "OpenGL")

WITHOUT_GUI = f"""
import importlib.abc, sys

BLOCKED = {GUI_IMPORTS!r}


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from ctseg_gui.cli import main

try:
    status = main(sys.argv[1:])
except SystemExit as done:  # --help
    status = done.code
print("gui modules loaded:", sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
sys.exit(status)
"""


def ctseg_without_gui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``ctseg`` console script's ``main`` with the gui extra's packages not importable."""
    env = {**os.environ, "CTSEG_CACHE": str(cwd / "cache"), "CTSEG_MODELS_DIR": str(cwd / "models")}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_GUI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_the_base_dependencies_hold_no_qt_and_the_gui_extra_holds_it() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    qt = ("pyside6", "pyqtgraph", "pyopengl")
    base = [requirement.lower() for requirement in project["dependencies"]]
    gui = [requirement.lower() for requirement in project["optional-dependencies"]["gui"]]
    assert not [r for r in base if r.startswith(qt)]
    assert [any(r.startswith(name) for r in gui) for name in qt] == [True, True, True]
    assert "ctseg[gui]" in project["optional-dependencies"]["test"]  # the GUI tests need the viewer
    install = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if "pip install -e" in line]
    assert install[:2] == [
        'python3 -m pip install -e ".[gui]"',
        'python3 -m pip install -e ".[test,bench]" && python3 -m pytest -q',
    ]


@pytest.mark.slow
def test_headless_commands_run_without_the_gui_packages(tmp_path: Path) -> None:
    patient = tmp_path / "patient"
    steps = [
        ("--help",),
        ("phantom", str(patient), "--seed", "4", "--slices", "8", "--size", "128"),
        ("info", str(patient), "--json"),
        ("export", str(patient), "--mask", "liver", "--mesh", str(tmp_path / "liver.stl")),
        ("models", "--json"),
    ]
    for args in steps:
        result = ctseg_without_gui(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert result.stdout.strip().endswith("gui modules loaded: []"), (args, result.stdout[-500:])
    info = ctseg_without_gui("info", str(patient), "--json", cwd=tmp_path).stdout.strip().splitlines()[:-1]
    assert json.loads("\n".join(info))["shape"] == [8, 128, 128]
    assert (tmp_path / "liver.stl").stat().st_size > 0


@pytest.mark.parametrize("command", ["view", "demo"])
@pytest.mark.slow
def test_view_and_demo_name_the_gui_extra_where_it_is_missing(tmp_path: Path, command: str) -> None:
    result = ctseg_without_gui(command, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ctseg: error: `ctseg {command}` needs the viewer's packages")
    assert "install ctseg[gui]" in lines[0] and "PySide6" in lines[0]


@pytest.mark.slow
def test_segmenting_runs_without_the_gui_packages(tmp_path: Path) -> None:
    """The cluster worker's job: the bundled model on a phantom, Qt nowhere."""
    patient = tmp_path / "patient"
    assert ctseg_without_gui("phantom", str(patient), "--seed", "5", "--slices", "12", cwd=tmp_path).returncode == 0
    result = ctseg_without_gui(
        "segment", str(patient), "--out", str(tmp_path / "out"), "--format", "nifti", "--threads", "2", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("gui modules loaded: []")
    assert list((tmp_path / "out").rglob("*.nii.gz"))
