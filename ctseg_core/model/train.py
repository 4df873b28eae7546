"""The headless trainer behind ``ctseg train`` (no Qt).

Splits are by patient only (K folds or named validation patients); synthetic phantoms only ever
train. Each fold trains on cached network-grid slices with augmentation, keeps the weights with
the best validation Dice (3D, per patient, after post-processing), stops early, and is then
evaluated on the original CT grid with the same code path as ``ctseg segment``. ``--final``
trains once more on every patient for the shipped model.
"""

from __future__ import annotations

import csv
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ctseg_core.cache import default_cache_dir
from ctseg_core.errors import CtsegError
from ctseg_core.metrics import compare, dice
from ctseg_core.model.augment import AugmentConfig, augment_sample
from ctseg_core.model.card import ModelCard, write_card
from ctseg_core.model.inference import Segmenter
from ctseg_core.model.onnx_export import export_graph
from ctseg_core.model.postprocess import postprocess
from ctseg_core.model.preprocessing import InputSpec, normalise_hu, with_context
from ctseg_core.model.training_data import (
    CachedPatient,
    discover_patients,
    ensure_phantoms,
    load_cached,
    split_folds,
)
from ctseg_core.model.unet import UNetConfig, build_unet
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

Log = Callable[[str], None]


@dataclass
class TrainConfig:
    """Everything that decides a training run (recorded in the model card)."""

    epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 1e-3
    patience: int = 10
    steps_per_epoch: int | None = None
    negative_fraction: float = 0.25
    augment: bool = True
    distractors: float = 0.3  # probability per slice of an extrahepatic mass (see augment.py)
    schedule: str = "cosine"  # "cosine" (fixed decay over epochs) or "plateau" (on validation Dice)
    # Momentum of an exponential moving average of the weights, validated, saved and shipped in
    # place of the raw weights (0 = off): validation Dice on an unseen patient swings by several
    # points from epoch to epoch with raw weights on a training set this small.
    ema: float = 0.0
    seed: int = 0
    threads: int | None = None
    distribute: bool = False
    spec: InputSpec = field(default_factory=InputSpec)
    unet: UNetConfig = field(default_factory=UNetConfig)


@dataclass
class FoldResult:
    fold: int
    validation: dict[str, dict[str, float | None]]
    best_epoch: int
    epochs_run: int
    seconds: float
    # Network-grid validation Dice of the last epoch: free of the optimism of picking the best epoch
    # on the validation patient itself.
    last_epoch_val_dice: float | None = None


@dataclass
class TrainedModel:
    """What one ``train_one`` run leaves: the model (best validation weights) and its history."""

    model: Any
    best_epoch: int
    epochs_run: int
    last_epoch_val_dice: float | None


