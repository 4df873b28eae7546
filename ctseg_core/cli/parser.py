"""Every headless command's arguments, one function per command; front ends extend the result."""

from __future__ import annotations

import argparse
from pathlib import Path

from ctseg_core.cli import cohort, export, index, info, models, pacs, phantom, segment, train
from ctseg_core.io.label_formats import format_help, format_names

Commands = argparse._SubParsersAction


def positive_int(text: str) -> int:
    """argparse type: a whole number ≥ 1 (a thread count below 1 aborts TensorFlow)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got {text!r}")
    return value


def build_parser() -> tuple[argparse.ArgumentParser, Commands]:
    """The parser with every headless command, and its sub-command table for front ends to extend."""
    from ctseg_core._version import __version__

    parser = argparse.ArgumentParser(prog="ctseg", description="Liver segmentation on abdominal CT.")
    parser.add_argument("--version", action="version", version=f"ctseg {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of any error (before the command)")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_info,
        _add_phantom,
        _add_segment,
        _add_export,
        _add_train,
        _add_models,
        _add_index,
        _add_cohort,
        _add_pacs,
    ):
        add(commands)
    return parser, commands


def _add_info(commands: Commands) -> None:
    parser = commands.add_parser("info", help="summarise a patient folder (CT series, geometry, masks)")
    parser.add_argument("path", help="patient folder, IRCAD folder (zipped or not), DICOM folder or NIfTI")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--series", metavar="UID", help="SeriesInstanceUID to load when there are several")
    parser.set_defaults(run=info.run)


def _add_phantom(commands: Commands) -> None:
    parser = commands.add_parser("phantom", help="write a synthetic phantom patient (IRCAD layout)")
    parser.add_argument("out", type=Path, help="output folder (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slices", type=positive_int, default=64)
    parser.add_argument("--size", type=positive_int, default=512, help="rows and columns (e.g. 256, 512, 768)")
    parser.set_defaults(run=phantom.run)


def _add_segment(commands: Commands) -> None:
    parser = commands.add_parser("segment", help="segment the liver with the bundled (or a given) model")
    parser.add_argument("paths", nargs="*", help="patient folders, or parent folders of patients")
    parser.add_argument("--out", type=Path, help="output folder (default: ctseg_out beside each patient)")
    parser.add_argument(
        "--format",
        choices=format_names(),
        default="ircad",
        help=format_help(),
    )
    parser.add_argument("--model", help="model file or registered name (see ctseg models; default: bundled)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per patient")
    parser.add_argument("--summary", help="CSV summary path (default: OUT/ctseg_summary.csv for batches)")
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="intra-op threads of the network's engine (default: all cores; with --workers, shared among them)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write report.html per patient: metrics, volumes, per-slice Dice, worst slices in 3 planes",
    )
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="run the network in N model processes (default: in this process; loading and writing overlap it)",
    )
    engine.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the batch on a Dask cluster (tcp://host:8786): a task per patient, the model loaded once per "
        "worker; the folders must be at the same paths on the workers",
    )
    parser.add_argument(
        "--cohort",
        action="store_true",
        help="segment the CT series of the cohort database (see ctseg index) instead of PATHS; results go into it",
    )
    parser.add_argument(
        "--only-new", action="store_true", help="with --cohort: only the series this model has no result for"
    )
    add_db_option(parser)
    parser.set_defaults(run=segment.run)


def _add_export(commands: Commands) -> None:
    parser = commands.add_parser("export", help="export a mask as a surface mesh or a slice movie")
    parser.add_argument("path", help="patient folder (as for info)")
    parser.add_argument("--mask", required=True, help="mask name (e.g. liver, liver_pred) or a label file/folder")
    parser.add_argument("--mesh", help="surface mesh file: .stl, .obj or .ply (patient millimetres)")
    parser.add_argument(
        "--space",
        choices=["LPS", "RAS"],
        default="LPS",
        help="mesh coordinates; LPS is what 3D Slicer assumes (the file header says SPACE=…)",
    )
    parser.add_argument("--gif", help="animated GIF (or .mp4 with imageio-ffmpeg) of every axial slice with the mask")
    parser.add_argument("--window", default="Abdomen", choices=["Abdomen", "Liver", "Bone", "Lung", "Model input"])
    parser.set_defaults(run=export.run)


def _add_train(commands: Commands) -> None:
    parser = commands.add_parser("train", help="train the liver U-Net (headless)")
    parser.add_argument("roots", nargs="*", help="data roots: patient folders or parents of patient folders")
    parser.add_argument("--out", required=True, help="output folder for models, logs and the model card")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a model trained before in --out (never the models folder)"
    )
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--folds", type=int, help="K-fold cross-validation by patient")
    split.add_argument("--val", nargs="+", metavar="PATIENT", help="validation patients (folder names)")
    parser.add_argument("--phantoms", type=int, default=0, help="synthetic phantom patients added to training")
    parser.add_argument("--no-final", action="store_true", help="skip the final model trained on every patient")
    _add_train_schedule(parser)
    _add_train_network(parser)
    _add_train_regularisation(parser)
    _add_train_runtime(parser)
    parser.set_defaults(run=train.run)


def _add_train_schedule(parser: argparse.ArgumentParser) -> None:
    """Epochs, batches, the learning rate, the starting model, early stopping."""
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--batch", type=positive_int, default=16)
    parser.add_argument("--lr", type=float, help="learning rate (default 1e-3; 3e-4 with --init)")
    parser.add_argument(
        "--init",
        nargs="?",
        const="bundled",
        metavar="MODEL",
        help="fine-tune from a model file or registered name (no value: the bundled one)",
    )
    parser.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    parser.add_argument(
        "--steps", type=positive_int, help="steps per epoch (default: one pass over the sampled slices)"
    )


def _add_train_network(parser: argparse.ArgumentParser) -> None:
    """The network's input (size, 2.5D context) and shape (depth, filters, block)."""
    parser.add_argument("--size", type=int, default=160, help="network input size (pixels)")
    parser.add_argument("--context", type=int, default=1, help="neighbouring slices per side (2.5D)")
    parser.add_argument(
        "--context-mm",
        type=float,
        default=1.6,
        help="distance of the 2.5D neighbours in mm, interpolated on any slice spacing (0: whole slices)",
    )
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--block", choices=["bn", "selu"], default="bn")


