"""Held-out evaluation of the cross-validated models, and the calibration of the quality estimate.

Run: ``python benchmarks/calibrate_quality.py TRAIN_OUT [--write-card CARD]`` where TRAIN_OUT is the
``--out`` folder of ``ctseg train --folds 3 --no-final`` (each ``fold_K/last.keras`` is that fold's
last-epoch model: chosen without looking at its held-out patient).

Every case is one a fold's model never saw:
- its held-out IRCAD patient, unchanged and under the scanner/protocol perturbations of
  ``bench_robustness.py``;
- crops of that patient to 10 slices at the liver's inferior end and at its dome, resampled to
  5 mm by slab averaging (``ctseg_core.synth.variants.thick_partial_scan``), each segmented with the
  2.5D neighbours at the card's physical distance (the product) and, for comparison, one slice
  away (the behaviour before ``context_mm``);
- fresh phantoms (seeds never used in training).

It prints (1) full scans against crops per fold, (2) the quality features and the true Dice of
every case, and (3) the calibration: a least-squares line from the features to the true Dice,
judged by leave-one-group-out (a group = one real patient's cases, or one fold's phantoms), so
the reported error is on cases the calibration itself did not see. ``--write-card`` stores the
line fitted on all cases, with those errors, in the card's ``quality`` section.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_robustness import DATA, PERTURBATIONS

from ctseg_core.model.quality import FEATURES

CHECK_BELOW = 0.90
PHANTOM_SEEDS_PER_FOLD = 2


def _case(segmenter: Any, hu: np.ndarray, truth: np.ndarray, spacing: tuple[float, float, float]) -> dict[str, Any]:
    from ctseg_core.metrics import dice

    result = segmenter.predict(hu, spacing)
    quality = result.quality
    return {
        "dice": float(dice(result.mask, truth)),
        "features": quality.features,
        "uncalibrated": quality.estimated_dice,
        "pred_ml": float(result.mask.sum() * np.prod(spacing) / 1000),
        "true_ml": float(truth.sum() * np.prod(spacing) / 1000),
    }


def collect(train_out: Path) -> list[dict[str, Any]]:
    from ctseg_core.io.loading import load_patient
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.synth.phantom import make_phantom
    from ctseg_core.synth.variants import thick_partial_scan

    cases: list[dict[str, Any]] = []
    folds = sorted(train_out.glob("fold_*/last.keras"))
    if not folds:
        raise SystemExit(
            f"{train_out}: no fold_K/last.keras (train with --folds and this version of ctseg; the held-out "
            "models are not in the tree: benchmarks/held_out_models/README.md restores or retrains them, and "
            "--cases benchmarks/held_out_models/cases.json re-reports their cases without a model)"
        )
    for model_path in folds:
        segmenter = Segmenter.load(model_path, threads=2)
        index_neighbours = Segmenter(
            segmenter.model, replace(segmenter.card, input=replace(segmenter.card.input, context_mm=None)), model_path
        )
        fold = model_path.parent.name
        for name in segmenter.card.training["held_out"]:
            patient = load_patient(DATA / name, masks=["liver"])
            truth, spacing = patient.masks["liver"], patient.spacing_mm
            rng = np.random.default_rng(0)
            for label, perturb in PERTURBATIONS.items():
                started = time.perf_counter()
                hu, mask = perturb(patient.hu, truth, rng)
                factor = patient.hu.shape[0] / hu.shape[0]
                case_spacing = (spacing[0] * factor, spacing[1], spacing[2])
                case = _case(segmenter, hu, mask, case_spacing)
                cases.append({"fold": fold, "group": name, "case": label, **case})
                print(
                    f"{fold} {name} {label}: Dice {case['dice']:.4f} ({time.perf_counter() - started:.1f} s)",
                    flush=True,
                )
            for region in ("inferior", "dome"):
                hu, mask, crop_spacing = thick_partial_scan(patient.hu, truth, spacing, region, 10, 5.0)
                case = _case(segmenter, hu, mask, crop_spacing)
                old = _case(index_neighbours, hu, mask, crop_spacing)
                cases.append(
                    {
                        "fold": fold,
                        "group": name,
                        "case": f"{region} crop 10 x 5 mm",
                        **case,
                        "dice_index_neighbours": old["dice"],
                    }
                )
                print(
                    f"{fold} {name} {region} crop: Dice {case['dice']:.4f} (neighbours one slice away: "
                    f"{old['dice']:.4f})",
                    flush=True,
                )
        k = int(fold.split("_")[1])
        for seed in range(3000 + PHANTOM_SEEDS_PER_FOLD * k, 3000 + PHANTOM_SEEDS_PER_FOLD * (k + 1)):
            volume = make_phantom(seed=seed, slices=64, size=512)
            case = _case(segmenter, volume.hu, volume.masks["liver"], volume.spacing_mm)
            cases.append({"fold": fold, "group": f"phantoms {fold}", "case": f"phantom seed {seed}", **case})
            print(f"{fold} phantom {seed}: Dice {case['dice']:.4f}", flush=True)
    return cases


def collect_phantoms(model_path: Path, seeds: list[int]) -> list[dict[str, Any]]:
    """Held-out cases for a model trained on every real patient: fresh phantoms, perturbed and cropped.

    The bundled model has seen all three IRCAD patients, so its only held-out data here are
    phantoms it never saw (training used seeds 1000-1003); each is scored unchanged, under every
    perturbation of ``bench_robustness.py`` and as inferior and dome crops of 10 x 5 mm.
    """
    from ctseg_core.model.inference import Segmenter
    from ctseg_core.synth.phantom import make_phantom
    from ctseg_core.synth.variants import thick_partial_scan

    segmenter = Segmenter.load(model_path, threads=2)
    cases: list[dict[str, Any]] = []
    for seed in seeds:
        volume = make_phantom(seed=seed, slices=64, size=512)
        truth, spacing = volume.masks["liver"], volume.spacing_mm
        rng = np.random.default_rng(seed)
        for label, perturb in PERTURBATIONS.items():
            hu, mask = perturb(volume.hu, truth, rng)
            factor = volume.hu.shape[0] / hu.shape[0]
            case = _case(segmenter, hu, mask, (spacing[0] * factor, spacing[1], spacing[2]))
            cases.append({"fold": model_path.stem, "group": f"phantom {seed}", "case": label, **case})
        for region in ("inferior", "dome"):
            hu, mask, crop_spacing = thick_partial_scan(volume.hu, truth, spacing, region, 10, 5.0)
            case = _case(segmenter, hu, mask, crop_spacing)
            cases.append({"fold": model_path.stem, "group": f"phantom {seed}", "case": f"{region} crop", **case})
        print(f"phantom {seed}: " + " ".join(f"{c['dice']:.3f}" for c in cases[-11:]), flush=True)
    return cases


def fit(cases: list[dict[str, Any]], ridge: float = 1e-3) -> tuple[float, dict[str, float]]:
    """Least squares (a small ridge on the weights) from the features to the true Dice."""
    x = np.array([[c["features"][f] for f in FEATURES] for c in cases])
    y = np.array([c["dice"] for c in cases])
    mean_x, mean_y = x.mean(axis=0), y.mean()
    centred = x - mean_x
    weights = np.linalg.solve(
        centred.T @ centred + ridge * len(cases) * np.eye(len(FEATURES)), centred.T @ (y - mean_y)
    )
    intercept = float(mean_y - mean_x @ weights)
    return intercept, {f: float(w) for f, w in zip(FEATURES, weights, strict=True)}


def predict(intercept: float, weights: dict[str, float], case: dict[str, Any]) -> float:
    return float(np.clip(intercept + sum(weights[f] * case["features"][f] for f in FEATURES), 0, 1))


def report(cases: list[dict[str, Any]]) -> dict[str, Any]:
    if all(c["group"].startswith("phantom ") for c in cases):
        pass  # phantom-only cases: no fold table
    else:
        _fold_table(cases)
    return _calibrate(cases)


def _fold_table(cases: list[dict[str, Any]]) -> None:
    print("\n(1) held-out Dice, full scan against 10-slice 5 mm crops (same fold model)")
    print(
        f"{'fold':<8}{'patient':<14}{'full':>8}{'inferior':>10}{'dome':>8}{'inf (1 slice)':>15}{'dome (1 slice)':>16}"
    )
    for group in sorted({c["group"] for c in cases if not c["group"].startswith("phantoms")}):
        by = {c["case"]: c for c in cases if c["group"] == group}
        inf, dome = by["inferior crop 10 x 5 mm"], by["dome crop 10 x 5 mm"]
        print(
            f"{by['unchanged']['fold']:<8}{group:<14}{by['unchanged']['dice']:>8.4f}{inf['dice']:>10.4f}"
            f"{dome['dice']:>8.4f}{inf['dice_index_neighbours']:>15.4f}{dome['dice_index_neighbours']:>16.4f}"
        )


def _calibrate(cases: list[dict[str, Any]]) -> dict[str, Any]:
    groups = sorted({c["group"] for c in cases})
    held_out: list[float] = []
    for group in groups:
        train = [c for c in cases if c["group"] != group]
        intercept, weights = fit(train)
        for c in cases:
            if c["group"] == group:
                c["estimated_cv"] = predict(intercept, weights, c)
                held_out.append(abs(c["estimated_cv"] - c["dice"]))
    constant: list[float] = []  # the baseline: the mean true Dice of the other groups, for every case
    for group in groups:
        mean = float(np.mean([c["dice"] for c in cases if c["group"] != group]))
        constant += [abs(mean - c["dice"]) for c in cases if c["group"] == group]
    intercept, weights = fit(cases)
    errors = [abs(predict(intercept, weights, c) - c["dice"]) for c in cases]
    raw = [abs(c["uncalibrated"] - c["dice"]) for c in cases]
    print("\n(2) every case: true Dice, estimate (leave-one-group-out), features")
    for c in cases:
        features = " ".join(f"{k}={v:.3f}" for k, v in c["features"].items())
        print(f"{c['fold']:<8}{c['group']:<16}{c['case']:<30}{c['dice']:>7.4f}{c['estimated_cv']:>8.4f}  {features}")
    worst = max(cases, key=lambda c: abs(c["estimated_cv"] - c["dice"]))
    summary = {
        "cases": len(cases),
        "mae_leave_one_group_out": round(float(np.mean(held_out)), 4),
        "worst_leave_one_group_out": round(float(np.max(held_out)), 4),
        "worst_case": (
            f"{worst['group']}, {worst['case']} (true {worst['dice']:.3f}, estimated {worst['estimated_cv']:.3f})"
        ),
        "mae_fitted_on_all": round(float(np.mean(errors)), 4),
        "mae_constant_baseline_leave_one_group_out": round(float(np.mean(constant)), 4),
        "mae_uncalibrated_soft_dice": round(float(np.mean(raw)), 4),
        "worst_uncalibrated_soft_dice": round(float(np.max(raw)), 4),
        "true_dice_range": [round(min(c["dice"] for c in cases), 4), round(max(c["dice"] for c in cases), 4)],
    }
    print("\n(3) calibration:", json.dumps(summary, indent=2))
    print("line fitted on all cases:", round(intercept, 4), {k: round(v, 4) for k, v in weights.items()})
    flagged = [c for c in cases if c["estimated_cv"] < CHECK_BELOW]
    bad = [c for c in cases if c["dice"] < CHECK_BELOW]
    caught = [c for c in bad if c["estimated_cv"] < CHECK_BELOW]
    print(f"flag below {CHECK_BELOW}: {len(flagged)} flagged, {len(bad)} truly below, {len(caught)} of those caught")
    summary.update({"flagged": len(flagged), "truly_below": len(bad), "caught": len(caught)})
    return {
        "intercept": round(intercept, 5),
        "weights": {k: round(v, 5) for k, v in weights.items()},
        "check_below": CHECK_BELOW,
        "calibration": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("train_out", type=Path, help="folder of fold_K/last.keras, or a model file with --phantoms")
    parser.add_argument(
        "--phantoms",
        type=int,
        nargs=2,
        metavar=("FIRST", "COUNT"),
        help="held-out phantom seeds for one model trained on every patient (e.g. 3100 6)",
    )
    parser.add_argument("--cases", type=Path, help="reuse (or save) the cases as JSON")
    parser.add_argument("--write-card", type=Path, help="model card (.card.json) to store the calibration in")
    args = parser.parse_args()
    if args.cases and args.cases.is_file():
        cases = json.loads(args.cases.read_text())
    else:
        from ctseg_core.model.tf_runtime import import_tensorflow

        import_tensorflow(2)
        if args.phantoms:
            first, count = args.phantoms
            cases = collect_phantoms(args.train_out, list(range(first, first + count)))
        else:
            cases = collect(args.train_out)
        if args.cases:
            args.cases.write_text(json.dumps(cases, indent=1))
    quality = report(cases)
    if args.write_card:
        card = json.loads(args.write_card.read_text())
        quality["calibration"]["source"] = (
            f"{len(cases)} held-out cases ({', '.join(sorted({c['group'] for c in cases}))}) of "
            f"{args.train_out.name} (benchmarks/calibrate_quality.py)"
        )
        card["quality"] = quality
        args.write_card.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote the calibration into {args.write_card}")


if __name__ == "__main__":
    main()