class SliceSampler:
    """Batches of (inputs, labels) from cached patients: every liver slice, some others."""

    def __init__(self, patients: list[CachedPatient], config: TrainConfig, seed: int) -> None:
        self.patients = patients
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.augment = AugmentConfig(distractor_probability=config.distractors)
        self.positive: list[tuple[int, int]] = []
        self.negative: list[tuple[int, int]] = []
        for p, patient in enumerate(patients):
            has_liver = patient.liver.any(axis=(1, 2))
            self.positive += [(p, int(k)) for k in np.nonzero(has_liver)[0]]
            self.negative += [(p, int(k)) for k in np.nonzero(~has_liver)[0]]

    def epoch_indices(self) -> list[tuple[int, int]]:
        count = int(len(self.positive) * self.config.negative_fraction / (1 - self.config.negative_fraction))
        count = min(count, len(self.negative))
        chosen = [self.negative[i] for i in self.rng.choice(len(self.negative), count, replace=False)] if count else []
        picks = self.positive + chosen
        return [picks[i] for i in self.rng.permutation(len(picks))]

    def steps_per_epoch(self) -> int:
        if self.config.steps_per_epoch:
            return self.config.steps_per_epoch
        total = len(self.positive) / (1 - self.config.negative_fraction)
        return max(1, int(total) // self.config.batch_size)

    def sample(self, p: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        patient = self.patients[p]
        spec = self.config.spec
        step = spec.context_step(patient.slice_spacing_mm)
        hu = with_context(patient.hu, np.array([k]), spec.context, step)[0].astype(np.float32)
        mask = patient.liver[k].astype(np.float32)
        if self.config.augment:
            hu, mask = augment_sample(hu, mask, self.rng, self.augment)
        return normalise_hu(hu, spec), mask

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        size, channels, batch = self.config.spec.size, self.config.spec.channels, self.config.batch_size
        while True:
            order = self.epoch_indices()
            for start in range(0, len(order) - batch + 1, batch):
                x = np.empty((batch, size, size, channels), np.float32)
                y = np.empty((batch, size, size, 1), np.float32)
                for i, (p, k) in enumerate(order[start : start + batch]):
                    x[i], y[i, ..., 0] = self.sample(p, k)
                yield x, y


def _dice_bce_loss(y_true: Any, y_pred: Any) -> Any:
    """Soft Dice over the batch + binary cross-entropy: Dice for overlap, BCE for calibration."""
    import keras
    from keras import ops

    intersection = ops.sum(y_true * y_pred)
    soft_dice = (2.0 * intersection + 1.0) / (ops.sum(y_true) + ops.sum(y_pred) + 1.0)
    return 1.0 - soft_dice + ops.mean(keras.losses.binary_crossentropy(y_true, y_pred))


def _strategy(distribute: bool) -> Any:
    import tensorflow as tf

    if not distribute:
        return tf.distribute.get_strategy()
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")
    ]
    return tf.distribute.MirroredStrategy(devices=devices)


def _callbacks(model_dir: Path, val: list[CachedPatient], config: TrainConfig, log: Log) -> list[Any]:
    """Keras callbacks of one run, in the order they must run: EMA swap, validation, schedule, logs."""
    import keras

    callbacks: list[Any] = []
    if config.ema:
        # First in the list: the callbacks after it see (validate and save) the averaged weights.
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if val:
        callbacks += _validation_callbacks(model_dir, val, config)
    callbacks.append(_schedule_callback(config, bool(val)))
    callbacks += [keras.callbacks.CSVLogger(str(model_dir / "training_log.csv")), _epoch_log_callback(config, log)]
    return callbacks


def _validation_callbacks(model_dir: Path, val: list[CachedPatient], config: TrainConfig) -> list[Any]:
    """Patient Dice each epoch, the best weights kept as ``best.weights.h5``, early stopping on it."""
    import keras

    return [
        _patient_dice_callback(val, config),
        keras.callbacks.ModelCheckpoint(
            str(model_dir / "best.weights.h5"),
            monitor="val_dice",
            mode="max",
            save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.EarlyStopping(monitor="val_dice", mode="max", patience=config.patience),
    ]


def _patient_dice_callback(val: list[CachedPatient], config: TrainConfig) -> Any:
    import keras

    class PatientDice(keras.callbacks.Callback):
        """3D Dice per validation patient on the network grid, after post-processing.

        Runs the network through the same batched segmenter as inference; its compiled graph
        reads the model's live weights, so one segmenter serves every epoch.
        """

        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            self.segmenter = Segmenter(self.model, ModelCard(input=config.spec), Path("<training>"))

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            scores = [
                dice(
                    postprocess(
                        self.segmenter.predict_stack(
                            normalise_hu(p.hu, config.spec), slice_spacing_mm=p.slice_spacing_mm
                        )
                    ),
                    p.liver > 0,
                )
                for p in val
            ]
            if logs is not None and scores:
                logs["val_dice"] = float(np.nanmean(scores))

    return PatientDice()


def _schedule_callback(config: TrainConfig, validated: bool) -> Any:
    """Halve the rate on a validation plateau (``schedule="plateau"``), else cosine decay over the epochs.

    A run without validation (the final model) always decays by cosine: a plateau rule would
    have nothing to watch.
    """
    import keras

    if validated and config.schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(
            monitor="val_dice", mode="max", factor=0.5, patience=max(2, config.patience // 3), min_lr=1e-5
        )
    return keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: float(config.learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / max(1, config.epochs))))
    )