def _add_train_regularisation(parser: argparse.ArgumentParser) -> None:
    """Augmentation, distractors, the learning-rate schedule, the weight average, the seed."""
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument(
        "--distractors",
        type=float,
        default=0.3,
        help="probability of pasting an extrahepatic mass (labelled background) into a training slice",
    )
    parser.add_argument(
        "--schedule",
        choices=["cosine", "plateau"],
        default="cosine",
        help="learning rate: cosine decay over --epochs, or halve when validation Dice stalls",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="momentum of a moving average of the weights that is validated and shipped (0 = off, e.g. 0.99)",
    )
    parser.add_argument("--seed", type=int, default=0)


def _add_train_runtime(parser: argparse.ArgumentParser) -> None:
    """Threads, devices, the cache, and registering the result."""
    parser.add_argument("--threads", type=positive_int, help="TensorFlow intra-op threads")
    parser.add_argument("--distribute", action="store_true", help="MirroredStrategy over the available devices")
    # split the CPU into devices (tests of --distribute)
    parser.add_argument("--cpu-devices", type=positive_int, help=argparse.SUPPRESS)
    parser.add_argument("--cache", help="cache folder for preprocessed slices and phantoms")
    parser.add_argument("--register", metavar="NAME", help="register the final model under NAME (see ctseg models)")


