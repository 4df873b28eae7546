"""The built wheel works outside the checkout: it carries the bundled model and segments a phantom."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel and segments with TensorFlow in a subprocess

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
import ctseg_core, ctseg_resources
from ctseg_core.batch import segment_patients
from ctseg_core.model.inference import default_model_path
from ctseg_core.synth.phantom import write_phantom
patient = write_phantom(sys.argv[1], seed=5, slices=12, size=256)
rows = segment_patients([patient], sys.argv[2], "nifti", threads=2)
print(json.dumps({"core": ctseg_core.__file__, "model": str(default_model_path()), "row": rows[0]}))
"""


def test_wheel_ships_the_model_and_segments_outside_the_checkout(tmp_path: Path) -> None:
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("ctseg-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "ctseg_resources/models/liver_unet.keras" in names
    assert "ctseg_resources/models/liver_unet.card.json" in names
    assert "ctseg_resources/models/liver_unet.onnx" in names  # inference without TensorFlow
    assert "ctseg_core/py.typed" in names and "ctseg_gui/py.typed" in names
    assert "ctseg_resources/models/LICENSE-weights.txt" in names  # the weights' licence ships beside them
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "CTSEG_CACHE": str(tmp_path / "cache")}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(elsewhere / "patient"), str(elsewhere / "out")],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["core"].startswith(str(target)), result["core"]  # not the checkout
    assert result["model"].startswith(str(target))
    assert result["row"]["dice"] > 0.85 and Path(result["row"]["output"]).is_file()
