"""The bundled model's Dice on one real patient stored in every common orientation and format.

Takes IRCAD patient 1 (40 slices through the liver), rewrites it with plain pydicom / nibabel as
each variant (flipped rows or columns, transposed, rotated, reversed slices, coronal and sagittal
acquisitions, RAS/LPS/RPI NIfTI, 15° gantry tilt, Enhanced CT uncompressed and RLE), loads each
back with ctseg, segments it and scores it against the variant's own ground truth. Baseline: the
patient as stored; the ratio column is each variant's Dice over it, and "agreement" is the lowest
per-slice Dice between the variant's mask and the as-stored mask on the canonical grid.

    python benchmarks/bench_orientation.py [--slices 40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IRCAD = REPO.parent / "shared" / "data" / "3Dircadb1" / "3Dircadb1.1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="write the variants here and keep them")
    args = parser.parse_args()
    if not IRCAD.is_dir():
        print(f"real data absent: {IRCAD}", file=sys.stderr)
        return 2

    from ctseg_core.geometry import VolumeGeometry
    from ctseg_core.io.loading import load_patient
    from ctseg_core.metrics import dice
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant, write_enhanced_ct, write_nifti_variant

    full = load_patient(IRCAD, masks=["liver"])
    liver_slices = np.flatnonzero(full.masks["liver"].any(axis=(1, 2)))
    start = max(0, int(liver_slices.mean()) - args.slices // 2)
    crop = slice(start, start + args.slices)
    hu, liver = full.hu[crop], full.masks["liver"][crop]
    g = full.geometry
    geometry = VolumeGeometry(tuple(g.slice_position_mm(start)), g.row_direction, g.column_direction, g.spacing_mm)  # type: ignore[arg-type]
    dz, dy, _ = geometry.spacing_mm
    tilt_rows = dz * np.tan(np.radians(15.0)) / dy

    root = args.keep or Path(tempfile.mkdtemp(prefix="ctseg_orientation_"))
    masks = {"liver": liver}
    writers = {
        name: (lambda f, layout=layout: write_dicom_variant(f, hu, geometry, layout, masks))
        for name, layout in NAMED_LAYOUTS.items()
    }
    for codes in ("RAS", "LPS", "RPI"):
        writers[f"NIfTI {codes}"] = lambda f, codes=codes: write_nifti_variant(f, hu, geometry, tuple(codes), masks)
    writers["gantry tilt 15°"] = lambda f: write_dicom_variant(
        f, hu, geometry, NAMED_LAYOUTS["as stored"], masks, tilt_rows_per_slice=tilt_rows
    )
    for compress in (False, True):
        label = "Enhanced CT, RLE" if compress else "Enhanced CT"
        writers[label] = lambda f, compress=compress: (
            (
                write_enhanced_ct(f / "ct.dcm", hu, geometry, NAMED_LAYOUTS["rows flipped"], compress=compress),
                write_nifti_variant(f / "gt", hu, geometry, ("L", "P", "S"), masks),
            )[0].parent
        )

    segmenter = Segmenter.load(threads=2)
    baseline: np.ndarray | None = None
    base_dice = 0.0
    print(
        f"IRCAD patient 1, slices {crop.start}-{crop.stop - 1} of {full.shape[0]}, {hu.shape[1]}² px, bundled model\n"
    )
    print("| variant | loaded shape | load s | Dice | ratio to as stored | agreement (min per-slice Dice) | warnings |")
    print("|---|---|---|---|---|---|---|")
    for name, write in writers.items():
        folder = root / name.replace(" ", "_").replace(",", "").replace("°", "deg")
        shutil.rmtree(folder, ignore_errors=True)
        write(folder)
        started = time.perf_counter()
        patient = load_patient(folder, masks=None)
        seconds = time.perf_counter() - started
        truth_path = folder / "gt" if name.startswith("Enhanced") else folder
        truth = load_patient(truth_path, masks=["liver"]).masks["liver"]
        mask = segmenter.predict(patient.hu, patient.spacing_mm).mask
        score = dice(mask, truth)
        if baseline is None:
            baseline, base_dice = mask, score
        both = [dice(mask[k], baseline[k]) for k in range(mask.shape[0]) if mask[k].any() or baseline[k].any()]
        agreement = min(v for v in both if v == v) if both else 1.0
        warnings = "; ".join(w.split(":")[0] for w in patient.warnings) or "—"
        print(
            f"| {name} | {' × '.join(map(str, patient.shape))} | {seconds:.2f} | {score:.4f} | "
            f"{score / base_dice:.3f} | {agreement:.4f} | {warnings} |"
        )
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
