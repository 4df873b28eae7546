"""One patient of a batch, in three steps a pipeline can run on different threads: load, predict,
write and score.

The label writer is the GUI's (:func:`ctseg_core.annotate.labels.save_label`), so a mask saved from
the command line and from the viewer are the same files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ctseg_core.annotate.labels import LabelFormat, SaveTarget, save_label
from ctseg_core.batch.planning import OUTPUT_NAMES, BatchItem
from ctseg_core.batch.rows import METRIC_COLUMNS, Row, series_of
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import compare, dice, volume_ml
from ctseg_core.progress import CancelCheck, ProgressCallback

if TYPE_CHECKING:
    from ctseg_core.model.inference import Segmentation


class PatientSegmenter(Protocol):
    """What a batch needs of a model: a :class:`~ctseg_core.model.inference.Segmenter`, a model
    process's client, or a stand-in in tests."""

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float],
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> Segmentation: ...


def segment_patient(
    item: BatchItem,
    segmenter: PatientSegmenter,
    fmt: str = "ircad",
    progress: ProgressCallback | None = None,
    report: bool = False,
    should_cancel: CancelCheck | None = None,
) -> Row:
    """Segment one patient, write its mask, and score it against its liver ground truth if it has one.

    ``report``: also write ``report.html`` (metrics, volumes, per-slice Dice, snapshots of the worst
    slices in three planes) beside the mask.
    """
    started = time.perf_counter()
    patient = load_item(item, progress)
    result = predict_item(segmenter, patient, progress, should_cancel)
    row = write_and_score(item, patient, result, fmt, report)
    return with_timings(row, time.perf_counter() - started, result)


def load_item(item: BatchItem, progress: ProgressCallback | None = None) -> Patient:
    """The patient's CT (the item's series) and its liver ground truth, if any."""
    return load_patient(item.source, series_uid=item.series_uid, masks=["liver"], progress=progress)


def predict_item(
    segmenter: PatientSegmenter,
    patient: Patient,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Segmentation:
    """The model's mask for the patient (``should_cancel`` only where given: stand-ins may not take it)."""
    extra: dict[str, Any] = {} if should_cancel is None else {"should_cancel": should_cancel}
    return segmenter.predict(patient.hu, patient.spacing_mm, progress=progress, **extra)


def write_and_score(item: BatchItem, patient: Patient, result: Segmentation, fmt: str, report: bool) -> Row:
    """Write the mask in ``fmt`` and the row of its metrics (against the ground truth, if any),
    quality estimate and warnings; the timings are added by :func:`with_timings`."""
    label_format = LabelFormat.from_name(fmt)
    output = OUTPUT_NAMES[fmt]
    if label_format is LabelFormat.IRCAD:
        target = SaveTarget(label_format, item.out_dir, output)
    else:
        target = SaveTarget(label_format, item.out_dir / output, "liver")
    save_label(result.mask, patient, target, algorithm_type="AUTOMATIC")
    row: Row = {"patient": item.name, "source": str(item.source), **series_of(item)}
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
    return row


def with_timings(row: Row, seconds: float, result: Segmentation) -> Row:
    """The row with the patient's seconds of work and the model's seconds per stage, last."""
    row["seconds"] = round(seconds, 3)
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
