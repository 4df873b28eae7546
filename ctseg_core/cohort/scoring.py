"""A result's Dice against a ground truth the index found elsewhere: a DICOM SEG or RTSTRUCT that
references the series, wherever it lies under the indexed folders.

The batch scores a prediction against the liver mask the loader finds with the patient (IRCAD
masks, NIfTI labels, a SEG or RTSTRUCT beside the CT). A structure set in a separate export folder
is found only by the index (it matched the SeriesInstanceUID the object references): this module
reads it onto the patient's grid and fills in the metrics a row left empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctseg_core.cohort.query import GroundTruth, SeriesRow

#: The segment or ROI names taken as the liver (any case), in that order of preference.
LIVER_NAMES = ("liver",)
#: Ground-truth kinds read here (the loader reads the others with the patient).
REFERENCING_KINDS = ("seg", "rtstruct")


def liver_truth(truths: list[GroundTruth]) -> GroundTruth | None:
    """The SEG or RTSTRUCT ground truth named like the liver (a manual one: never a model's output)."""
    for truth in truths:
        if truth.kind in REFERENCING_KINDS and not truth.automatic and truth.name.strip().lower() in LIVER_NAMES:
            return truth
    return None


def score_against(row: dict[str, Any], series: SeriesRow, truth: GroundTruth) -> dict[str, Any]:
    """``row`` (a batch row with its ``output``) with Dice, Jaccard, ASSD, HD95 and the ground truth's
    volume against ``truth``; a truth that cannot be read leaves the row as it was, with a warning."""
    from ctseg_core.io.label_files import read_label_file
    from ctseg_core.io.loading import load_patient
    from ctseg_core.metrics import compare

    try:
        patient = load_patient(series.path, series_uid=series.load_series_uid, masks=None)
        prediction = read_label_file(row["output"], patient).labels > 0
        labels = read_label_file(truth.path, patient)
        name = next(n for n in labels.names if n.strip().lower() == truth.name.strip().lower())
        report = compare(prediction, labels.mask(name), patient.spacing_mm).to_dict()
    except Exception as error:  # a truth that cannot be read must never lose the result it would score
        warning = f"ground truth {Path(truth.path).name} not scored: {error}"
        return {**row, "warnings": "; ".join(w for w in (row.get("warnings"), warning) if w)}
    report["volume_ml_gt"] = report.pop("volume_ml_ref")
    return {**row, **report, "ground_truth": f"{truth.kind}:{truth.path}"}


def with_indexed_truth(row: dict[str, Any], series: SeriesRow, truths: list[GroundTruth]) -> dict[str, Any]:
    """A batch row scored against the series' SEG or RTSTRUCT liver when the loader found no ground
    truth with the patient (its Dice is empty) and the index found one; else the row as it is."""
    if "error" in row or row.get("dice") is not None or not row.get("output"):
        return row
    truth = liver_truth(truths)
    return row if truth is None else score_against(row, series, truth)
