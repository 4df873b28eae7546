"""The model card: the JSON beside a model file that says how to use it and how good it is.

Inference reads the input size, HU window, context and threshold from here, so a model and the
preprocessing it was trained with can never drift apart.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ctseg_core.errors import ModelError
from ctseg_core.model.preprocessing import InputSpec

LICENCE_NOTE = (
    "Weights trained on 3D-IRCADb-01 (IRCAD, CC BY-NC-ND 4.0) and synthetic ctseg phantoms: "
    "non-commercial research use only; not a medical device."
)


@dataclass
class ModelCard:
    """Everything needed to run a model and to judge it."""

    input: InputSpec
    threshold: float = 0.5
    architecture: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    licence: str = LICENCE_NOTE
    # Calibration of the quality estimate for this model (``ctseg_core.model.quality``); empty: none.
    quality: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input.to_dict(),
            "threshold": self.threshold,
            "architecture": self.architecture,
            "training": self.training,
            "validation": self.validation,
            "licence": self.licence,
            **({"quality": self.quality} if self.quality else {}),
        }


_MISSING: Any = object()


def card_path(model_path: Path) -> Path:
    """The card of a model file: ``liver_unet.keras`` → ``liver_unet.card.json``.

    Only the last suffix is the file type, so ``liver_unet.v2.keras`` → ``liver_unet.v2.card.json``
    (never another model's card).
    """
    model_path = Path(model_path)
    return model_path.with_name(Path(model_path.name).stem + ".card.json")


def write_card(card: ModelCard, model_path: Path) -> Path:
    from ctseg_core.io.atomic import atomic_path

    path = card_path(model_path)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    return path


def read_card(model_path: Path) -> ModelCard:
    """Read and check the card of exactly this model; a ModelError naming the card and the field otherwise."""
    model_path = Path(model_path)
    path = card_path(model_path)
    if not path.is_file():
        problem = f"model card missing: {model_path.name} needs its own card {path.name} beside it"
        other = model_path.with_name(model_path.name.split(".")[0] + ".card.json")
        if other != path and other.is_file():
            problem += f" ({other.name} is another model's card and is not used)"
        if path.is_dir():
            problem = f"model card is a folder, not a file: {model_path.name} needs its card {path.name}"
        raise ModelError(path, problem)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(path, f"cannot read the model card ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(path, f"model card is malformed: not UTF-8 text ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(path, f"model card is malformed: not valid JSON ({exc})") from exc
    return card_from_dict(data, path)


def card_from_dict(data: Any, path: Path | None = None) -> ModelCard:
    """A ModelCard from parsed JSON, every field the code relies on checked for type and range.

    ``path`` (the card file) is named in the ModelError, with the field and the value found.
    """
    refuse = _Refusal(path)
    if not isinstance(data, dict):
        raise ModelError(path, "model card is malformed: the top level must be a JSON object")
    spec = _checked_input(data, refuse)
    threshold = _real(data.get("threshold", 0.5))
    if threshold is None or not 0.0 < threshold < 1.0:
        raise refuse("threshold", "must be a number between 0 and 1 (exclusive)", data.get("threshold"))
    sections: dict[str, dict[str, Any]] = {}
    for key in ("architecture", "training", "validation", "quality"):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise refuse(key, "must be an object", value)
        sections[key] = value
    _check_lineage(sections["training"].get("lineage"), refuse)
    licence = data.get("licence", LICENCE_NOTE)
    if not isinstance(licence, str):
        raise refuse("licence", "must be text", licence)
    return ModelCard(
        input=spec,
        threshold=threshold,
        architecture=sections["architecture"],
        training=sections["training"],
        validation=sections["validation"],
        licence=licence,
        quality=_checked_quality(sections["quality"], refuse),
    )


class _Refusal:
    """The ModelError for a malformed field of one card: the card, the field, what it must be, what was found."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def __call__(self, field_name: str, requirement: str, value: Any = _MISSING) -> ModelError:
        found = "" if value is _MISSING else f", got {json.dumps(value) if _jsonable(value) else repr(value)}"
        return ModelError(self.path, f"model card is malformed: field {field_name!r} {requirement}{found}")


def _checked_input(data: dict[str, Any], refuse: _Refusal) -> InputSpec:
    """The ``input`` section: every field known and present, sizes whole, the HU window ordered."""
    spec_data = _input_fields(data, refuse)
    size = _whole(spec_data["size"], 16, 4096)
    if size is None:
        raise refuse("input.size", "must be a whole number from 16 to 4096 (pixels)", spec_data["size"])
    context = _whole(spec_data["context"], 0, 16)
    if context is None:
        raise refuse("input.context", "must be a whole number from 0 to 16 (slices per side)", spec_data["context"])
    context_mm = spec_data.get("context_mm")
    if context_mm is not None:
        context_mm = _real(context_mm)
        if context_mm is None or not 0.05 <= context_mm <= 50.0:
            raise refuse("input.context_mm", "must be null or a number from 0.05 to 50 (mm)", spec_data["context_mm"])
    hu_low, hu_high = _real(spec_data["hu_low"]), _real(spec_data["hu_high"])
    if hu_low is None:
        raise refuse("input.hu_low", "must be a finite number (HU)", spec_data["hu_low"])
    if hu_high is None:
        raise refuse("input.hu_high", "must be a finite number (HU)", spec_data["hu_high"])
    if hu_high <= hu_low:
        raise refuse("input.hu_high", f"must be above input.hu_low ({hu_low:g} HU)", spec_data["hu_high"])
    return InputSpec(size=size, hu_low=hu_low, hu_high=hu_high, context=context, context_mm=context_mm)


def _input_fields(data: dict[str, Any], refuse: _Refusal) -> dict[str, Any]:
    """The ``input`` object, with no unknown field and none missing (``context_mm`` may be: older cards lack it)."""
    spec_data = data.get("input", _MISSING)
    if spec_data is _MISSING:
        raise refuse("input", "is missing (size, hu_low, hu_high, context)")
    if not isinstance(spec_data, dict):
        raise refuse("input", "must be an object (size, hu_low, hu_high, context)", spec_data)
    known = {f.name for f in fields(InputSpec)}
    unknown = sorted(set(spec_data) - known)
    if unknown:
        raise refuse(f"input.{unknown[0]}", f"is not a known input field (known: {', '.join(sorted(known))})")
    missing = sorted(known - set(spec_data) - {"context_mm"})
    if missing:
        raise refuse(f"input.{missing[0]}", "is missing")
    return spec_data


def _checked_quality(section: dict[str, Any], refuse: _Refusal) -> dict[str, Any]:
    """The quality calibration, when present: numeric intercept and weights of known features."""
    from ctseg_core.model.quality import FEATURES

    if not section:
        return section
    if _real(section.get("intercept", 0.0)) is None:
        raise refuse("quality.intercept", "must be a finite number", section.get("intercept"))
    weights = section.get("weights", {})
    if not isinstance(weights, dict):
        raise refuse("quality.weights", "must be an object of feature: weight", weights)
    for name, weight in weights.items():
        if name not in FEATURES:
            raise refuse(f"quality.weights.{name}", f"is not a known feature (known: {', '.join(FEATURES)})")
        if _real(weight) is None:
            raise refuse(f"quality.weights.{name}", "must be a finite number", weight)
    check_below = _real(section.get("check_below", 0.9))
    if check_below is None or not 0.0 < check_below < 1.0:
        raise refuse("quality.check_below", "must be a number between 0 and 1", section.get("check_below"))
    return section


def _check_lineage(lineage: Any, refuse: _Refusal) -> None:
    """``training.lineage`` (a fine-tuned model's base and its Dice before and after), as the model
    list and the viewer read it: an object of text, lists, and ``{"mean": number, "per_patient": …}``.
    An older or hand-edited card with a plain number there is refused by name, like any other field."""
    if lineage is None:
        return
    if not isinstance(lineage, dict):
        raise refuse("training.lineage", "must be an object (base_name, added_patients, validation_dice_…)", lineage)
    for key in ("base_name", "base_model", "hold_out_rule"):
        if lineage.get(key) is not None and not isinstance(lineage[key], str):
            raise refuse(f"training.lineage.{key}", "must be text", lineage[key])
    for key in ("added_patients", "held_out"):
        if lineage.get(key) is not None and not isinstance(lineage[key], list):
            raise refuse(f"training.lineage.{key}", "must be a list of patient names", lineage[key])
    for key in ("validation_dice_before", "validation_dice_after"):
        dice = lineage.get(key)
        if dice is None:
            continue
        if not isinstance(dice, dict):
            raise refuse(f"training.lineage.{key}", 'must be null or {"mean": number, "per_patient": {…}}', dice)
        if dice.get("mean") is not None and _real(dice["mean"]) is None:
            raise refuse(f"training.lineage.{key}.mean", "must be null or a finite number", dice["mean"])
        if dice.get("per_patient") is not None and not isinstance(dice["per_patient"], dict | list):
            raise refuse(f"training.lineage.{key}.per_patient", "must be null or an object", dice["per_patient"])


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _whole(value: Any, low: int, high: int) -> int | None:
    """``value`` when it is a JSON integer in [low, high] (``16.0`` is accepted, ``"16"`` and ``true`` not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    number = int(value)
    return number if low <= number <= high else None


def _real(value: Any) -> float | None:
    """``value`` as a float when it is a finite JSON number (not a string, bool or null)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
