"""A cohort of phantom patients in mixed layouts, indexed: what the cohort browser's screenshot shows.

Run: ``python benchmarks/phantom_cohort.py OUT [--patients 50] [--size 256]``; then
``ctseg view --cohort --db OUT/cohort.sqlite``. Phantoms only (``ctseg_core.synth``), never real data.
Patient k is written, in turn, as an IRCAD folder, the IRCAD zips as downloaded, a NIfTI CT with its
liver label, a DICOM series stored in another orientation (coronal, flipped rows, reversed slices…), or
a LiTS pair (``volume-k.nii`` + ``segmentation-k.nii``) in one folder of cases; the database is
``OUT/cohort.sqlite``.
"""

from __future__ import annotations

import argparse
import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np

from ctseg_core.cohort import CohortDatabase
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.synth.phantom import PhantomVolume, make_phantom, write_phantom
from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant, write_nifti_variant

LAYOUTS = ("ircad", "ircad-zip", "nifti", "dicom-variant", "lits")
VARIANTS = ("coronal", "rows flipped", "slices reversed", "sagittal", "rotated 90°")


def geometry_of(volume: PhantomVolume) -> VolumeGeometry:
    return VolumeGeometry(volume.origin_mm, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), volume.spacing_mm)


def zip_ircad(folder: Path) -> None:
    """The IRCAD folders as the download's zips, the folders removed."""
    for name in ("PATIENT_DICOM", "MASKS_DICOM"):
        with zipfile.ZipFile(folder / f"{name}.zip", "w") as archive:
            for path in sorted((folder / name).rglob("*")):
                archive.write(path, path.relative_to(folder).as_posix())
        shutil.rmtree(folder / name)


def write_patient(root: Path, k: int, size: int) -> None:
    layout, seed, slices = LAYOUTS[k % len(LAYOUTS)], k + 1, 24 + (k * 7) % 40
    if layout in ("ircad", "ircad-zip"):
        folder = write_phantom(root / f"ircad_{k:02d}", seed=seed, slices=slices, size=size)
        if layout == "ircad-zip":
            zip_ircad(folder)
        return
    volume = make_phantom(seed=seed, slices=slices, size=size)
    liver = {"liver": volume.masks["liver"]}
    if layout == "nifti":
        axcodes = ("R", "A", "S") if k % 2 else ("L", "P", "S")
        write_nifti_variant(root / f"nifti_{k:02d}", volume.hu, geometry_of(volume), axcodes, liver)
    elif layout == "dicom-variant":
        variant = NAMED_LAYOUTS[VARIANTS[(k // len(LAYOUTS)) % len(VARIANTS)]]
        write_dicom_variant(root / f"dicom_{k:02d}", volume.hu, geometry_of(volume), variant, liver, seed=k)
    else:
        cases = root / "lits_cases"
        cases.mkdir(parents=True, exist_ok=True)
        affine = geometry_of(volume).affine_ras()
        for name, data in (("volume", volume.hu.astype(np.int16)), ("segmentation", liver["liver"].astype(np.uint8))):
            nib.save(nib.Nifti1Image(np.ascontiguousarray(data.T), affine), str(cases / f"{name}-{k}.nii"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    root = args.out / "patients"
    for k in range(args.patients):
        write_patient(root, k, args.size)
    with CohortDatabase(args.out / "cohort.sqlite") as cohort:
        report = cohort.index([root])
        summary = cohort.summary()
    print(f"{summary.patients} patients, {summary.series} series indexed into {args.out / 'cohort.sqlite'}")
    print(report)


if __name__ == "__main__":
    main()
