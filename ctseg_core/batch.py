"""Segmenting many patients from Python: load → predict → write → score → CSV, one call.

``ctseg segment`` is a thin shim over :func:`segment_patients` (as TotalSegmentator's command is over
its Python API), and the label writer is the GUI's (:func:`ctseg_core.annotate.labels.save_label`),
so a mask saved from the command line and from the viewer are the same files.

A batch always finishes: a patient that fails gets an error row naming the problem (a ctseg
error's message, or for a bug its type and message, with the traceback in a log file), later
patients still run, and the summary CSV is written. Only an output folder that is a file, which
no patient could be written into, stops the batch before it starts.
"""

from __future__ import annotations

import csv
import logging
import os
import secrets
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ctseg_core.annotate.labels import LabelFormat, SaveTarget, save_label
from ctseg_core.cache import default_cache_dir
from ctseg_core.errors import Cancelled, CtsegError, IsAFolderError, OutputError
from ctseg_core.io.atomic import atomic_path, check_output_folder
from ctseg_core.io.discovery import find_patients
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import compare, dice, volume_ml
from ctseg_core.progress import ProgressCallback
from ctseg_core.shown_text import csv_row

if TYPE_CHECKING:
    from ctseg_core.model.inference import Segmenter

log = logging.getLogger(__name__)

#: One patient's outcome: metrics, output path and timings, or ``error``; JSON- and CSV-ready.
Row = dict[str, Any]
#: Output file (or IRCAD mask name) per format, inside each patient's output folder.
OUTPUT_NAMES = {fmt.cli_name: fmt.file_name("liver_pred") for fmt in LabelFormat}
METRIC_COLUMNS = ("dice", "jaccard", "voe", "rvd", "assd_mm", "hd95_mm", "volume_ml_gt")


@dataclass(frozen=True)
class BatchItem:
    """One patient of a batch and the folder its outputs go to; ``series_uid``: the series to load
    when the patient holds several (a cohort's rows), None for the loader's choice."""

    source: Path
    name: str
    out_dir: Path
    series_uid: str | None = None


