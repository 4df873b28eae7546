"""Which patients a batch holds and where each one's outputs go, decided before any slow work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctseg_core.annotate.labels import LabelFormat
from ctseg_core.errors import IsAFolderError
from ctseg_core.io.atomic import check_output_folder
from ctseg_core.io.discovery import find_patients

#: Output file (or IRCAD mask name) per format, inside each patient's output folder.
OUTPUT_NAMES = {fmt.cli_name: fmt.file_name("liver_pred") for fmt in LabelFormat}


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
