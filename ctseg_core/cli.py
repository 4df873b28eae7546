"""The headless ``ctseg`` commands (info, phantom, segment, train); no Qt is ever imported here.

``ctseg_gui.cli`` adds ``view`` and ``demo`` to this parser and is the console script, so the core
never imports the GUI, while ``ctseg info`` and ``ctseg segment`` still run without a display.

One error contract (:func:`main`): a problem the user can fix is a CtsegError, printed as
``ctseg: error: <path>: <problem>`` (exit 2); a cancel or Ctrl+C exits 130; anything else is a
bug: one line ``ctseg: internal error: …`` names the log file holding the traceback (exit 3),
and ``ctseg --debug …`` prints the traceback too. No traceback ever reaches a user otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from ctseg_core.errors import (
    Cancelled,
    CtsegError,
    InvalidArgumentError,
    OutputError,
    OutputExistsError,
    TrainingDataError,
)
from ctseg_core.progress import ProgressCallback

#: Exit codes of :func:`main`.
EXIT_OK, EXIT_FAILED_PATIENTS, EXIT_ERROR, EXIT_INTERNAL, EXIT_CANCELLED = 0, 1, 2, 3, 130
#: OS errors that come from the user's environment (full disk, read-only folder), not from a bug.
_ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENAMETOOLONG,
        errno.EIO,
    }
)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A tqdm bar on stderr (only when stderr is a terminal), as a core progress callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=1, file=sys.stderr, leave=False, unit="file")

    def update(done: int, total: int, stage: str) -> None:
        if bar.total != total or bar.desc != stage:
            bar.reset(total=total)
            bar.set_description(stage)
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _cmd_info(args: argparse.Namespace) -> int:
    from ctseg_core.io.loading import load_patient
    from ctseg_core.io.summary import patient_summary

    with progress_bar(not args.json) as progress:
        patient = load_patient(args.path, series_uid=args.series, progress=progress)
    summary = patient_summary(patient)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    dz, dy, dx = summary["spacing_mm"]
    print(f"{summary['path']}")
    print(f"  patient      {summary['patient']}  ({summary['series_description']})")
    print(f"  shape        {' × '.join(map(str, summary['shape']))} (z, y, x)")
    print(f"  spacing      {dz:g} × {dy:g} × {dx:g} mm   slice order by {summary['slice_order']}")
    stored = "reoriented to the canonical LPS grid" if summary["reoriented"] else "already canonical"
    print(f"  stored as    {summary['stored_orientation']} (x, y, z), {stored}")
    print(f"  HU range     {summary['hu_min']} … {summary['hu_max']}")
    for name, mask in summary["masks"].items():
        print(f"  mask {name:<14} {mask['voxels']:>10} voxels {mask['volume_ml']:>10.1f} mL")
    for warning in summary["warnings"]:
        print(f"  warning: {warning}")
    print(f"  loaded in {summary['load_seconds']:.2f} s")
    return 0


def _cmd_phantom(args: argparse.Namespace) -> int:
    from ctseg_core.io.atomic import check_output_folder
    from ctseg_core.synth.phantom import write_phantom

    check_output_folder(args.out)
    if (args.out / "PATIENT_DICOM").exists():
        raise OutputExistsError(args.out, "already holds a PATIENT_DICOM folder; choose an empty folder")
    with progress_bar(True) as progress:
        out = write_phantom(args.out, seed=args.seed, slices=args.slices, size=args.size, progress=progress)
    print(out)
    return 0


def _cmd_segment(args: argparse.Namespace) -> int:
    from ctseg_core.batch import check_outputs, segment_patients
    from ctseg_core.metrics import format_metric
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.model.tf_runtime import import_seconds

    started = time.perf_counter()
    from ctseg_core.model.registry import resolve_model

    check_outputs(args.out, args.summary)  # before the model loads: seconds, for nothing
    segmenter = Segmenter.load(resolve_model(args.model), threads=args.threads)
    if not args.json:
        print(
            f"model {segmenter.path.name}: TensorFlow import {import_seconds():.1f} s, "
            f"model load {segmenter.load_seconds:.1f} s",
            file=sys.stderr,
        )

    def report(row: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(row), flush=True)
        elif "error" in row:
            print(f"{row['patient']}: error: {row['error']}", file=sys.stderr)
        else:
            print(
                f"{row['patient']}: Dice {format_metric(row['dice'])}  Jaccard {format_metric(row['jaccard'])}  "
                f"ASSD {format_metric(row['assd_mm'], 2)} mm  HD95 {format_metric(row['hd95_mm'], 2)} mm  "
                f"pred {row['volume_ml_pred']:.1f} mL  GT {format_metric(row['volume_ml_gt'], 1)} mL  "
                f"{row['seconds']:.1f} s → {row['output']}"
            )
            if row.get("estimated_dice") is not None:
                flag = f"  CHECK THIS SCAN: {row['quality_reasons']}" if row.get("check_scan") else ""
                note = "" if row.get("quality_calibrated") else " (uncalibrated)"
                print(f"{row['patient']}: estimated Dice {row['estimated_dice']:.3f}{note}{flag}")

    with progress_bar(not args.json) as progress:
        rows = segment_patients(
            args.paths,
            args.out,
            args.format,
            segmenter=segmenter,
            summary=args.summary,
            on_row=report,
            progress=progress,
            report=args.report,
        )
    if len(rows) > 1 and not args.json:
        where = args.summary or (args.out or Path(".")) / "ctseg_summary.csv"
        print(f"summary of {len(rows)} patients: {where} ({time.perf_counter() - started:.1f} s)")
    return EXIT_FAILED_PATIENTS if any("error" in row for row in rows) else EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from ctseg_core.display.windowing import PRESETS
    from ctseg_core.export.mesh_files import write_mesh
    from ctseg_core.export.movie import write_slice_movie
    from ctseg_core.io.loading import load_patient
    from ctseg_core.surface.meshing import surface_mesh

    if not (args.mesh or args.gif):
        raise InvalidArgumentError(None, "nothing to export: give --mesh FILE and/or --gif FILE")
    with progress_bar(True) as progress:
        patient = load_patient(args.path, masks=None, progress=progress)
        mask = _export_mask(patient, args.mask, progress)
        if not mask.any():
            raise InvalidArgumentError(args.mask, "the mask is empty: nothing to export")
        if args.mesh:
            mesh = surface_mesh(mask, patient.geometry.affine_lps(), progress=progress)
            write_mesh(mesh, args.mesh, space=args.space)
            print(
                f"{args.mesh}: {mesh.triangle_count} triangles, {mesh.volume_ml():.1f} mL enclosed "
                f"({args.space} mm, watertight: {mesh.is_watertight()})"
            )
        if args.gif:
            write_slice_movie(
                patient.hu,
                {args.mask: mask},
                args.gif,
                spacing_mm=patient.spacing_mm,
                window=PRESETS[args.window],
                progress=progress,
            )
            print(f"{args.gif}: {patient.shape[0]} frames, window {args.window}")
    return 0


def _export_mask(patient: Any, name: str, progress: ProgressCallback | None) -> Any:
    """A mask of the patient by name (ground truth or saved label), or a label file/folder path."""
    from ctseg_core.annotate.labels import load_label
    from ctseg_core.io.masks import load_mask

    if name in patient.available_masks:
        return load_mask(patient, name, progress=progress)
    if Path(name).exists():
        return load_label(name, patient, progress or (lambda done, total, stage: None), lambda: False).mask
    available = ", ".join(patient.available_masks) or "none"
    raise InvalidArgumentError(name, f"no such mask or label file; masks of this patient: {available}")


#: Fine-tuning starts from weights that already segment livers: a third of the learning rate keeps
#: a short schedule from undoing them.
FINE_TUNE_LEARNING_RATE = 3e-4


def _cmd_train(args: argparse.Namespace) -> int:
    from ctseg_core.io.atomic import check_output_folder
    from ctseg_core.model.preprocessing import InputSpec
    from ctseg_core.model.train import TrainConfig, run_training
    from ctseg_core.model.unet import UNetConfig

    check_output_folder(args.out)
    if args.register:  # a taken or invalid name is refused before hours of training
        from ctseg_core.model.registry import check_new_name

        check_new_name(args.register)

    if args.cpu_devices:
        from ctseg_core.model.tf_runtime import import_tensorflow

        tf = import_tensorflow(args.threads)
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_devices)
    spec = InputSpec(size=args.size, context=args.context, context_mm=args.context_mm or None)
    init_model = None
    if args.init is not None:
        from ctseg_core.model.registry import resolve_model

        init_model = resolve_model(args.init)  # "bundled", a registered name, or a file
    learning_rate = args.lr if args.lr is not None else (FINE_TUNE_LEARNING_RATE if init_model else 1e-3)
    config = TrainConfig(
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
        if not _raised_by(error, _TRAINING_SETUP_MODULES):
            raise  # from deeper down (numpy, Keras): a bug, for the one handler in main
        raise TrainingDataError(None, str(error)) from error
    if args.register:
        _register_trained(model_path, args.register)
    return 0


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


def _cmd_models(args: argparse.Namespace) -> int:
    """``ctseg models``: the bundled model and the user's, with what each was trained on and how well."""
    from ctseg_core.metrics import format_metric
    from ctseg_core.model.registry import list_models, models_dir

    rows = []
    for model in list_models():
        lineage = model.lineage
        before = (lineage.get("validation_dice_before") or {}).get("mean")
        after = (lineage.get("validation_dice_after") or {}).get("mean")
        base = lineage.get("base_name") or (Path(lineage["base_model"]).stem if lineage.get("base_model") else None)
        rows.append(
            {
                "name": model.name,
                "path": str(model.path),
                "bundled": model.bundled,
                "base": base,
                "patients": model.patients,
                "added_patients": lineage.get("added_patients", []),
                "dice_before": before,
                "dice_after": after,
                "validation_mean_dice": model.card.validation.get("mean_dice") if model.card else None,
                "problem": model.problem,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'NAME':<24} {'BASE':<16} {'PATIENTS':>8} {'ADDED':>5} {'DICE BEFORE':>11} {'DICE AFTER':>10}")
    for row in rows:
        print(
            f"{row['name']:<24} {row['base'] or '—':<16} {len(row['patients']):>8} {len(row['added_patients']):>5} "
            f"{format_metric(row['dice_before']):>11} {format_metric(row['dice_after']):>10}"
            + (f"  (unreadable: {row['problem']})" if row["problem"] else "")
        )
    print(f"user models folder: {models_dir()} (set CTSEG_MODELS_DIR to move it)")
    return 0


#: Where the trainer raises ValueError / FileNotFoundError for the user's own mistakes
#: (no patients found, unknown --val name, too many --folds, no liver mask to train on).
_TRAINING_SETUP_MODULES = ("ctseg_core.model.train", "ctseg_core.model.training_data")


def _raised_by(error: BaseException, modules: Sequence[str]) -> bool:
    """Whether ``error`` was raised by a ``raise`` statement in one of ``modules`` (its innermost frame)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    origin = os.path.normcase(os.path.abspath(frames[-1].filename))
    for module in modules:
        loaded = sys.modules.get(module)
        filename = getattr(loaded, "__file__", None)
        if filename and os.path.normcase(os.path.abspath(filename)) == origin:
            return True
    return False


def positive_int(text: str) -> int:
    """argparse type: a whole number ≥ 1 (a thread count below 1 aborts TensorFlow)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got {text!r}")
    return value


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The parser with every headless command, and its sub-command table for front ends to extend."""
    from ctseg_core._version import __version__

    parser = argparse.ArgumentParser(prog="ctseg", description="Liver segmentation on abdominal CT.")
    parser.add_argument("--version", action="version", version=f"ctseg {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of any error (before the command)")
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="summarise a patient folder (CT series, geometry, masks)")
    info.add_argument("path", help="patient folder, IRCAD folder (zipped or not), DICOM folder or NIfTI")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--series", metavar="UID", help="SeriesInstanceUID to load when there are several")
    info.set_defaults(run=_cmd_info)

    phantom = commands.add_parser("phantom", help="write a synthetic phantom patient (IRCAD layout)")
    phantom.add_argument("out", type=Path, help="output folder (created)")
    phantom.add_argument("--seed", type=int, default=0)
    phantom.add_argument("--slices", type=positive_int, default=64)
    phantom.add_argument("--size", type=positive_int, default=512, help="rows and columns (e.g. 256, 512, 768)")
    phantom.set_defaults(run=_cmd_phantom)

    segment = commands.add_parser("segment", help="segment the liver with the bundled (or a given) model")
    segment.add_argument("paths", nargs="+", help="patient folders, or parent folders of patients")
    segment.add_argument("--out", type=Path, help="output folder (default: ctseg_out beside each patient)")
    segment.add_argument(
        "--format",
        choices=["ircad", "nifti", "seg"],
        default="ircad",
        help="IRCAD MASKS_DICOM slices, NIfTI .nii.gz, or DICOM SEG",
    )
    segment.add_argument("--model", help="model file or registered name (see ctseg models; default: bundled)")
    segment.add_argument("--json", action="store_true", help="print one JSON object per patient")
    segment.add_argument("--summary", help="CSV summary path (default: OUT/ctseg_summary.csv for batches)")
    segment.add_argument("--threads", type=positive_int, help="TensorFlow intra-op threads (default: all cores)")
    segment.add_argument(
        "--report",
        action="store_true",
        help="also write report.html per patient: metrics, volumes, per-slice Dice, worst slices in 3 planes",
    )
    segment.set_defaults(run=_cmd_segment)

    export = commands.add_parser("export", help="export a mask as a surface mesh or a slice movie")
    export.add_argument("path", help="patient folder (as for info)")
    export.add_argument("--mask", required=True, help="mask name (e.g. liver, liver_pred) or a label file/folder")
    export.add_argument("--mesh", help="surface mesh file: .stl, .obj or .ply (patient millimetres)")
    export.add_argument(
        "--space",
        choices=["LPS", "RAS"],
        default="LPS",
        help="mesh coordinates; LPS is what 3D Slicer assumes (the file header says SPACE=…)",
    )
    export.add_argument("--gif", help="animated GIF (or .mp4 with imageio-ffmpeg) of every axial slice with the mask")
    export.add_argument("--window", default="Abdomen", choices=["Abdomen", "Liver", "Bone", "Lung", "Model input"])
    export.set_defaults(run=_cmd_export)

    train = commands.add_parser("train", help="train the liver U-Net (headless)")
    train.add_argument("roots", nargs="*", help="data roots: patient folders or parents of patient folders")
    train.add_argument("--out", required=True, help="output folder for models, logs and the model card")
    split = train.add_mutually_exclusive_group()
    split.add_argument("--folds", type=int, help="K-fold cross-validation by patient")
    split.add_argument("--val", nargs="+", metavar="PATIENT", help="validation patients (folder names)")
    train.add_argument("--phantoms", type=int, default=0, help="synthetic phantom patients added to training")
    train.add_argument("--no-final", action="store_true", help="skip the final model trained on every patient")
    train.add_argument("--epochs", type=positive_int, default=40)
    train.add_argument("--batch", type=positive_int, default=16)
    train.add_argument("--lr", type=float, help="learning rate (default 1e-3; 3e-4 with --init)")
    train.add_argument(
        "--init",
        nargs="?",
        const="bundled",
        metavar="MODEL",
        help="fine-tune from a model file or registered name (no value: the bundled one)",
    )
    train.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    train.add_argument("--steps", type=positive_int, help="steps per epoch (default: one pass over the sampled slices)")
    train.add_argument("--size", type=int, default=160, help="network input size (pixels)")
    train.add_argument("--context", type=int, default=1, help="neighbouring slices per side (2.5D)")
    train.add_argument(
        "--context-mm",
        type=float,
        default=1.6,
        help="distance of the 2.5D neighbours in mm, interpolated on any slice spacing (0: whole slices)",
    )
    train.add_argument("--depth", type=int, default=4)
    train.add_argument("--filters", type=int, default=16)
    train.add_argument("--block", choices=["bn", "selu"], default="bn")
    train.add_argument("--no-augment", action="store_true")
    train.add_argument(
        "--distractors",
        type=float,
        default=0.3,
        help="probability of pasting an extrahepatic mass (labelled background) into a training slice",
    )
    train.add_argument(
        "--schedule",
        choices=["cosine", "plateau"],
        default="cosine",
        help="learning rate: cosine decay over --epochs, or halve when validation Dice stalls",
    )
    train.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="momentum of a moving average of the weights that is validated and shipped (0 = off, e.g. 0.99)",
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=positive_int, help="TensorFlow intra-op threads")
    train.add_argument("--distribute", action="store_true", help="MirroredStrategy over the available devices")
    # split the CPU into devices (tests of --distribute)
    train.add_argument("--cpu-devices", type=positive_int, help=argparse.SUPPRESS)
    train.add_argument("--cache", help="cache folder for preprocessed slices and phantoms")
    train.add_argument("--register", metavar="NAME", help="register the final model under NAME (see ctseg models)")
    train.set_defaults(run=_cmd_train)

    models = commands.add_parser("models", help="list the bundled model and the user's registered models")
    models.add_argument("--json", action="store_true", help="print a JSON list")
    models.set_defaults(run=_cmd_models)

    return parser, commands


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run one command; ``parser`` is a front end's extended parser (default: the headless one).

    Exit codes: 0 done, 1 some patients of a batch failed, 2 a ctseg error (message on stderr),
    3 an internal error (traceback in a log file), 130 cancelled.
    """
    with _printable_streams():
        args = (parser or build_parser()[0]).parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        try:
            return int(args.run(args))
        except (Cancelled, KeyboardInterrupt):
            print("ctseg: cancelled", file=sys.stderr)
            return EXIT_CANCELLED
        except BrokenPipeError:  # ``ctseg info --json | head``: the reader left, nothing to report
            _silence_stdout()
            return EXIT_ERROR
        except Exception as error:
            return _report(error, debug)


def _report(error: Exception, debug: bool) -> int:
    """Print one line for ``error`` (and, with --debug, its traceback); the exit code."""
    user_error = as_user_error(error)
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    if user_error is not None:
        print(f"ctseg: error: {user_error}", file=sys.stderr)
        return EXIT_ERROR
    from ctseg_core.batch import write_error_log

    log_path = None if debug else write_error_log(error, "running the command")
    where = (
        "traceback above"
        if debug
        else (
            f"traceback written to {log_path}" if log_path else "the traceback could not be written: rerun with --debug"
        )
    )
    message = " ".join(str(error).split()) or "(no message)"
    print(f"ctseg: internal error: {type(error).__name__}: {message} ({where})", file=sys.stderr)
    return EXIT_INTERNAL


def as_user_error(error: BaseException) -> CtsegError | None:
    """The CtsegError a user should read for ``error``, or None when it is a bug.

    An OSError naming a file, with a cause from the environment (disk full, read-only, a file in
    the way, an I/O error), is the user's to fix, whoever raised it.
    """
    if isinstance(error, CtsegError):
        return error
    if isinstance(error, OSError) and error.filename and error.errno in _ENVIRONMENT_ERRNOS:
        return OutputError(error.filename, error.strerror or str(error), error.errno)
    return None


@contextmanager
def _printable_streams() -> Iterator[None]:
    """stdout and stderr that print any path: bytes that are not valid in the stream's encoding
    (a file name with byte 0xff) come out backslash-escaped instead of raising UnicodeEncodeError."""
    saved: list[tuple[TextIO, str | None]] = []
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            saved.append((stream, stream.errors))
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError, AttributeError):
            saved.pop()
    try:
        yield
    finally:
        for stream, errors in saved:
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors=errors)  # type: ignore[attr-defined]  # sys.stdout is typed TextIO; the real one is a TextIOWrapper


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
