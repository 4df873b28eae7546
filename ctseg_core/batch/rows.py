"""A batch's rows: one per patient (metrics, or the error that stopped it), and the summary CSV."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctseg_core.batch.error_log import write_error_log
from ctseg_core.batch.planning import BatchItem
from ctseg_core.errors import CtsegError, OutputError
from ctseg_core.io.atomic import atomic_path
from ctseg_core.shown_text import csv_row

log = logging.getLogger("ctseg_core.batch")

#: One patient's outcome: metrics, output path and timings, or ``error``; JSON- and CSV-ready.
Row = dict[str, Any]
METRIC_COLUMNS = ("dice", "jaccard", "voe", "rvd", "assd_mm", "hd95_mm", "volume_ml_gt")


class WorkerLostError(CtsegError):
    """The process segmenting a patient died under it (killed, out of memory, a crash in the
    network's engine): that patient's row says so and the batch goes on without it."""


def failure_row(item: BatchItem, error: Exception) -> Row:
    """The row of a patient whose work raised ``error``; a bug's traceback goes to a log file first."""
    if isinstance(error, CtsegError):
        return error_row(item, error)
    log.error("unexpected error segmenting %s", item.source, exc_info=error)
    return error_row(item, error, write_error_log(error, f"segmenting {item.source}"))


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
        **series_of(item),
        "error": message,
        "error_type": type(error).__name__,
    }


def series_of(item: BatchItem) -> Row:
    """The series column of a row, for items that name their series (a plain batch has none)."""
    return {"series_uid": item.series_uid} if item.series_uid else {}


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
