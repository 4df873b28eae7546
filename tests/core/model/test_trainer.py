"""The headless trainer: splits by patient, outputs, model card, CLI, and --distribute."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctseg_core.model.card import read_card
from ctseg_core.model.preprocessing import InputSpec
from ctseg_core.model.train import TrainConfig, run_training
from ctseg_core.model.training_data import split_folds
from ctseg_core.model.unet import UNetConfig, build_unet


def test_folds_validate_each_patient_once_balanced_and_independent_of_input_order() -> None:
    names = [f"patient{i}" for i in range(7)]
    folds = split_folds(names, 3)
    assert sorted(n for fold in folds for n in fold) == sorted(names)  # each patient validated exactly once
    assert sorted(len(fold) for fold in folds) == [2, 2, 3]  # balanced
    assert split_folds(list(reversed(names)), 3) == folds  # the split depends on the patients, not the order
    for bad in (1, 8):
        with pytest.raises(ValueError, match="folds"):
            split_folds(names, bad)


@pytest.mark.slow
def test_seed_sized_unet_has_about_1_9_million_parameters() -> None:
    model = build_unet(UNetConfig(input_size=128, channels=1, block="selu", dropout=0.1))
    assert 1.8e6 < model.count_params() < 2.0e6


@pytest.mark.slow
def test_cross_validation_end_to_end(tiny_patients: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        epochs=1,
        batch_size=4,
        steps_per_epoch=2,
        ema=0.9,
        spec=InputSpec(size=32),
        unet=UNetConfig(input_size=32, depth=2, base_filters=4),
    )
    logs: list[str] = []
    path = run_training(
        [tiny_patients], tmp_path, config, folds=3, final=True, cache_dir=tmp_path / "cache", log=logs.append
    )
    assert path is not None and path.stat().st_size < 10e6
    card = read_card(path)
    folds = card.validation["folds"]
    assert [sorted(f["validation"]) for f in folds] == [["p0"], ["p1"], ["p2"]]
    for fold in folds:
        assert set(fold["validation"][f"p{fold['fold'] - 1}"]) >= {"dice", "assd_mm", "hd95_mm"}
    assert card.training["patients"] == ["p0", "p1", "p2"]
    assert all(fold["last_epoch_val_dice"] is not None for fold in folds)
    # Cosine schedule (the default): the final model runs the whole schedule the folds ran.
    assert card.training["epochs"] == card.training["config"]["epochs"] == 1
    assert card.training["config"]["schedule"] == "cosine"
    assert card.training["config"]["ema"] == 0.9
    assert card.training["software"]["tensorflow"]
    assert "non-commercial" in card.licence
    for k in (1, 2, 3):
        log = (tmp_path / f"fold_{k}" / "training_log.csv").read_text()
        assert "val_dice" in log
        assert (tmp_path / f"fold_{k}" / "training_curve.png").stat().st_size > 1000
    assert any("validate p0" in line for line in logs)
    assert len(list((tmp_path / "cache" / "slices").glob("*.npz"))) == 3


@pytest.mark.slow
def test_train_cli_with_distribute_on_two_cpu_devices(tiny_patients: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "ctseg_core.cli",
        "train",
        str(tiny_patients),
        "--out",
        str(tmp_path / "out"),
        "--val",
        "p1",
        "--epochs",
        "1",
        "--steps",
        "2",
        "--batch",
        "4",
        "--size",
        "32",
        "--depth",
        "2",
        "--filters",
        "4",
        "--no-final",
        "--distribute",
        "--cpu-devices",
        "2",
        "--cache",
        str(tmp_path / "cache"),
        "--schedule",
        "plateau",
        "--distractors",
        "0.5",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "MirroredStrategy with 2 replicas" in result.stdout
    results = json.loads((tmp_path / "out" / "cv_results.json").read_text())
    assert list(results["folds"][0]["validation"]) == ["p1"]
    assert 0.0 <= results["folds"][0]["last_epoch_val_dice"] <= 1.0


@pytest.mark.slow
def test_train_cli_rejects_unknown_validation_patient(tiny_patients: Path, tmp_path: Path) -> None:
    from ctseg_core.cli import main

    code = main(
        [
            "train",
            str(tiny_patients),
            "--out",
            str(tmp_path),
            "--val",
            "nobody",
            "--epochs",
            "1",
            "--size",
            "32",
            "--no-final",
        ]
    )
    assert code == 2


@pytest.mark.parametrize("ema", [0.0, 0.999999])
@pytest.mark.slow
def test_ema_weights_are_what_the_trainer_ships(tiny_patients: Path, tmp_path: Path, ema: float) -> None:
    """With a near-frozen average the shipped weights stay where the first step put them; without, they move.

    (Keras starts the average from the weights after the first update: one Adam step is about
    the learning rate per weight.)
    """
    import keras
    import numpy as np

    unet = UNetConfig(input_size=32, depth=2, base_filters=4)
    config = TrainConfig(
        epochs=2, batch_size=4, steps_per_epoch=3, learning_rate=1e-2, ema=ema, spec=InputSpec(size=32), unet=unet
    )
    path = run_training([tiny_patients], tmp_path, config, final=True, cache_dir=tmp_path / "cache", log=lambda _: None)
    keras.utils.set_random_seed(config.seed)
    initial = build_unet(unet)
    shipped = keras.saving.load_model(str(path), compile=False)
    change = max(
        float(np.max(np.abs(a.numpy() - b.numpy())))
        for a, b in zip(initial.trainable_weights, shipped.trainable_weights, strict=False)
    )
    step = config.learning_rate
    if ema:
        assert change < 1.5 * step
    else:
        assert change > 3 * step


@pytest.mark.slow
def test_folds_leave_their_models_and_init_fine_tunes_from_a_model(tiny_patients: Path, tmp_path: Path) -> None:
    """Each fold leaves a best and a last-epoch model with cards; --init starts from another model's weights."""
    config = TrainConfig(
        epochs=1,
        batch_size=4,
        steps_per_epoch=2,
        spec=InputSpec(size=32, context_mm=2.0),
        unet=UNetConfig(input_size=32, depth=2, base_filters=4),
    )
    run_training(
        [tiny_patients], tmp_path / "cv", config, folds=3, final=False, cache_dir=tmp_path / "cache", log=lambda _: None
    )
    for k in (1, 2, 3):
        for name in ("model.keras", "last.keras"):
            card = read_card(tmp_path / "cv" / f"fold_{k}" / name)
            assert card.training["held_out"] == [f"p{k - 1}"]
            assert f"p{k - 1}" not in card.training["patients"]
            assert card.input.context_mm == 2.0
    base = tmp_path / "cv" / "fold_1" / "last.keras"
    # The command line asks for another size and context: a trained network keeps its own.
    other = TrainConfig(epochs=1, batch_size=4, steps_per_epoch=2, learning_rate=3e-4, spec=InputSpec(size=48))
    logs: list[str] = []
    path = run_training(
        [tiny_patients],
        tmp_path / "tuned",
        other,
        final=True,
        cache_dir=tmp_path / "cache",
        log=logs.append,
        init_model=base,
    )
    assert path is not None
    card = read_card(path)
    assert card.input.size == 32 and card.input.context_mm == 2.0
    lineage = card.training["lineage"]
    assert lineage["base_model"] == str(base)
    assert lineage["base_patients"] == ["p1", "p2"]
    assert card.training["config"]["learning_rate"] == 3e-4
    assert any("fine-tuning from" in line for line in logs)


def test_train_cli_init_without_value_means_the_bundled_model(tiny_patients: Path, tmp_path: Path) -> None:
    from ctseg_core.cli import build_parser

    parser = build_parser()[0]
    args = parser.parse_args(["train", str(tiny_patients), "--out", str(tmp_path), "--init"])
    assert args.init == "bundled" and args.lr is None
    args = parser.parse_args(["train", str(tiny_patients), "--out", str(tmp_path), "--init", "m.keras"])
    assert args.init == "m.keras"
