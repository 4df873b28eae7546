"""The model card: the JSON beside a model file that says how to use it and how good it is.

Inference reads the input size, HU window, context and threshold from here, so a model and the
preprocessing it was trained with can never drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input.to_dict(),
            "threshold": self.threshold,
            "architecture": self.architecture,
            "training": self.training,
            "validation": self.validation,
            "licence": self.licence,
        }


def card_path(model_path: Path) -> Path:
    """``liver_unet.keras`` → ``liver_unet.card.json``."""
    return model_path.with_name(model_path.name.split(".")[0] + ".card.json")


def write_card(card: ModelCard, model_path: Path) -> Path:
    from ctseg_core.io.atomic import atomic_path

    path = card_path(model_path)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    return path


def read_card(model_path: Path) -> ModelCard:
    """Read and check the card beside a model; a clear ModelError when missing or malformed."""
    path = card_path(model_path)
    if not path.is_file():
        raise ModelError(path, "model card missing: every model needs its .card.json beside it")
    try:
        data = json.loads(path.read_text())
        spec = InputSpec(**data["input"])
        threshold = float(data.get("threshold", 0.5))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(path, f"model card is malformed ({exc})") from exc
    if not 0.0 < threshold < 1.0 or spec.size < 16 or spec.hu_high <= spec.hu_low:
        raise ModelError(path, "model card values are out of range")
    return ModelCard(
        input=spec,
        threshold=threshold,
        architecture=data.get("architecture", {}),
        training=data.get("training", {}),
        validation=data.get("validation", {}),
        licence=data.get("licence", LICENCE_NOTE),
    )
