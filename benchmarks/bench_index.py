"""Cohort index benchmark: series per second against a plain pydicom header loop, and the re-index.

Run: ``python benchmarks/bench_index.py [--series 2000] [--files 4] [--repeats 3]``.
Writes a synthetic DICOM export (``PATn/STm/SEk/IMj``, no file extensions, CT headers of the usual
~45 tags and 16×16 pixels) to a temporary folder, then times, page cache warm:

- **baseline**: ``pydicom.dcmread(path, stop_before_pixels=True)`` over every file (a listing made
  beforehand, not timed) — what the cheapest script that looks at every header costs;
- **first index**: ``ctseg_core.cohort`` into a new database (walk, discovery, every header, one
  thumbnail per series, the writes);
- **re-index** of the unchanged tree (it stats every file and opens none);
- the cohort table's query: all series sorted by estimated Dice, and by patient.

Each number is the median of the repeats; the machine and its load are printed with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from ctseg_core.cohort import CohortDatabase, SeriesQuery

SERIES_PER_STUDY = 4
STUDIES_PER_PATIENT = 2


def _slice(patient: int, study_uid: str, series_uid: str, number: int, k: int) -> Dataset:
    """One CT slice with the tags a scanner writes (16×16 pixels: the benchmark is about headers)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber, ds.Modality, ds.Manufacturer = f"A{patient}", "CT", "bench"
    ds.InstitutionName, ds.ReferringPhysicianName = "Hospital", "Doe^Jane"
    ds.StudyDescription, ds.SeriesDescription = "ABDOMEN", f"series {number}"
    ds.PatientName, ds.PatientID = f"Patient^{patient}", f"P{patient:05d}"
    ds.PatientBirthDate, ds.PatientSex, ds.PatientAge = "19700101", "O", "054Y"
    ds.BodyPartExamined, ds.SliceThickness, ds.KVP = "ABDOMEN", 2.5, 120
    ds.DataCollectionDiameter, ds.ReconstructionDiameter = 500, 380
    ds.ConvolutionKernel, ds.PatientPosition = "B30f", "HFS"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.StudyID, ds.SeriesNumber, ds.AcquisitionNumber, ds.InstanceNumber = "1", number, 1, k + 1
    ds.ImagePositionPatient = [-190.0, -190.0, 2.5 * k]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = study_uid + ".1"
    ds.PositionReferenceIndicator, ds.SliceLocation = "", 2.5 * k
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 16
    ds.PixelSpacing = [0.75, 0.75]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.PixelData = np.full((16, 16), 1064 + k, np.uint16).tobytes()
    return ds


def write_tree(root: Path, series: int, files: int) -> list[Path]:
    """The synthetic export; every file's path."""
    paths = []
    per_patient = SERIES_PER_STUDY * STUDIES_PER_PATIENT
    for index in range(series):
        patient, rest = divmod(index, per_patient)
        study, number = divmod(rest, SERIES_PER_STUDY)
        study_uid = f"1.2.826.0.1.3680043.10.9999.{patient}.{study}"
        series_uid = generate_uid()
        folder = root / f"PAT{patient:05d}" / f"ST{study}" / f"SE{number}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(files):
            path = folder / f"IM{k:04d}"
            _slice(patient, study_uid, series_uid, number + 1, k).save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--files", type=int, default=4, help="files (slices) per series")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctseg-bench-index-") as tmp:
        root = Path(tmp) / "export"
        started = time.perf_counter()
        paths = write_tree(root, args.series, args.files)
        print(f"wrote {args.series} series, {len(paths)} files in {time.perf_counter() - started:.1f} s")
        for path in paths:  # page cache warm for everyone
            path.read_bytes()
        baseline = median_seconds(lambda: [pydicom.dcmread(p, stop_before_pixels=True) for p in paths], args.repeats)
        databases = iter(Path(tmp) / f"first{k}.sqlite" for k in range(args.repeats))

        def first_index() -> None:
            with CohortDatabase(next(databases)) as cohort:
                cohort.index([root])

        first = median_seconds(first_index, args.repeats)
        with CohortDatabase(Path(tmp) / "first0.sqlite") as cohort:
            again = median_seconds(lambda: cohort.index([root]), args.repeats)
            listed = len(cohort.list_series())
            by_estimate = median_seconds(lambda: cohort.list_series(SeriesQuery(sort="estimated_dice")), args.repeats)
            by_patient = median_seconds(lambda: cohort.list_series(SeriesQuery(sort="patient")), args.repeats)
        assert listed == args.series, listed
    report(args, len(paths), baseline, first, again, (by_estimate, by_patient))


def report(
    args: argparse.Namespace, files: int, baseline: float, first: float, again: float, query: tuple[float, float]
) -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}")
    print(f"load average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (other work shares the cores)")
    print(f"{args.series} series × {args.files} files = {files} files; medians of {args.repeats}")
    rows = (
        ("plain pydicom header loop", baseline, ""),
        ("ctseg first index", first, f"{first / baseline:.2f}× the loop's time"),
        ("ctseg re-index, unchanged", again, f"{first / again:.0f}× faster than the first"),
    )
    for name, seconds, note in rows:
        print(f"  {name:<27} {seconds:7.3f} s  {args.series / seconds:8.0f} series/s  {note}")
    print(f"  list all series by estimated Dice {query[0] * 1000:.0f} ms, by patient {query[1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
