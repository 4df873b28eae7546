"""``ctseg train``: train (or, with ``--init``, fine-tune) the liver U-Net headless, and register it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ctseg_core.cli.exits import raised_by
from ctseg_core.errors import InvalidArgumentError, OutputExistsError, TrainingDataError

if TYPE_CHECKING:
    from ctseg_core.model.train import TrainConfig

#: Where the trainer raises ValueError / FileNotFoundError for the user's own mistakes
#: (no patients found, unknown --val name, too many --folds, no liver mask to train on).
TRAINING_SETUP_MODULES = ("ctseg_core.model.train", "ctseg_core.model.training_data")


def run(args: argparse.Namespace) -> int:
    from ctseg_core.model.train import run_training

    init_model = _check_before_training(args)
    config = _train_config(args, fine_tune=init_model is not None)
    try:
        model_path = run_training(
            [Path(p) for p in args.roots],
            Path(args.out),
            config,
            folds=args.folds,
            val_names=args.val,
            phantoms=args.phantoms,
            final=not args.no_final,
            cache_dir=Path(args.cache) if args.cache else None,
            init_model=init_model,
        )
    except (ValueError, FileNotFoundError) as error:
        if not raised_by(error, TRAINING_SETUP_MODULES):
            raise  # from deeper down (numpy, Keras): a bug, for the one handler in main
        raise TrainingDataError(None, str(error)) from error
    if args.register:
        _register_trained(model_path, args.register)
    return 0


def _check_before_training(args: argparse.Namespace) -> Path | None:
    """Refuse what would fail after hours (output folder, a taken --register name), set up the
    devices, and find the --init model; returns that model (None: train from scratch)."""
    from ctseg_core.io.atomic import check_output_folder

    check_output_folder(args.out)
    _refuse_to_replace_models(Path(args.out), args.overwrite)
    if args.register:
        from ctseg_core.model.registry import check_new_name

        check_new_name(args.register)
    if args.cpu_devices:
        _split_cpu(args.cpu_devices, args.threads)
    if args.init is None:
        return None
    from ctseg_core.model.registry import resolve_model

    return resolve_model(args.init)  # "bundled", a registered name, or a file


#: What a training run writes into ``--out`` that a second run would replace.
TRAINED_OUTPUTS = ("liver_unet.keras", "liver_unet.card.json", "cv_results.json", "fold_1")


def _refuse_to_replace_models(out: Path, overwrite: bool) -> None:
    """OutputExistsError when ``out`` is (inside) the user's models folder, never written by training
    (``--register`` is the way in, checked and named), or already holds a trained model, unless
    ``--overwrite``: a run of hours must not silently replace the last one."""
    from ctseg_core.model.registry import models_dir

    models = models_dir().expanduser().resolve()
    resolved = out.expanduser().resolve()
    if resolved == models or models in resolved.parents:
        raise OutputExistsError(
            out,
            "is the user's models folder: ctseg train never writes there; train into another folder "
            "and add the model with --register NAME",
        )
    existing = [name for name in TRAINED_OUTPUTS if (out / name).exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            out,
            f"already holds a trained model ({', '.join(existing)}): choose a new folder, or pass "
            "--overwrite to replace it",
        )


def _split_cpu(devices: int, threads: int | None) -> None:
    """Split the CPU into logical devices (tests of --distribute)."""
    from ctseg_core.model.tf_runtime import import_tensorflow

    tf = import_tensorflow(threads)
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)


def _train_config(args: argparse.Namespace, fine_tune: bool) -> TrainConfig:
    """The trainer's settings from the command line; fine-tuning defaults to a third of the learning rate."""
    from ctseg_core.model.finetune import FINE_TUNE_LEARNING_RATE
    from ctseg_core.model.preprocessing import InputSpec
    from ctseg_core.model.train import TrainConfig
    from ctseg_core.model.unet import UNetConfig

    spec = InputSpec(size=args.size, context=args.context, context_mm=args.context_mm or None)
    learning_rate = args.lr if args.lr is not None else (FINE_TUNE_LEARNING_RATE if fine_tune else 1e-3)
    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch,
        learning_rate=learning_rate,
        patience=args.patience,
        steps_per_epoch=args.steps,
        augment=not args.no_augment,
        distractors=args.distractors,
        schedule=args.schedule,
        ema=args.ema,
        seed=args.seed,
        threads=args.threads,
        distribute=args.distribute,
        spec=spec,
        unet=UNetConfig(
            input_size=args.size, channels=spec.channels, depth=args.depth, base_filters=args.filters, block=args.block
        ),
    )


def _register_trained(model_path: Path | None, name: str) -> None:
    """``ctseg train --register NAME``: the final model into the user's models, with its lineage.

    The "after" Dice is the card's cross-validation mean (the fine-tuned fold models on their held-out
    patients); the "before" Dice is not measured by ``ctseg train`` (the viewer's Improve dialog and
    :func:`ctseg_core.model.finetune.fine_tune` measure both).
    """
    from ctseg_core.model.card import read_card
    from ctseg_core.model.registry import register_model

    if model_path is None:
        raise InvalidArgumentError(None, "--register needs the final model: drop --no-final")
    card = read_card(model_path)
    extra = None
    if card.training.get("lineage"):
        extra = {
            "validation_dice_after": {"mean": card.validation.get("mean_dice"), "per_patient": None},
            "validation_dice_before": None,
        }
    registered = register_model(model_path, name, lineage=extra)
    print(f"registered as {name}: {registered}")
