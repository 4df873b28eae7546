"""The pre-commit configuration parses and runs the project's checks; no file it would refuse is in the tree.

CI does not run pre-commit (its hooks would be fetched from the network): it runs .ci/check, and this
test keeps the configuration honest, and applies its large-file rule to the tracked files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BUNDLED_MODEL = "resources/models/liver_unet.keras"
BUNDLED_GRAPH = "resources/models/liver_unet.onnx"  # its exported inference graph


def _hooks() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: {**hook, "repo": repo["repo"]} for repo in config["repos"] for hook in repo["hooks"]}


def _max_bytes(hook: dict[str, Any]) -> int:
    (limit,) = [int(arg.split("=")[1]) for arg in hook["args"] if arg.startswith("--maxkb=")]
    return limit * 1024


def test_the_config_names_ruff_ruff_format_import_linter_and_the_large_file_check() -> None:
    hooks = _hooks()
    assert {"ruff-check", "ruff-format", "import-linter", "check-added-large-files"} <= set(hooks)
    assert hooks["ruff-check"]["entry"].startswith("python3 -m ruff check")
    assert hooks["ruff-format"]["entry"].startswith("python3 -m ruff format")
    assert hooks["import-linter"]["entry"] == "lint-imports" and hooks["import-linter"]["pass_filenames"] is False
    assert hooks["check-added-large-files"]["repo"] == "https://github.com/pre-commit/pre-commit-hooks"


def test_the_large_file_check_lets_the_bundled_model_through_only_where_it_is() -> None:
    hook = _hooks()["check-added-large-files"]
    assert "--enforce-all" in hook["args"] and _max_bytes(hook) < (REPO / BUNDLED_MODEL).stat().st_size
    exclude = re.compile(hook["exclude"])
    assert exclude.search(BUNDLED_MODEL) and exclude.search(BUNDLED_GRAPH)
    assert not exclude.search("benchmarks/held_out_models/fold_1/last.keras")
    assert not exclude.search("resources/models/other.keras")
    assert not exclude.search("resources/models/other.onnx")


def test_no_tracked_file_is_over_the_large_file_limit() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: no tracked files to check")
    hook = _hooks()["check-added-large-files"]
    exclude = re.compile(hook["exclude"])
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    paths = [name for name in tracked.decode().split("\0") if name and not exclude.search(name)]
    large = [p for p in paths if (REPO / p).is_file() and (REPO / p).stat().st_size > _max_bytes(hook)]
    assert large == []
