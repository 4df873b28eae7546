"""ctseg_core must stay usable headless: importing any of its modules loads no Qt and no TensorFlow,
and no module of the core names ``ctseg_gui`` or Qt anywhere (also inside functions)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ctseg_core

FORBIDDEN = ("PySide6", "pyqtgraph", "shiboken6", "ctseg_gui", "OpenGL")


def _core_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(ctseg_core.__path__, "ctseg_core.")]


@pytest.mark.slow
def test_core_modules_import_no_qt_and_no_tensorflow() -> None:
    modules = _core_modules()
    assert {"ctseg_core.io.patient", "ctseg_core.model.inference", "ctseg_core.annotate.editing"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'pyqtgraph', 'shiboken6', 'tensorflow', 'keras', 'ctseg_gui'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"ctseg_core imported: {result.stdout.strip()}"


def test_no_core_source_imports_the_gui_or_qt_even_lazily() -> None:
    offenders = []
    for path in Path(ctseg_core.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


@pytest.mark.slow
def test_the_public_api_is_importable_from_the_top_level_without_loading_it_eagerly() -> None:
    code = (
        "import sys, ctseg_core\n"
        "assert 'pydicom' not in sys.modules, 'import ctseg_core must stay light'\n"
        "from ctseg_core import load_patient, Patient, Segmenter, compare, dice, write_ircad_mask, "
        "write_nifti_mask, write_dicom_seg, segment_patients\n"
        "assert 'tensorflow' not in sys.modules\n"
        "print(segment_patients.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "ctseg_core.batch.run"
