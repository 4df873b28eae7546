"""``ctseg models`` and ``ctseg segment --model NAME``: registered models by name from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctseg_core.cli import EXIT_ERROR, EXIT_OK, main
from ctseg_core.model.registry import register_model


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(folder))
    return folder


def test_models_lists_bundled_and_registered_with_their_lineage(
    models: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_model(
        tiny_model,
        "mine",
        lineage={
            "base_name": "bundled",
            "base_patients": ["p0"],
            "added_patients": ["p1", "p2"],
            "validation_dice_before": {"mean": 0.5},
            "validation_dice_after": {"mean": 0.75},
        },
    )
    assert main(["models"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "BASE", "PATIENTS", "ADDED", "DICE", "BEFORE", "DICE", "AFTER"]
    assert out[1].split()[0] == "bundled"
    assert out[2].split() == ["mine", "bundled", "3", "2", "0.500", "0.750"]
    assert str(models) in out[-1]
    assert main(["models", "--json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["bundled", "mine"]
    assert rows[1]["added_patients"] == ["p1", "p2"] and rows[1]["dice_after"] == 0.75


def test_segment_with_a_registered_name(
    models: Path, tiny_model: Path, phantom_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_model(tiny_model, "mine")
    code = main(["segment", str(phantom_dir), "--model", "mine", "--out", str(tmp_path / "out"), "--json"])
    assert code == EXIT_OK
    row = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert row["patient"] == phantom_dir.name and "error" not in row
    assert Path(row["output"]).exists()


def test_segment_with_an_unknown_name_names_the_known_ones(
    models: Path, tiny_model: Path, phantom_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_model(tiny_model, "mine")
    code = main(["segment", str(phantom_dir), "--model", "theirs", "--out", str(tmp_path / "out")])
    assert code == EXIT_ERROR
    assert "no model of that name (known models: bundled, mine" in capsys.readouterr().err


def test_segment_model_still_takes_a_file(
    models: Path, tiny_model: Path, phantom_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["segment", str(phantom_dir), "--model", str(tiny_model), "--out", str(tmp_path / "o")]) == EXIT_OK
    assert f"model {tiny_model.name}" in capsys.readouterr().err


def test_train_register_refuses_bundled_before_training(
    models: Path, tiny_patients: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", str(tiny_patients), "--out", str(tmp_path / "t"), "--register", "bundled"])
    assert code == EXIT_ERROR
    assert "shipped with ctseg" in capsys.readouterr().err
    assert not (tmp_path / "t" / "liver_unet.keras").exists()