def _epoch_log_callback(config: TrainConfig, log: Log) -> Any:
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            parts = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float))
            log(f"epoch {epoch + 1}/{config.epochs} {time.perf_counter() - self.started:.0f}s {parts}")

    return EpochLog()


@dataclass(frozen=True)
class TrainingHooks:
    """A caller's progress and cancel hooks for ``train_one`` (the GUI's fine-tuning worker)."""

    progress: ProgressCallback | None = None  # progress(epochs done, epochs planned, "training")
    should_cancel: CancelCheck | None = None  # polled after every batch; True raises Cancelled


def _hooks_callback(hooks: TrainingHooks, epochs: int) -> Any:
    """A Keras callback that reports epochs and raises Cancelled between batches when asked."""
    import keras

    class ProgressAndCancel(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            if hooks.progress:
                hooks.progress(0, epochs, "training")

        def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
            raise_if_cancelled(hooks.should_cancel)

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            raise_if_cancelled(hooks.should_cancel)
            if hooks.progress:
                hooks.progress(epoch + 1, epochs, "training")

    return ProgressAndCancel()


def train_one(
    train: list[CachedPatient],
    val: list[CachedPatient],
    config: TrainConfig,
    model_dir: Path,
    log: Log,
    initial_weights: list[np.ndarray] | None = None,
    hooks: TrainingHooks | None = None,
) -> TrainedModel:
    """Train one model, with the best validation weights restored where there is validation.

    ``hooks`` report finished epochs and stop between batches when cancelled (see TrainingHooks).

    ``initial_weights`` (fine-tuning, ``--init``) start the network from a trained model instead of
    random weights. The last epoch's weights are kept as ``last.weights.h5`` beside the best ones:
    they are chosen without looking at the validation patient, so held-out checks can use them.
    """
    import keras

    model_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    sampler = SliceSampler(train, config, config.seed)
    dataset = _batches(sampler, config)
    strategy = _strategy(config.distribute)
    model = _compiled_unet(config, strategy, initial_weights)
    if config.distribute:
        log(f"training under {type(strategy).__name__} with {strategy.num_replicas_in_sync} replicas")
    history = model.fit(
        dataset,
        epochs=config.epochs,
        steps_per_epoch=sampler.steps_per_epoch(),
        callbacks=_callbacks(model_dir, val, config, log) + ([_hooks_callback(hooks, config.epochs)] if hooks else []),
        verbose=0,
    )
    epochs_run = len(history.history.get("loss", []))
    scores = history.history.get("val_dice", [])
    best_epoch = epochs_run
    model.save_weights(str(model_dir / "last.weights.h5"))
    if val and (model_dir / "best.weights.h5").is_file():
        model.load_weights(str(model_dir / "best.weights.h5"))
        best_epoch = int(np.argmax(scores)) + 1 if scores else epochs_run
    plot_curves(model_dir / "training_log.csv", model_dir / "training_curve.png")
    return TrainedModel(model, best_epoch, epochs_run, float(scores[-1]) if scores else None)


def _batches(sampler: SliceSampler, config: TrainConfig) -> Any:
    """The sampler's batches as a prefetching tf.data pipeline of fixed-shape float32 tensors."""
    import tensorflow as tf

    spec = config.spec
    signature = (
        tf.TensorSpec((config.batch_size, spec.size, spec.size, spec.channels), tf.float32),
        tf.TensorSpec((config.batch_size, spec.size, spec.size, 1), tf.float32),
    )
    return tf.data.Dataset.from_generator(sampler.batches, output_signature=signature).prefetch(2)


def _compiled_unet(config: TrainConfig, strategy: Any, initial_weights: list[np.ndarray] | None) -> Any:
    """The U-Net built, started from ``initial_weights`` if given, and compiled, under ``strategy``."""
    import keras

    spec = config.spec
    with strategy.scope():
        model = build_unet(replace(config.unet, input_size=spec.size, channels=spec.channels))
        optimizer = keras.optimizers.Adam(config.learning_rate, use_ema=config.ema > 0, ema_momentum=config.ema or 0.99)
        if initial_weights is not None:
            model.set_weights(initial_weights)
        model.compile(optimizer=optimizer, loss=_dice_bce_loss)
    return model


def plot_curves(csv_path: Path, png_path: Path) -> None:
    """Loss and validation Dice per epoch, as a PNG beside the CSV log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [float(r["loss"]) for r in rows], label="training loss (Dice + BCE)")
    if "val_dice" in rows[0]:
        ax.plot(epochs, [float(r["val_dice"]) for r in rows], label="validation Dice (3D, per patient)")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def export_weights(weights_path: Path, config: TrainConfig, path: Path) -> None:
    """An inference-only model file from a saved weights file (e.g. a fold's last epoch)."""
    from ctseg_core.io.atomic import atomic_path

    clean = build_unet(replace(config.unet, input_size=config.spec.size, channels=config.spec.channels))
    clean.load_weights(str(weights_path))
    with atomic_path(path, suffix=".keras") as temporary:
        clean.save(str(temporary))


def load_initial_model(init_model: Path, config: TrainConfig) -> tuple[TrainConfig, list[np.ndarray], dict[str, Any]]:
    """The weights to fine-tune from, the config adopting that model's input and architecture, its lineage.

    The base model decides what the network sees and its shape; the command line's ``--size``,
    ``--context`` and architecture flags cannot change a trained network, so they are replaced.
    """
    base = Segmenter.load(init_model, threads=config.threads, warm=False)  # its weights, not its graph
    try:
        unet = UNetConfig(**base.card.architecture) if base.card.architecture else config.unet
    except TypeError as exc:
        raise ValueError(f"{init_model}: its model card's architecture is not one this trainer builds ({exc})") from exc
    adopted = replace(config, spec=base.card.input, unet=unet)
    lineage = {
        "base_model": str(init_model),
        "base_patients": list(base.card.training.get("patients", [])),
        "base_phantoms": list(base.card.training.get("phantoms", [])),
        "base_validation_mean_dice": base.card.validation.get("mean_dice"),
        "base_lineage": base.card.training.get("lineage"),
    }
    return adopted, base.model.get_weights(), lineage


def export_model(model: Any, config: TrainConfig, path: Path) -> None:
    """Save an inference-only copy (no optimizer state) for ``load_model(compile=False)``."""
    from ctseg_core.io.atomic import atomic_path

    clean = build_unet(replace(config.unet, input_size=config.spec.size, channels=config.spec.channels))
    clean.set_weights(model.get_weights())
    with atomic_path(path, suffix=".keras") as temporary:
        clean.save(str(temporary))


def evaluate_on_grid(model: Any, card: ModelCard, sources: list[Path]) -> dict[str, dict[str, float | None]]:
    """Metrics per patient on the original CT grid, through the same path as ``ctseg segment``."""
    from ctseg_core.io.loading import load_patient

    segmenter = Segmenter(model, card, Path("<in memory>"))
    results = {}
    for source in sources:
        patient = load_patient(source, masks=["liver"])
        prediction = segmenter.predict(patient.hu, patient.spacing_mm)
        results[source.name] = compare(prediction.mask, patient.masks["liver"], patient.spacing_mm).to_dict()
    return results


def software_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    from ctseg_core._version import __version__

    return {
        "ctseg": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def run_training(
    roots: list[Path],
    out_dir: Path,
    config: TrainConfig,
    folds: int | None = None,
    val_names: list[str] | None = None,
    phantoms: int = 0,
    final: bool = True,
    cache_dir: Path | None = None,
    log: Log = print,
    init_model: Path | None = None,
) -> Path | None:
    """Cross-validate by patient, then (``final``) train on everything; returns the model path.

    Every fold leaves ``fold_K/model.keras`` (best validation epoch) and ``fold_K/last.keras``
    (last epoch, picked without the validation patient) with their cards, for held-out checks.
    ``init_model`` fine-tunes every run from that model's weights (see ``load_initial_model``).
    """
    from ctseg_core.model.registry import check_writable_folder
    from ctseg_core.model.tf_runtime import import_tensorflow

    check_writable_folder(out_dir)  # a read-only --out is said now, not after hours of training
    import_tensorflow(config.threads)
    config, initial_weights, lineage = _starting_point(init_model, config, log)
    started = time.perf_counter()
    real, synthetic = _cached_patients(roots, phantoms, config.spec, cache_dir or default_cache_dir(), log)
    splits = _validation_splits([p.name for p in real], val_names, folds)
    run = _Run(config, out_dir, log, initial_weights, lineage)
    results = [_train_fold(run, k, len(splits), val_split, real, synthetic) for k, val_split in enumerate(splits)]
    card = ModelCard(input=config.spec, architecture=asdict(config.unet))
    card.validation = _cross_validation(results)
    if not final:
        (out_dir / "cv_results.json").write_text(json.dumps(card.validation, indent=2) + "\n")
        log(f"cross-validation mean Dice {card.validation['mean_dice']}")
        return None
    return _train_final(run, card, results, real, synthetic, started)


@dataclass(frozen=True)
class _Run:
    """What every model of one ``run_training`` call shares."""

    config: TrainConfig
    out_dir: Path
    log: Log
    initial_weights: list[np.ndarray] | None  # fine-tuning: the base model's weights
    lineage: dict[str, Any] | None  # fine-tuning: where the base model came from


def _starting_point(
    init_model: Path | None, config: TrainConfig, log: Log
) -> tuple[TrainConfig, list[np.ndarray] | None, dict[str, Any] | None]:
    """Random weights, or (``init_model``) that model's weights, input, architecture and lineage."""
    if init_model is None:
        return config, None, None
    config, initial_weights, lineage = load_initial_model(init_model, config)
    log(f"fine-tuning from {init_model} (learning rate {config.learning_rate:g}, {config.epochs} epochs)")
    return config, initial_weights, lineage


def _cached_patients(
    roots: list[Path], phantoms: int, spec: InputSpec, cache_dir: Path, log: Log
) -> tuple[list[CachedPatient], list[CachedPatient]]:
    """The real patients under ``roots`` and ``phantoms`` synthetic ones, as cached network-grid slices."""
    real_sources = discover_patients(roots) if roots else []
    phantom_sources = ensure_phantoms(phantoms, cache_dir) if phantoms else []
    log(f"{len(real_sources)} patients, {len(phantom_sources)} phantoms; caching preprocessed slices in {cache_dir}")
    real: list[CachedPatient] = []
    for source in real_sources:
        try:
            real.append(load_cached(source, spec, cache_dir))
        except (CtsegError, FileNotFoundError) as error:  # one patient never stops the run: it is left out
            log(f"warning: {source} left out of training: {error}")
    if real_sources and not real and not phantom_sources:
        raise FileNotFoundError(f"none of the {len(real_sources)} patients can be trained on (each is said above)")
    synthetic = [load_cached(s, spec, cache_dir) for s in phantom_sources]
    return real, synthetic


def _validation_splits(names: list[str], val_names: list[str] | None, folds: int | None) -> list[list[str]]:
    """The validation patients of each fold: the named ones, K folds, or none."""
    if val_names:
        unknown = sorted(set(val_names) - set(names))
        if unknown:
            raise ValueError(f"--val names not among the patients: {', '.join(unknown)} (have {', '.join(names)})")
        return [sorted(val_names)]
    if folds:
        return split_folds(names, folds)
    return []


def _train_fold(
    run: _Run, k: int, count: int, val_split: list[str], real: list[CachedPatient], synthetic: list[CachedPatient]
) -> FoldResult:
    """Train fold ``k`` (phantoms train only), score it on the CT grid, leave its models and cards."""
    fold_started = time.perf_counter()
    train = [p for p in real if p.name not in val_split] + synthetic
    val = [p for p in real if p.name in val_split]
    assert not {p.name for p in train} & {p.name for p in val}, "a patient is on both sides of the split"
    run.log(f"fold {k + 1}/{count}: train {', '.join(p.name for p in train)} | validate {', '.join(val_split)}")
    fold_dir = run.out_dir / f"fold_{k + 1}"
    trained = train_one(train, val, run.config, fold_dir, run.log, run.initial_weights)
    card = ModelCard(input=run.config.spec, architecture=asdict(run.config.unet))
    metrics = evaluate_on_grid(trained.model, card, [p.source for p in val])
    for name, values in metrics.items():
        run.log(
            f"fold {k + 1} {name}: Dice {values['dice']:.4f} ASSD {values['assd_mm']} mm HD95 {values['hd95_mm']} mm"
        )
    seconds = time.perf_counter() - fold_started
    result = FoldResult(k + 1, metrics, trained.best_epoch, trained.epochs_run, seconds, trained.last_epoch_val_dice)
    _write_fold_models(run, trained, fold_dir, train, val_split, result)
    return result


def _write_fold_models(
    run: _Run,
    trained: TrainedModel,
    fold_dir: Path,
    train: list[CachedPatient],
    val_split: list[str],
    result: FoldResult,
) -> None:
    """``model.keras`` (best validation epoch) and ``last.keras`` (last epoch), each with the fold's card."""
    fold_card = ModelCard(
        input=run.config.spec,
        architecture=asdict(run.config.unet),
        training={
            "patients": [p.name for p in train if not p.synthetic],
            "phantoms": [p.name for p in train if p.synthetic],
            "held_out": list(val_split),
            "lineage": run.lineage,
        },
        validation={"scheme": "one held-out fold", "folds": [asdict(result)]},
    )
    export_model(trained.model, run.config, fold_dir / "model.keras")
    write_card(fold_card, fold_dir / "model.keras")
    export_weights(fold_dir / "last.weights.h5", run.config, fold_dir / "last.keras")
    write_card(fold_card, fold_dir / "last.keras")


def _cross_validation(results: list[FoldResult]) -> dict[str, Any]:
    """The card's ``validation`` section: every fold and the mean Dice over the validated patients."""
    dices = [v["dice"] for r in results for v in r.validation.values() if v["dice"] is not None]
    return {
        "scheme": "cross-validation by patient (phantoms train only)" if results else "none",
        "folds": [asdict(r) for r in results],
        "mean_dice": float(np.mean(dices)) if dices else None,
    }


def _train_final(
    run: _Run,
    card: ModelCard,
    results: list[FoldResult],
    real: list[CachedPatient],
    synthetic: list[CachedPatient],
    started: float,
) -> Path:
    """The shipped model: every patient, as long as the folds trained; ``liver_unet.keras`` and its card."""
    final_config = _final_config(run.config, results)
    names = [p.name for p in real]
    run.log(f"final model: {final_config.epochs} epochs on {', '.join(names + [p.name for p in synthetic])}")
    shipped = train_one(real + synthetic, [], final_config, run.out_dir / "final", run.log, run.initial_weights)
    model_path = run.out_dir / "liver_unet.keras"
    export_model(shipped.model, final_config, model_path)
    card.training = {
        "patients": names,
        "phantoms": [p.name for p in synthetic],
        "epochs": shipped.epochs_run,
        "config": {k: v for k, v in asdict(final_config).items() if k not in ("spec", "unet")},
        "seed": run.config.seed,
        "command": " ".join(["ctseg", *sys.argv[1:]]) if sys.argv and "ctseg" in sys.argv[0] else None,
        "software": software_versions(),
        "seconds": round(time.perf_counter() - started, 1),
        "lineage": run.lineage,
    }
    write_card(card, model_path)
    export_graph(model_path)  # inference runs the exported graph; TensorFlow stays the trainer
    run.log(f"wrote {model_path} and its model card (cross-validation mean Dice {card.validation['mean_dice']})")
    return model_path


def _final_config(config: TrainConfig, results: list[FoldResult]) -> TrainConfig:
    """The final model's epochs from the folds: a cosine schedule is defined by its length, so the final
    model runs it whole (as the folds did unless stopped early); the plateau schedule trains to the
    folds' mean best epoch. Without folds, the configured epochs."""
    if not results:
        return config
    chosen = [r.epochs_run if config.schedule == "cosine" else r.best_epoch for r in results]
    return replace(config, epochs=max(int(np.ceil(np.mean(chosen))), 1))
