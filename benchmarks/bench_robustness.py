"""Robustness of the cross-validated models to scanner and protocol changes (honest: held-out patients).

Run: ``python benchmarks/bench_robustness.py TRAIN_OUT`` where TRAIN_OUT is the ``--out`` folder of
``ctseg train --folds 3`` (it holds ``fold_k/best.weights.h5`` and the model card). Each fold's
model segments its own validation patient, unchanged and under perturbations that mimic other
scanners and protocols; the table prints Dice per perturbation and its ratio to the unchanged scan.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "3Dircadb1"

Perturbation = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _hu(volume: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(volume), -1024, 3071).astype(np.int16)


def _larger_fov(hu: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Same anatomy in a 30 % larger field of view, resampled back to 512² (smaller body)."""
    pad = int(hu.shape[1] * 0.15)
    padded = np.pad(hu, ((0, 0), (pad, pad), (pad, pad)), constant_values=-1000)
    factor = hu.shape[1] / padded.shape[1]
    small = ndimage.zoom(padded.astype(np.float32), (1, factor, factor), order=1)
    mask = (
        ndimage.zoom(np.pad(truth, ((0, 0), (pad, pad), (pad, pad))).astype(np.float32), (1, factor, factor), order=1)
        > 0.5
    )
    return _hu(small), mask


PERTURBATIONS: dict[str, Perturbation] = {
    "unchanged": lambda hu, t, rng: (hu, t),
    "HU offset +40": lambda hu, t, rng: (_hu(hu.astype(np.float32) + 40), t),
    "HU offset -40": lambda hu, t, rng: (_hu(hu.astype(np.float32) - 40), t),
    "liver +40 HU (other phase)": lambda hu, t, rng: (_hu(hu + 40.0 * t), t),
    "liver -30 HU (late phase)": lambda hu, t, rng: (_hu(hu - 30.0 * t), t),
    "noise sigma 25 HU": lambda hu, t, rng: (_hu(hu + rng.normal(0, 25, hu.shape).astype(np.float32)), t),
    "soft kernel (blur 1 px)": lambda hu, t, rng: (_hu(ndimage.gaussian_filter(hu.astype(np.float32), (0, 1, 1))), t),
    "30 % larger field of view": _larger_fov,
    "slice spacing x2": lambda hu, t, rng: (hu[::2], t[::2]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("train_out", type=Path)
    args = parser.parse_args()

    from ctseg_core.io.loading import load_patient
    from ctseg_core.metrics import dice
    from ctseg_core.model.card import read_card
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.model.tf_runtime import import_tensorflow
    from ctseg_core.model.unet import UNetConfig, build_unet

    import_tensorflow()
    card = read_card(args.train_out / "liver_unet.keras")
    config = UNetConfig(**card.architecture)
    rows: dict[str, list[float]] = {name: [] for name in PERTURBATIONS}
    patients = []
    for fold in card.validation["folds"]:
        model = build_unet(replace(config, input_size=card.input.size, channels=card.input.channels))
        model.load_weights(str(args.train_out / f"fold_{fold['fold']}" / "best.weights.h5"))
        segmenter = Segmenter(model, card, args.train_out)
        for name in fold["validation"]:
            patient = load_patient(DATA / name, masks=["liver"])
            patients.append(name)
            rng = np.random.default_rng(0)
            for label, perturb in PERTURBATIONS.items():
                hu, truth = perturb(patient.hu, patient.masks["liver"], rng)
                rows[label].append(dice(segmenter.predict(hu).mask, truth))
    print(f"{'perturbation':<30}" + "".join(f"{p:>14}" for p in patients) + f"{'mean':>8}{'ratio':>8}")
    base = float(np.mean(rows["unchanged"]))
    for label, values in rows.items():
        mean = float(np.mean(values))
        print(f"{label:<30}" + "".join(f"{v:>14.4f}" for v in values) + f"{mean:>8.4f}{mean / base:>8.3f}")


if __name__ == "__main__":
    main()