def _add_models(commands: Commands) -> None:
    parser = commands.add_parser("models", help="list the bundled model and the user's registered models")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(run=models.run)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db``: the cohort database (front ends' ``view --cohort`` use the same option)."""
    parser.add_argument(
        "--db",
        type=Path,
        help="cohort database file (default: $CTSEG_DB, else cohort.sqlite in the user data folder)",
    )


def _add_index(commands: Commands) -> None:
    parser = commands.add_parser(
        "index", help="index folders of patients into the cohort database (headers only; again: only what changed)"
    )
    parser.add_argument("roots", nargs="+", help="folders (or NIfTI or zip files) to index: any tree of patients")
    add_db_option(parser)
    parser.add_argument("--json", action="store_true", help="print what was indexed and the counts as one JSON object")
    parser.set_defaults(run=index.run)


def _add_cohort(commands: Commands) -> None:
    from ctseg_core.cohort.query import SORT_KEYS

    parser = commands.add_parser("cohort", help="list the indexed series with their latest result and review")
    add_db_option(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON list, one object per series")
    output.add_argument("--csv", action="store_true", help="print CSV, one row per series")
    parser.add_argument("--flagged", action="store_true", help="only series the quality check flagged")
    parser.add_argument("--unreviewed", action="store_true", help="only series nobody has reviewed yet")
    parser.add_argument(
        "--all", action="store_true", help="also the series not offered to the model (MR, localizers, SEG, reports…)"
    )
    parser.add_argument("--filter", metavar="TEXT", default="", help="patient, date, description or path contains TEXT")
    parser.add_argument("--sort", choices=list(SORT_KEYS), default="patient", help="order by this column")
    parser.add_argument("--descending", action="store_true", help="largest first (missing values stay last)")
    parser.set_defaults(run=cohort.run)


def _add_pacs(commands: Commands) -> None:
    parser = commands.add_parser("pacs", help="the image archive: echo, find, get, send (DICOMweb or DIMSE), listen")
    actions = parser.add_subparsers(dest="pacs_command", required=True)
    _pacs_action(actions, "echo", "test the connection to SERVER", pacs.run_echo)
    find = _pacs_action(actions, "find", "search SERVER's studies (QIDO-RS or C-FIND)", pacs.run_find)
    find.add_argument("--patient-id", metavar="ID")
    find.add_argument("--patient-name", metavar="NAME", help="as DICOM matches it: Doe^John, DOE*")
    find.add_argument("--date", metavar="FROM-TO", help="study date YYYYMMDD, or a range FROM-TO, FROM- or -TO")
    find.add_argument("--modality", metavar="CT", help="modality in the study (and of the series listed)")
    find.add_argument("--accession", metavar="NUMBER", help="accession number")
    find.add_argument("--series", action="store_true", help="also list each study's series")
    find.add_argument("--json", action="store_true", help="print a JSON list")
    get = _pacs_action(actions, "get", "retrieve a study or series into the managed folder and index it", pacs.run_get)
    get.add_argument("--study", required=True, metavar="UID", help="StudyInstanceUID")
    get.add_argument("--series", metavar="UID", help="SeriesInstanceUID (default: every series of the study)")
    get.add_argument("--method", choices=["get", "move"], default="get", help="DIMSE retrieve: C-GET or C-MOVE")
    get.add_argument("--move-port", type=positive_int, metavar="N", help="C-MOVE: port of ctseg's storage SCP")
    get.add_argument("--bind", default="127.0.0.1", help="C-MOVE: address ctseg's storage SCP listens on")
    get.add_argument("--json", action="store_true", help="print one JSON object per series")
    add_db_option(get)
    send = _pacs_action(
        actions, "send", "send DICOM files (a saved DICOM SEG) to SERVER (STOW-RS or C-STORE)", pacs.run_send
    )
    send.add_argument("files", nargs="+", help="DICOM files")
    listen = actions.add_parser("listen", help="receive DICOM (C-STORE SCP) into the managed folder and index it")
    listen.add_argument("--port", type=int, default=11112, help="TCP port (default 11112)")
    listen.add_argument("--aet", default="CTSEG", help="this node's AE title (default CTSEG)")
    listen.add_argument(
        "--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    listen.add_argument(
        "--allow", action="append", metavar="AET", help="calling AE title allowed to send (repeat; required)"
    )
    listen.add_argument(
        "--quota-gb", type=float, default=50.0, help="refuse instances past this size of the managed folder"
    )
    add_db_option(listen)
    listen.set_defaults(run=pacs.run_listen)


def _pacs_action(actions: Commands, name: str, text: str, run: object) -> argparse.ArgumentParser:
    """A ``ctseg pacs`` action that talks to SERVER, with the connection options they share."""
    parser = actions.add_parser(name, help=text)
    parser.add_argument("server", help="DICOMweb URL (http://host:8042/dicom-web), AET@host:port, or a configured name")
    parser.add_argument("--calling-aet", metavar="AET", help="ctseg's AE title for DIMSE (default CTSEG)")
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for the server (default 30)")
    parser.add_argument("--user", metavar="NAME", help="HTTP Basic user; the password comes from $CTSEG_PACS_PASSWORD")
    parser.add_argument("--bearer", action="store_true", help="send the token in $CTSEG_PACS_TOKEN (Bearer)")
    parser.add_argument("--no-verify-tls", action="store_true", help="do not check the server's TLS certificate")
    parser.set_defaults(run=run)
    return parser
