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
from ctseg_core.metrics import compare, dice
from ctseg_core.model.augment import AugmentConfig, augment_sample
from ctseg_core.model.card import ModelCard, write_card
from ctseg_core.model.inference import Segmenter
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

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            parts = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float))
            log(f"epoch {epoch + 1}/{config.epochs} {time.perf_counter() - self.started:.0f}s {parts}")

    callbacks: list[Any] = []
    if config.ema:
        # First in the list: the callbacks after it see (validate and save) the averaged weights.
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if val:
        callbacks += [
            PatientDice(),
            keras.callbacks.ModelCheckpoint(
                str(model_dir / "best.weights.h5"),
                monitor="val_dice",
                mode="max",
                save_best_only=True,
                save_weights_only=True,
            ),
            keras.callbacks.EarlyStopping(monitor="val_dice", mode="max", patience=config.patience),
        ]
    if val and config.schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_dice", mode="max", factor=0.5, patience=max(2, config.patience // 3), min_lr=1e-5
            )
        )
    else:
        # Cosine decay over the planned epochs; also for a run without validation (the final model),
        # where a plateau rule would have nothing to watch.
        callbacks.append(
            keras.callbacks.LearningRateScheduler(
                lambda epoch, lr: float(
                    config.learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / max(1, config.epochs)))
                )
            )
        )
    callbacks += [keras.callbacks.CSVLogger(str(model_dir / "training_log.csv")), EpochLog()]
    return callbacks


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
    import tensorflow as tf

    model_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    sampler = SliceSampler(train, config, config.seed)
    spec = config.spec
    signature = (
        tf.TensorSpec((config.batch_size, spec.size, spec.size, spec.channels), tf.float32),
        tf.TensorSpec((config.batch_size, spec.size, spec.size, 1), tf.float32),
    )
    dataset = tf.data.Dataset.from_generator(sampler.batches, output_signature=signature).prefetch(2)
    strategy = _strategy(config.distribute)
    with strategy.scope():
        model = build_unet(replace(config.unet, input_size=spec.size, channels=spec.channels))
        optimizer = keras.optimizers.Adam(config.learning_rate, use_ema=config.ema > 0, ema_momentum=config.ema or 0.99)
        if initial_weights is not None:
            model.set_weights(initial_weights)
        model.compile(optimizer=optimizer, loss=_dice_bce_loss)
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
    from ctseg_core.model.tf_runtime import import_tensorflow

    import_tensorflow(config.threads)
    initial_weights: list[np.ndarray] | None = None
    lineage: dict[str, Any] | None = None
    if init_model is not None:
        config, initial_weights, lineage = load_initial_model(init_model, config)
        log(f"fine-tuning from {init_model} (learning rate {config.learning_rate:g}, {config.epochs} epochs)")
    cache_dir = cache_dir or default_cache_dir()
    started = time.perf_counter()
    real_sources = discover_patients(roots) if roots else []
    phantom_sources = ensure_phantoms(phantoms, cache_dir) if phantoms else []
    log(f"{len(real_sources)} patients, {len(phantom_sources)} phantoms; caching preprocessed slices in {cache_dir}")
    real = [load_cached(s, config.spec, cache_dir) for s in real_sources]
    synthetic = [load_cached(s, config.spec, cache_dir) for s in phantom_sources]
    names = [p.name for p in real]
    if val_names:
        unknown = sorted(set(val_names) - set(names))
        if unknown:
            raise ValueError(f"--val names not among the patients: {', '.join(unknown)} (have {', '.join(names)})")
        splits = [sorted(val_names)]
    elif folds:
        splits = split_folds(names, folds)
    else:
        splits = []
    out_dir.mkdir(parents=True, exist_ok=True)
    card = ModelCard(input=config.spec, architecture=asdict(config.unet))
    results: list[FoldResult] = []
    for k, val_split in enumerate(splits):
        fold_started = time.perf_counter()
        train = [p for p in real if p.name not in val_split] + synthetic
        val = [p for p in real if p.name in val_split]
        assert not {p.name for p in train} & {p.name for p in val}, "a patient is on both sides of the split"
        log(f"fold {k + 1}/{len(splits)}: train {', '.join(p.name for p in train)} | validate {', '.join(val_split)}")
        fold_dir = out_dir / f"fold_{k + 1}"
        trained = train_one(train, val, config, fold_dir, log, initial_weights)
        metrics = evaluate_on_grid(trained.model, card, [p.source for p in val])
        for name, values in metrics.items():
            log(
                f"fold {k + 1} {name}: Dice {values['dice']:.4f} ASSD {values['assd_mm']} mm "
                f"HD95 {values['hd95_mm']} mm"
            )
        result = FoldResult(
            k + 1,
            metrics,
            trained.best_epoch,
            trained.epochs_run,
            time.perf_counter() - fold_started,
            trained.last_epoch_val_dice,
        )
        results.append(result)
        fold_card = ModelCard(
            input=config.spec,
            architecture=asdict(config.unet),
            training={
                "patients": [p.name for p in train if not p.synthetic],
                "phantoms": [p.name for p in train if p.synthetic],
                "held_out": list(val_split),
                "lineage": lineage,
            },
            validation={"scheme": "one held-out fold", "folds": [asdict(result)]},
        )
        export_model(trained.model, config, fold_dir / "model.keras")
        write_card(fold_card, fold_dir / "model.keras")
        export_weights(fold_dir / "last.weights.h5", config, fold_dir / "last.keras")
        write_card(fold_card, fold_dir / "last.keras")
    dices = [v["dice"] for r in results for v in r.validation.values() if v["dice"] is not None]
    card.validation = {
        "scheme": "cross-validation by patient (phantoms train only)" if results else "none",
        "folds": [asdict(r) for r in results],
        "mean_dice": float(np.mean(dices)) if dices else None,
    }
    if not final:
        (out_dir / "cv_results.json").write_text(json.dumps(card.validation, indent=2) + "\n")
        log(f"cross-validation mean Dice {card.validation['mean_dice']}")
        return None
    final_config = config
    if results:
        # A cosine schedule is defined by its length: the final model runs it whole (as the folds
        # did unless stopped early); the plateau schedule trains to the folds' mean best epoch.
        chosen = [r.epochs_run if config.schedule == "cosine" else r.best_epoch for r in results]
        epochs = int(np.ceil(np.mean(chosen)))
        final_config = replace(config, epochs=max(epochs, 1))
    log(f"final model: {final_config.epochs} epochs on {', '.join(names + [p.name for p in synthetic])}")
    shipped = train_one(real + synthetic, [], final_config, out_dir / "final", log, initial_weights)
    model_path = out_dir / "liver_unet.keras"
    export_model(shipped.model, final_config, model_path)
    card.training = {
        "patients": names,
        "phantoms": [p.name for p in synthetic],
        "epochs": shipped.epochs_run,
        "config": {k: v for k, v in asdict(final_config).items() if k not in ("spec", "unet")},
        "seed": config.seed,
        "command": " ".join(["ctseg", *sys.argv[1:]]) if sys.argv and "ctseg" in sys.argv[0] else None,
        "software": software_versions(),
        "seconds": round(time.perf_counter() - started, 1),
        "lineage": lineage,
    }
    write_card(card, model_path)
    log(f"wrote {model_path} and its model card (cross-validation mean Dice {card.validation['mean_dice']})")
    return model_path
