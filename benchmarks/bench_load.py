"""Load-time benchmark: ctseg vs a plain pydicom loop vs SimpleITK, on IRCAD patient 1.

Run: ``python benchmarks/bench_load.py [--patient 1] [--repeats 7]``.
All loaders run in this process on the same unzipped folder, page cache warm (one untimed
read first); each prints the median of the repeats, and the ratios are baseline / ctseg
(> 1 means ctseg is faster). The three volumes are checked to be identical.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom

from ctseg_core.io.loading import load_patient

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "3Dircadb1"


def plain_pydicom(folder: Path) -> np.ndarray:
    """What a careful script does: read all, sort by IPP along the normal, rescale, stack."""
    slices = [pydicom.dcmread(folder / name) for name in os.listdir(folder)]
    normal = np.cross(*np.reshape(np.asarray(slices[0].ImageOrientationPatient, float), (2, 3)))
    slices.sort(key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))))
    volume = np.empty((len(slices), slices[0].Rows, slices[0].Columns), dtype=np.int16)
    for k, ds in enumerate(slices):
        volume[k] = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return volume


def simpleitk(folder: Path) -> np.ndarray:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute()).astype(np.int16, copy=False)


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = run()  # warm-up: page cache and imports
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patient", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    zipped = DATA / f"3Dircadb1.{args.patient}"
    if not zipped.is_dir():
        raise SystemExit(f"{zipped} not found: the benchmark needs ../shared/data")
    with tempfile.TemporaryDirectory(prefix="ctseg-bench-") as tmp:
        with zipfile.ZipFile(zipped / "PATIENT_DICOM.zip") as zf:
            zf.extractall(tmp)
        folder = Path(tmp) / "PATIENT_DICOM"
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"IRCAD patient {args.patient}: {len(os.listdir(folder))} files, {size_mb:.0f} MB of DICOM")
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, pydicom {pydicom.__version__}"
        )
        ours, ours_volume = median_seconds(lambda: load_patient(Path(tmp), masks=None).hu, args.repeats)
        rows = [("ctseg load_patient (unzipped)", ours)]
        plain, plain_volume = median_seconds(lambda: plain_pydicom(folder), args.repeats)
        rows.append(("plain pydicom loop", plain))
        assert np.array_equal(plain_volume, ours_volume), "plain pydicom volume differs"
        try:
            itk, itk_volume = median_seconds(lambda: simpleitk(folder), args.repeats)
            rows.append(("SimpleITK ImageSeriesReader", itk))
            same = np.array_equal(itk_volume, ours_volume) or np.array_equal(itk_volume[::-1], ours_volume)
            assert same, "SimpleITK volume differs"
        except ImportError:
            print("SimpleITK not installed (pip install '.[bench]'): skipped")
        zip_time, _ = median_seconds(lambda: load_patient(zipped, masks=None).hu, args.repeats)
        rows.append(("ctseg load_patient (as downloaded, zip)", zip_time))
        print(f"\n{'loader':<42}{'median s':>10}{'ratio vs ctseg':>16}")
        for name, seconds in rows:
            print(f"{name:<42}{seconds:>10.3f}{seconds / ours:>15.2f}x")
        print("\nratio = loader time / ctseg unzipped time (> 1: ctseg is faster)")


if __name__ == "__main__":
    main()
