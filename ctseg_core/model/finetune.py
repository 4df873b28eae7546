"""Learning from the user's corrections: fine-tune a model on saved labels, measure it, register it.

A patient's training truth is its newest *saved label* (what the annotator wrote: a ctseg mask
folder ``<patient>/MASKS_DICOM/<name>``, or ``<patient>_<name>.nii.gz`` / ``.dcm`` beside the patient
folder), and otherwise its ``liver`` ground truth. The model's own output (``liver_pred``) never
counts: training on it would teach the model nothing.

Hold-out rule: with two or more patients, one in five (rounded down, at least one) is held out,
chosen by a fixed shuffle of the sorted names; the base model and the fine-tuned one are both
scored on them (3D Dice on the CT grid, the ``ctseg segment`` path) and the model registered is the
one scored, trained on the rest only. With a single patient nothing is held out and no Dice is
measured. The last epoch is kept (no epoch is picked on the held-out patients, which would flatter
the "after" Dice).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ctseg_core.errors import CtsegError, ModelError, TrainingDataError
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

if TYPE_CHECKING:  # the trainer loads lazily: fine-tuning is a rare action
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.model.preprocessing import InputSpec
    from ctseg_core.model.train import TrainConfig, TrainingHooks
    from ctseg_core.model.training_data import CachedPatient

#: Epochs of a fine-tuning run when the user does not say (minutes on a CPU for a few patients).
DEFAULT_EPOCHS = 8
#: A third of the from-scratch rate; ``ctseg train --init`` uses it too (:mod:`ctseg_core.cli.train`).
FINE_TUNE_LEARNING_RATE = 3e-4
#: One patient in this many is held out for the before/after Dice (at least one when there are two).
HOLD_OUT_EVERY = 5
#: Mask names that are the model's own output, never a user's correction.
MODEL_OUTPUT_NAMES = frozenset({"liver_pred"})
HOLD_OUT_RULE = (
    "one patient in five (at least one when there are two or more) is held out to measure Dice before and after; "
    "the model registered is trained on the others"
)


@dataclass(frozen=True)
class TrainingPatient:
    """A patient folder and the label to train on (None: its ``liver`` ground truth)."""

    source: Path
    label: Path | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def truth(self) -> str:
        """What the model learns from, said for the user."""
        return f"saved label {self.label.name}" if self.label else "ground truth liver"


def saved_labels(patient: str | Path) -> list[Path]:
    """The labels ctseg saved for a patient folder, newest first (see the module's rule)."""
    from ctseg_core.io.masks import is_ctseg_mask_folder
    from ctseg_core.io.segments import organ_key

    folder = Path(patient)
    masks = folder / "MASKS_DICOM"
    found: list[Path] = [
        sub
        for sub in (masks.iterdir() if masks.is_dir() else ())
        if sub.is_dir()
        and not sub.name.startswith(".")
        and sub.name not in MODEL_OUTPUT_NAMES
        and any(p.is_file() for p in sub.iterdir())
        and is_ctseg_mask_folder(sub)
        and organ_key(sub.name) in (None, "liver")  # a several-segment save's other folders: tumour_edited …
    ]
    prefix = f"{folder.name}_"
    if folder.parent.is_dir():
        for path in folder.parent.iterdir():
            lower = path.name.lower()
            if not (path.is_file() and path.name.startswith(prefix) and lower.endswith((".nii.gz", ".nii", ".dcm"))):
                continue
            label_name = path.name[len(prefix) :].split(".")[0]
            if label_name and label_name not in MODEL_OUTPUT_NAMES:
                found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def saved_label(patient: str | Path) -> Path | None:
    """The newest saved label of a patient, or None."""
    labels = saved_labels(patient)
    return labels[0] if labels else None


def _has_liver_ground_truth(patient: Path) -> bool:
    from ctseg_core.io.layout import resolve_layout

    try:
        return "liver" in resolve_layout(patient).masks
    except CtsegError:
        return False


def collect_training_patients(
    paths: Sequence[str | Path], require_saved_label: bool = False
) -> tuple[list[TrainingPatient], dict[str, str]]:
    """The patients in ``paths`` (patients or parents of patients) with their training truth.

    Returns the usable patients and, per path skipped, why (no saved label and no liver mask, or
    not a patient). ``require_saved_label`` keeps only patients with a saved label.
    """
    from ctseg_core.io.discovery import find_patients

    patients: list[TrainingPatient] = []
    skipped: dict[str, str] = {}
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_dir():
            skipped[str(path)] = "not a folder"
            continue
        found = find_patients(path)
        candidates = list(found.patients)
        skipped.update(found.skipped)
        if not candidates:
            skipped[str(path)] = "no patient folders in it"
        for candidate in candidates:
            key = candidate.resolve()
            if key in seen:
                continue
            seen.add(key)
            label = saved_label(candidate)
            if label is None and (require_saved_label or not _has_liver_ground_truth(candidate)):
                skipped[str(candidate)] = "no saved label" + ("" if require_saved_label else " and no liver mask")
                continue
            patients.append(TrainingPatient(candidate, label))
    return patients, skipped


def hold_out(patients: Sequence[TrainingPatient], seed: int = 0) -> tuple[list[TrainingPatient], list[TrainingPatient]]:
    """(train, held out) by the module's rule: ⌊n/5⌋ held out, at least one when n ≥ 2, none when n = 1."""
    ordered = sorted(patients, key=lambda p: (p.name, str(p.source)))
    count = 0 if len(ordered) < 2 else max(1, len(ordered) // HOLD_OUT_EVERY)
    order = np.random.default_rng(seed).permutation(len(ordered))
    held = {int(i) for i in order[:count]}
    return ([p for i, p in enumerate(ordered) if i not in held], [p for i, p in enumerate(ordered) if i in held])


@dataclass(frozen=True)
class FineTuneResult:
    """A registered fine-tuned model and what it was measured to do."""

    name: str
    model_path: Path
    base_model: Path
    trained_on: list[str]
    held_out: list[str]
    dice_before: dict[str, float | None] = field(default_factory=dict)  # base model, per held-out patient
    dice_after: dict[str, float | None] = field(default_factory=dict)  # the fine-tuned model, same patients
    epochs: int = 0
    seconds: float = 0.0
    #: training patients left out, with why (their label could not be read: on another grid, corrupt)
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def mean_before(self) -> float | None:
        return _mean(self.dice_before)

    @property
    def mean_after(self) -> float | None:
        return _mean(self.dice_after)


def _mean(scores: dict[str, float | None]) -> float | None:
    values = [v for v in scores.values() if v is not None]
    return float(np.mean(values)) if values else None


def held_out_dice(
    segmenter: Any,
    patients: Sequence[TrainingPatient],
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    stage: str = "measuring",
) -> dict[str, float | None]:
    """3D Dice of a segmenter on each patient against its training truth, on the CT grid (None where that
    truth is missing or cannot be read)."""
    from ctseg_core.io.loading import load_patient
    from ctseg_core.metrics import dice
    from ctseg_core.model.training_data import read_saved_label

    scores: dict[str, float | None] = {}
    for i, item in enumerate(patients):
        raise_if_cancelled(should_cancel)
        if progress:
            progress(i, len(patients), stage)
        try:
            patient = load_patient(item.source, masks=None if item.label else ["liver"], should_cancel=should_cancel)
            truth = read_saved_label(item.label, patient) if item.label else patient.masks.get("liver")
        except CtsegError:  # an unreadable label (on another grid, corrupt) is not measured: it never stops the run
            truth = None
        if truth is None:
            scores[item.name] = None
            continue
        prediction = segmenter.predict(patient.hu, patient.spacing_mm, should_cancel=should_cancel)
        value = dice(prediction.mask, truth)
        scores[item.name] = None if value is None or not np.isfinite(value) else float(value)
    if progress:
        progress(len(patients), len(patients), stage)
    return scores


def fine_tune(
    patients: Sequence[TrainingPatient | str | Path],
    base_model: str | Path | None,
    name: str,
    epochs: int = DEFAULT_EPOCHS,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    *,
    steps_per_epoch: int | None = None,
    batch_size: int = 8,
    learning_rate: float = FINE_TUNE_LEARNING_RATE,
    cache_dir: Path | None = None,
    models_folder: Path | None = None,
    overwrite: bool = False,
    threads: int | None = None,
    log: Any = None,
) -> FineTuneResult:
    """Fine-tune ``base_model`` (a registered name, a file, None: bundled) on the patients, register it as ``name``.

    Patients given as paths train on their newest saved label, else their ``liver`` ground truth.
    The name is checked before any work (ModelError / OutputExistsError). ``progress`` sees the
    stages "preparing", "measuring the base model", "training" (epochs done of ``epochs``) and
    "measuring the new model"; ``should_cancel`` is polled between batches and patients (Cancelled).
    """
    from ctseg_core.cache import default_cache_dir
    from ctseg_core.model.registry import check_new_name, resolve_model
    from ctseg_core.model.train import TrainConfig, TrainingHooks

    started = time.perf_counter()
    log = log or (lambda message: None)
    check_new_name(name, overwrite, models_folder)
    items = _as_training_patients(patients)
    base_path = resolve_model(base_model, models_folder)
    settings = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        steps_per_epoch=steps_per_epoch,
        patience=epochs + 1,
        threads=threads,
    )
    base, config, weights, lineage = _load_base(base_path, settings, progress)
    raise_if_cancelled(should_cancel)
    train_items, held_items = hold_out(items)
    cache = cache_dir or default_cache_dir()
    cached, train_items, left_out = _cache_patients(train_items, config.spec, cache, progress, should_cancel, log)
    before = held_out_dice(base, held_items, progress, should_cancel, "measuring the base model")
    log(f"fine-tuning {base_path.name} on {', '.join(p.name for p in train_items)} for {epochs} epochs")
    base_name = str(base_model) if base_model is not None else "bundled"
    run = _Run(config, weights, lineage, base_path, base_name, train_items, held_items, before, started, log, left_out)
    return _train_and_register(
        run, base, cached, name, TrainingHooks(progress, should_cancel), overwrite, models_folder
    )


def _as_training_patients(patients: Sequence[TrainingPatient | str | Path]) -> list[TrainingPatient]:
    """Patients given as paths train on their newest saved label, else their ground truth; none is an error."""
    items = [p if isinstance(p, TrainingPatient) else TrainingPatient(Path(p), saved_label(p)) for p in patients]
    if not items:
        raise TrainingDataError(None, "no patients to learn from: save a corrected label first")
    return items


@dataclass(frozen=True)
class _Run:
    """What one fine-tuning run has settled before it trains: passed on to training and the card."""

    config: TrainConfig
    weights: list[np.ndarray]  # the base model's, to start from
    lineage: dict[str, Any]  # the base model's lineage (load_initial_model)
    base_path: Path
    base_name: str  # as the user named it ("bundled" for the bundled model)
    train_items: list[TrainingPatient]
    held_items: list[TrainingPatient]
    before: dict[str, float | None]  # the base model's Dice on the held-out patients
    started: float
    log: Any
    left_out: dict[str, str]  # training patients whose label could not be read, with why


def _load_base(
    base_path: Path, settings: TrainConfig, progress: ProgressCallback | None
) -> tuple[Segmenter, TrainConfig, list[np.ndarray], dict[str, Any]]:
    """The base model as a segmenter, the settings adopting its input and architecture, its weights and lineage."""
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.model.tf_runtime import import_tensorflow
    from ctseg_core.model.train import load_initial_model

    if progress:
        progress(0, 0, "loading the base model")
    import_tensorflow(settings.threads)
    base = Segmenter.load(base_path, threads=settings.threads)
    if not base.card.architecture:
        raise ModelError(base_path, "its model card records no architecture, which fine-tuning needs to rebuild it")
    config, weights, lineage = load_initial_model(base_path, settings)
    return base, config, weights, lineage


def _cache_patients(
    items: Sequence[TrainingPatient],
    spec: InputSpec,
    cache_dir: Path,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
    log: Any,
) -> tuple[list[CachedPatient], list[TrainingPatient], dict[str, str]]:
    """The training patients' network-grid slices, each with its training truth (cached on disk), the
    patients kept, and those left out with why: one unreadable label (on another grid, corrupt) never
    stops the run, as in training (a TrainingDataError only when none is left)."""
    from ctseg_core.model.training_data import load_cached

    cached: list[CachedPatient] = []
    kept: list[TrainingPatient] = []
    left_out: dict[str, str] = {}
    for i, item in enumerate(items):
        raise_if_cancelled(should_cancel)
        if progress:
            progress(i, len(items), "preparing")
        try:
            cached.append(load_cached(item.source, spec, cache_dir, label=item.label))
        except (CtsegError, FileNotFoundError) as error:
            left_out[item.name] = str(error)
            log(f"warning: {item.source} left out of fine-tuning: {error}")
            continue
        kept.append(item)
    if not cached:
        reasons = "; ".join(f"{name}: {why}" for name, why in left_out.items())
        raise TrainingDataError(None, f"no training patient could be read ({reasons})")
    return cached, kept, left_out


def _train_and_register(
    run: _Run,
    base: Segmenter,
    cached: list[CachedPatient],
    name: str,
    hooks: TrainingHooks,
    overwrite: bool,
    models_folder: Path | None,
) -> FineTuneResult:
    """Train from the base weights, measure on the held-out patients, register the model with its card."""
    from ctseg_core.model.card import ModelCard, write_card
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.model.onnx_export import export_graph
    from ctseg_core.model.registry import register_model
    from ctseg_core.model.train import export_model, train_one

    config = run.config
    with tempfile.TemporaryDirectory(prefix="ctseg-finetune-") as work:
        work_dir = Path(work)
        trained = train_one(cached, [], config, work_dir / "run", run.log, run.weights, hooks=hooks)
        raise_if_cancelled(hooks.should_cancel)
        card = ModelCard(input=config.spec, threshold=base.card.threshold, architecture=asdict(config.unet))
        tuned = Segmenter(trained.model, card, work_dir / "model.keras")
        after = held_out_dice(tuned, run.held_items, hooks.progress, hooks.should_cancel, "measuring the new model")
        card.training = _training_record(run, after, trained.epochs_run)
        card.validation = {
            "scheme": "held-out share of the user's patients (fine-tuning); " + HOLD_OUT_RULE,
            "mean_dice": _mean(after),
            "per_patient": after,
        }
        model_file = work_dir / "model.keras"
        export_model(trained.model, config, model_file)
        write_card(card, model_file)
        export_graph(model_file)  # the user's model gets its exported graph too
        raise_if_cancelled(hooks.should_cancel)
        registered = register_model(model_file, name, overwrite=overwrite, folder=models_folder)
    run.log(f"registered {name} at {registered}")
    return FineTuneResult(
        name=name,
        model_path=registered,
        base_model=run.base_path,
        trained_on=[p.name for p in run.train_items],
        held_out=[p.name for p in run.held_items],
        dice_before=run.before,
        dice_after=after,
        epochs=trained.epochs_run,
        seconds=time.perf_counter() - run.started,
        left_out=run.left_out,
    )


def _training_record(run: _Run, after: dict[str, float | None], epochs_run: int) -> dict[str, Any]:
    """The card's ``training`` section: patients, labels, settings, and the lineage with before/after Dice."""
    from ctseg_core.model.train import software_versions

    base_patients = set(run.lineage.get("base_patients") or [])
    lineage = {
        **run.lineage,
        "base_name": run.base_name,
        "added_patients": [p.name for p in run.train_items if p.name not in base_patients],
        "held_out": [p.name for p in run.held_items],
        "hold_out_rule": HOLD_OUT_RULE,
        "validation_dice_before": {"mean": _mean(run.before), "per_patient": run.before},
        "validation_dice_after": {"mean": _mean(after), "per_patient": after},
    }
    return {
        "patients": [p.name for p in run.train_items],
        "labels": {p.name: str(p.label) if p.label else "liver (ground truth)" for p in run.train_items},
        "phantoms": [],
        "epochs": epochs_run,
        "config": {k: v for k, v in asdict(run.config).items() if k not in ("spec", "unet")},
        "software": software_versions(),
        "seconds": round(time.perf_counter() - run.started, 1),
        "lineage": lineage,
    }
