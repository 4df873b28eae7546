"""The code is MIT; the bundled weights carry the data set's non-commercial terms, beside them and in the metadata.

tests/test_wheel.py checks that the built wheel holds the weights' licence file.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_LICENCE = REPO / "resources" / "models" / "LICENSE-weights.txt"


def test_the_weights_licence_sits_beside_the_weights_and_agrees_with_the_card() -> None:
    text = WEIGHTS_LICENCE.read_text()
    assert "CC BY-NC-ND 4.0" in text and "non-commercial research use only" in text
    card = json.loads((REPO / "resources" / "models" / "liver_unet.card.json").read_text())
    assert "CC BY-NC-ND 4.0" in card["licence"] and "non-commercial research use only" in card["licence"]
    assert "MIT License" in (REPO / "LICENSE").read_text()


def test_the_metadata_names_both_licences_and_the_wheel_ships_the_weights_licence() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["license"]["text"].startswith("MIT") and "CC BY-NC-ND 4.0" in project["license"]["text"]
    assert {"License :: OSI Approved :: MIT License", "License :: Free for non-commercial use"} <= set(
        project["classifiers"]
    )
    patterns = pyproject["tool"]["setuptools"]["package-data"]["ctseg_resources"]
    assert any(fnmatch.fnmatch("models/LICENSE-weights.txt", pattern) for pattern in patterns)
