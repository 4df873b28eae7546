"""A tiny U-Net trained for a few steps on phantoms: exercises the real trainer in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctseg_core.synth.phantom import write_phantom


@pytest.fixture(scope="session")
def tiny_patients(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small phantom patients under one root (patients p0, p1, p2)."""
    root = tmp_path_factory.mktemp("tiny_data")
    for i in range(3):
        write_phantom(root / f"p{i}", seed=20 + i, slices=10, size=256)
    return root


@pytest.fixture(scope="session")
def tiny_model(tiny_patients: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (barely trained) model file with its card, from the real trainer."""
    from ctseg_core.model.preprocessing import InputSpec
    from ctseg_core.model.train import TrainConfig, run_training
    from ctseg_core.model.unet import UNetConfig

    out = tmp_path_factory.mktemp("tiny_model")
    spec = InputSpec(size=32)
    config = TrainConfig(
        epochs=1,
        batch_size=4,
        steps_per_epoch=2,
        spec=spec,
        unet=UNetConfig(input_size=32, depth=2, base_filters=4),
    )
    path = run_training(
        [tiny_patients], out, config, folds=None, final=True, cache_dir=out / "cache", log=lambda _: None
    )
    assert path is not None
    return path
