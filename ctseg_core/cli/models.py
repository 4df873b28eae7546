"""``ctseg models``: the bundled model and the user's, with what each was trained on and how well."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctseg_core.model.registry import RegisteredModel


def run(args: argparse.Namespace) -> int:
    from ctseg_core.model.registry import list_models, models_dir

    rows = [_model_row(model) for model in list_models()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    _print_table(rows)
    print(f"user models folder: {models_dir()} (set CTSEG_MODELS_DIR to move it)")
    return 0


def _model_row(model: RegisteredModel) -> dict[str, Any]:
    """One model's line: its base, patients, and the Dice before and after fine-tuning."""
    lineage = model.lineage
    before = (lineage.get("validation_dice_before") or {}).get("mean")
    after = (lineage.get("validation_dice_after") or {}).get("mean")
    base = lineage.get("base_name") or (Path(lineage["base_model"]).stem if lineage.get("base_model") else None)
    return {
        "name": model.name,
        "path": str(model.path),
        "bundled": model.bundled,
        "base": base,
        "patients": model.patients,
        "added_patients": lineage.get("added_patients", []),
        "dice_before": before,
        "dice_after": after,
        "validation_mean_dice": model.card.validation.get("mean_dice") if model.card else None,
        "problem": model.problem,
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    from ctseg_core.metrics import format_metric

    print(f"{'NAME':<24} {'BASE':<16} {'PATIENTS':>8} {'ADDED':>5} {'DICE BEFORE':>11} {'DICE AFTER':>10}")
    for row in rows:
        print(
            f"{row['name']:<24} {row['base'] or '—':<16} {len(row['patients']):>8} {len(row['added_patients']):>5} "
            f"{format_metric(row['dice_before']):>11} {format_metric(row['dice_after']):>10}"
            + (f"  (unreadable: {row['problem']})" if row["problem"] else "")
        )
