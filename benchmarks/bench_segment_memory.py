"""Peak memory of ``ctseg segment`` for one patient, as a multiple of its HU volume.

Run: ``python benchmarks/bench_segment_memory.py [--slices 200] [--size 512] [--format nifti]``.
Writes a phantom (its CT as a NIfTI volume and its liver as a NIfTI label) into a temporary folder,
loads the model (ONNX Runtime when its graph is current), then measures one ``segment_patient``
(load, network, post-processing, writing the mask, Dice/ASSD/HD95 against the liver) with tracemalloc,
which sees every numpy array (the network's own buffers in ONNX Runtime are not counted: they do not
grow with the scan). The figure is the peak of Python/numpy memory during that call over the bytes of
the int16 HU volume; the target (issue 26) is under 4×.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def _write_case(folder: Path, slices: int, size: int) -> Path:
    import nibabel as nib

    from ctseg_core.synth.phantom import make_phantom

    phantom = make_phantom(seed=3, slices=slices, size=size)
    affine = np.diag([-0.7, -0.7, 2.0, 1.0])
    patient = folder / "case"
    patient.mkdir()
    nib.save(nib.Nifti1Image(np.transpose(phantom.hu, (2, 1, 0)), affine), patient / "image.nii.gz")
    liver = np.transpose(phantom.masks["liver"], (2, 1, 0)).astype(np.uint8)
    nib.save(nib.Nifti1Image(liver, affine), patient / "liver.nii.gz")
    return patient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--format", default="nifti", choices=("nifti", "ircad", "seg"))
    args = parser.parse_args()

    from ctseg_core.batch import BatchItem, segment_patient
    from ctseg_core.model.inference import Segmenter

    segmenter = Segmenter.load(None, threads=2)
    with tempfile.TemporaryDirectory() as tmp:
        source = _write_case(Path(tmp), args.slices, args.size)
        item = BatchItem(source, "case", Path(tmp) / "out")
        hu_bytes = args.slices * args.size * args.size * 2
        tracemalloc.start()
        started = time.perf_counter()
        row = segment_patient(item, segmenter, args.format)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        f"{args.slices} × {args.size}² ({hu_bytes / 2**20:.0f} MiB of HU), {segmenter.backend}, "
        f"--format {args.format}: "
        f"peak {peak / 2**20:.0f} MiB = {peak / hu_bytes:.2f}× the HU volume (Dice {row.get('dice')}, {seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
