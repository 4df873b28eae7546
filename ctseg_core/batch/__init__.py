"""Segmenting many patients: :func:`segment_patients` and the pieces it is made of.

- :mod:`~ctseg_core.batch.planning`: which patients, and where each one's outputs go;
- :mod:`~ctseg_core.batch.patient`: one patient's load, predict, write and score;
- :mod:`~ctseg_core.batch.rows`: its row (or error row) and the summary CSV;
- :mod:`~ctseg_core.batch.models`: the model in this process, or model processes (``--workers``);
- :mod:`~ctseg_core.batch.pipeline`: the patients one after another, or pipelined;
- :mod:`~ctseg_core.batch.cluster`: the patients as tasks on a Dask cluster (``--scheduler``);
- :mod:`~ctseg_core.batch.run`: :func:`segment_patients`, which picks among them;
- :mod:`~ctseg_core.batch.cohort`: a batch over the cohort database's series (``ctseg segment
  --cohort`` and the viewer's Segment all), each result stored on its series.
"""

from __future__ import annotations

from ctseg_core.batch.error_log import write_error_log
from ctseg_core.batch.patient import PatientSegmenter, segment_patient, write_patient_report
from ctseg_core.batch.planning import OUTPUT_NAMES, BatchItem, check_outputs, expand_patients, plan_outputs
from ctseg_core.batch.rows import METRIC_COLUMNS, Row, WorkerLostError, error_row, write_summary
from ctseg_core.batch.run import segment_patients

__all__ = [
    "METRIC_COLUMNS",
    "OUTPUT_NAMES",
    "BatchItem",
    "PatientSegmenter",
    "Row",
    "WorkerLostError",
    "check_outputs",
    "error_row",
    "expand_patients",
    "plan_outputs",
    "segment_patient",
    "segment_patients",
    "write_error_log",
    "write_patient_report",
    "write_summary",
]