def expand_patients(paths: Iterable[str | Path]) -> list[Path]:
    """The patients of each path (:mod:`ctseg_core.io.discovery`'s rule); a path holding none stays
    itself, so its row says why (missing, empty, no DICOM)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        found.extend(find_patients(path).patients or [path])
    return found


def plan_outputs(sources: Sequence[Path], out: Path | None) -> list[BatchItem]:
    """Where each patient's outputs go; patients sharing a folder name never share an output.

    Default: ``ctseg_out/<name>`` beside each patient. Two patients named alike (``a/patient``,
    ``b/patient``) get ``a_patient`` and ``b_patient`` (and a number if that still clashes).
    """
    counts = Counter(p.name for p in sources)
    used: set[Path] = set()
    items = []
    for source in sources:
        name = source.name if counts[source.name] == 1 else f"{source.parent.name}_{source.name}"
        folder = out if out is not None else source.parent / "ctseg_out"
        candidate, number = folder / name, 2
        while candidate.resolve() in used:
            candidate, number = folder / f"{name}_{number}", number + 1
        used.add(candidate.resolve())
        items.append(BatchItem(source, candidate.name, candidate))
    return items


def segment_patient(
    item: BatchItem,
    segmenter: Segmenter,
    fmt: str = "ircad",
    progress: ProgressCallback | None = None,
    report: bool = False,
) -> Row:
    """Segment one patient, write its mask, and score it against its liver ground truth if it has one.

    ``report``: also write ``report.html`` (metrics, volumes, per-slice Dice, snapshots of the worst
    slices in three planes) beside the mask.
    """
    started = time.perf_counter()
    patient = load_patient(item.source, series_uid=item.series_uid, masks=["liver"], progress=progress)
    result = segmenter.predict(patient.hu, patient.spacing_mm, progress=progress)
    label_format = LabelFormat.from_name(fmt)
    output = OUTPUT_NAMES[fmt]
    if label_format is LabelFormat.IRCAD:
        target = SaveTarget(label_format, item.out_dir, output)
    else:
        target = SaveTarget(label_format, item.out_dir / output, "liver")
    save_label(result.mask, patient, target, algorithm_type="AUTOMATIC")
    row: Row = {"patient": item.name, "source": str(item.source), **_series_of(item)}
    row["output"] = str(target.written_path)
    truth = patient.masks.get("liver")
    if truth is not None:
        row.update(compare(result.mask, truth, patient.spacing_mm).to_dict())
        row["volume_ml_gt"] = row.pop("volume_ml_ref")
    else:
        row.update(dict.fromkeys(METRIC_COLUMNS))
        row["volume_ml_pred"] = volume_ml(result.mask, patient.spacing_mm)
    if result.quality is not None:
        row["estimated_dice"] = round(result.quality.estimated_dice, 4)
        row["check_scan"] = result.quality.check_scan
        row["quality_calibrated"] = result.quality.calibrated
        row["quality_reasons"] = "; ".join(result.quality.reasons)
    row["warnings"] = "; ".join(patient.warnings)
    if report:
        row["report"] = str(write_patient_report(item.out_dir / "report.html", patient, result.mask, truth, row))
    row["seconds"] = round(time.perf_counter() - started, 3)
    row.update({f"seconds_{k}": round(v, 3) for k, v in result.timings.items()})
    return row


def write_patient_report(
    path: Path, patient: Patient, prediction: np.ndarray, truth: np.ndarray | None, row: Row
) -> Path:
    """The per-patient HTML report of a batch row (``ctseg_core.export.report``)."""
    from ctseg_core.export.report import write_report

    spacing = patient.spacing_mm
    if truth is not None:
        per_slice = [
            dice(prediction[k], truth[k]) if prediction[k].any() or truth[k].any() else None
            for k in range(patient.shape[0])
        ]
        masks = {"ground truth": truth, "prediction": prediction}
    else:
        per_slice = [None] * patient.shape[0]
        masks = {"prediction": prediction}
    metrics: dict[str, object] = {key: row.get(key) for key in ("dice", "jaccard", "voe", "rvd", "assd_mm", "hd95_mm")}
    if row.get("estimated_dice") is not None:
        metrics["estimated Dice (the model's own estimate)"] = row["estimated_dice"]
        metrics["check this scan"] = row["quality_reasons"] if row.get("check_scan") else "no"
    volumes = {"prediction": row.get("volume_ml_pred"), "ground truth": row.get("volume_ml_gt")}
    return write_report(
        path,
        title=f"ctseg — {patient.title()}",
        metrics=metrics,
        volumes=volumes,
        per_slice_dice=per_slice,
        hu=patient.hu,
        masks=masks,
        spacing_mm=spacing,
    )


def segment_patients(
    paths: Iterable[str | Path],
    out: str | Path | None = None,
    fmt: str = "ircad",
    model: str | Path | None = None,
    *,
    threads: int | None = None,
    summary: str | Path | None = None,
    segmenter: Segmenter | None = None,
    on_row: Callable[[Row], None] | None = None,
    progress: ProgressCallback | None = None,
    report: bool = False,
    items: Sequence[BatchItem] | None = None,
) -> list[Row]:
    """Segment every patient under ``paths`` and return one row per patient (metrics or ``error``).

    ``fmt``: "ircad" (``MASKS_DICOM/liver_pred``), "nifti" or "seg". ``summary``: CSV path; by
    default ``OUT/ctseg_summary.csv`` is written for batches of more than one patient.
    ``on_row`` sees each row as soon as it is ready, in the patients' order (the CLI prints it; a
    cohort batch stores it). ``items``: patients already planned (a cohort's series, each with its
    output folder), instead of ``paths``.
    """
    if fmt not in OUTPUT_NAMES:
        raise ValueError(f"fmt must be one of {sorted(OUTPUT_NAMES)}, got {fmt!r}")
    out_path = Path(out) if out is not None else None
    check_outputs(out_path, summary)
    if segmenter is None:
        from ctseg_core.model.inference import Segmenter

        segmenter = Segmenter.load(Path(model) if model else None, threads=threads)
    items = list(items) if items is not None else plan_outputs(expand_patients(paths), out_path)
    rows: list[Row] = []
    for item in items:
        try:
            row = segment_patient(item, segmenter, fmt, progress, report=report)
        except Cancelled:
            raise
        except CtsegError as error:
            row = error_row(item, error)
        except Exception as error:  # a bug: this patient's row says so, the batch goes on
            log.error("unexpected error segmenting %s", item.source, exc_info=error)
            row = error_row(item, error, write_error_log(error, f"segmenting {item.source}"))
        rows.append(row)
        if on_row is not None:
            on_row(row)
    if len(rows) > 1 or summary is not None:
        target = Path(summary) if summary is not None else (out_path or Path(".")) / "ctseg_summary.csv"
        write_summary(rows, target)
    return rows


def check_outputs(out: Path | None, summary: str | Path | None) -> None:
    """Refuse, before any slow work, outputs no patient could be written to.

    An output folder that is (or lies under) a file: NotAFolderError; a summary path that is a
    folder: IsAFolderError. Problems only a write can reveal (read-only, disk full) become each
    patient's error row instead.
    """
    if out is not None:
        check_output_folder(out)
    if summary is not None:
        summary_path = Path(summary)
        if summary_path.is_dir():
            raise IsAFolderError(summary_path, "is a folder, not a file: give the summary CSV a file name")
        check_output_folder(summary_path.parent)


def error_row(item: BatchItem, error: Exception, log_path: Path | None = None) -> Row:
    """The row of a patient that failed: a ctseg error's message, or a bug's type, message and log file."""
    if isinstance(error, CtsegError):
        message = str(error)
    else:
        where = f"traceback written to {log_path}" if log_path else "no log file could be written"
        message = f"internal error: {type(error).__name__}: {error} ({where})"
    return {
        "patient": item.name,
        "source": str(item.source),
        **_series_of(item),
        "error": message,
        "error_type": type(error).__name__,
    }


def _series_of(item: BatchItem) -> Row:
    """The series column of a row, for items that name their series (a plain batch has none)."""
    return {"series_uid": item.series_uid} if item.series_uid else {}


def write_error_log(error: BaseException, context: str = "") -> Path | None:
    """Write an unexpected error's full traceback to ``<cache>/logs/ctseg-<time>-<pid>-<id>.log``.

    Falls back to the temporary folder when the cache is not writable; None when neither is.
    """
    from ctseg_core._version import __version__

    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"ctseg-{stamp}-{os.getpid()}-{secrets.token_hex(3)}.log"
    text = (
        f"ctseg {__version__}, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n"
        f"command: {' '.join(sys.argv)}\n"
        + (f"while {context}\n" if context else "")
        + "\n"
        + "".join(traceback.format_exception(error))
    )
    for folder in (default_cache_dir() / "logs", Path(tempfile.gettempdir()) / "ctseg-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8", errors="backslashreplace")
        except OSError:
            continue
        return path
    return None


def write_summary(rows: Sequence[Row], path: Path) -> Path:
    """The batch's rows as one CSV (``patient`` first), written atomically.

    Paths are written with their bytes as they are (``surrogateescape``), so a file name that is
    not valid UTF-8 still round-trips; a cell that would start a spreadsheet formula (a folder
    named ``=…``) is kept as text. A device target (``/dev/stdout``) is written in place.
    """
    columns = sorted({key for row in rows for key in row}, key=lambda k: (k != "patient", k))
    try:
        with (
            atomic_path(path, suffix=".csv") as temporary,
            open(temporary, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle,
        ):
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(csv_row(row) for row in rows)
    except OutputError as error:
        raise type(error)(error.path, f"cannot write the summary CSV: {error.problem}", error.errno) from error
    return path
