"""The user's own models: a folder per user where fine-tuned models live, listed and chosen by name.

A model is ``<models folder>/<NAME>.keras`` with its card ``<NAME>.card.json`` beside it. The
folder is ``$CTSEG_MODELS_DIR``, else ``$XDG_DATA_HOME/ctseg/models``, else
``~/.local/share/ctseg/models``. The name ``bundled`` always means the model shipped with ctseg:
it is listed first, is never looked up in the folder, and nothing can be registered under it, so
improving a model never replaces the one ctseg came with.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctseg_core.cache import user_data_dir
from ctseg_core.errors import ModelError, OutputExistsError
from ctseg_core.model.card import ModelCard, card_path, read_card, write_card
from ctseg_core.model.inference import default_model_path
from ctseg_core.model.onnx_graph import copy_graph

MODELS_ENV = "CTSEG_MODELS_DIR"
BUNDLED = "bundled"
MODEL_SUFFIX = ".keras"
#: A model name is a file stem: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def models_dir() -> Path:
    """The folder of the user's models (it need not exist yet)."""
    override = os.environ.get(MODELS_ENV)
    if override:
        return Path(override).expanduser()
    return user_data_dir() / "models"


@dataclass(frozen=True)
class RegisteredModel:
    """One model the user can choose by name; ``problem`` says why its card could not be read."""

    name: str
    path: Path
    card: ModelCard | None
    bundled: bool = False
    problem: str | None = None

    @property
    def lineage(self) -> dict[str, Any]:
        """The card's ``training.lineage`` (empty for a model trained from scratch)."""
        lineage = self.card.training.get("lineage") if self.card else None
        return lineage if isinstance(lineage, dict) else {}

    @property
    def patients(self) -> list[str]:
        """The real patients this model was trained on (its last run only)."""
        patients = self.card.training.get("patients", []) if self.card else []
        return [str(p) for p in patients] if isinstance(patients, list) else []


def validate_model_name(name: str) -> str:
    """``name`` when it can name a registered model; a ModelError saying what is wrong otherwise."""
    where = models_dir()
    if name.strip().lower() == BUNDLED:
        raise ModelError(where, f"“{BUNDLED}” is the model shipped with ctseg, never replaced: choose another name")
    if not _NAME.fullmatch(name):
        raise ModelError(
            where,
            f"invalid model name {name!r}: up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    if name.lower().endswith(MODEL_SUFFIX) or name.lower().endswith(".card.json"):
        raise ModelError(where, f"invalid model name {name!r}: give the name without a file suffix")
    return name


def _entry(name: str, path: Path, bundled: bool = False) -> RegisteredModel:
    try:
        return RegisteredModel(name, path, read_card(path), bundled)
    except ModelError as error:
        return RegisteredModel(name, path, None, bundled, error.problem)


def list_models(folder: Path | None = None) -> list[RegisteredModel]:
    """The bundled model first, then the user's models sorted by name (hidden and partial files skipped)."""
    folder = folder if folder is not None else models_dir()
    models = [_entry(BUNDLED, default_model_path(), bundled=True)]
    if folder.is_dir():
        for path in sorted(folder.glob(f"*{MODEL_SUFFIX}"), key=lambda p: p.name.lower()):
            name = path.name[: -len(MODEL_SUFFIX)]
            if path.is_file() and not name.startswith(".") and name.lower() != BUNDLED:
                models.append(_entry(name, path))
    return models


def model_names(folder: Path | None = None) -> list[str]:
    return [m.name for m in list_models(folder)]


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.lower().endswith(MODEL_SUFFIX) or text.startswith("~")


def resolve_model(name_or_path: str | Path | None, folder: Path | None = None) -> Path:
    """The model file a name or a path stands for: None and ``bundled`` are the bundled model.

    A ``Path``, or text that looks like one (holds a ``/`` or ends in ``.keras``), is taken as a file
    as given (``Segmenter.load`` reports a missing one); other text is a registered name, and an
    unknown name is a ModelError listing the known ones.
    """
    if name_or_path is None:
        return default_model_path()
    if isinstance(name_or_path, Path):
        return name_or_path.expanduser()
    text = str(name_or_path)
    if text.lower() == BUNDLED:
        return default_model_path()
    if _looks_like_path(text):
        return Path(text).expanduser()
    folder = folder if folder is not None else models_dir()
    candidate = folder / f"{text}{MODEL_SUFFIX}"
    if _NAME.fullmatch(text) and candidate.is_file():
        return candidate
    if Path(text).is_file():  # a model file in the working folder, named without a suffix
        return Path(text)
    known = ", ".join(model_names(folder))
    raise ModelError(Path(text), f"no model of that name (known models: {known}; the user's models are in {folder})")


def registered_path(name: str, folder: Path | None = None) -> Path:
    """Where a model registered as ``name`` lives (whether or not it exists yet)."""
    return (folder if folder is not None else models_dir()) / f"{validate_model_name(name)}{MODEL_SUFFIX}"


def check_new_name(name: str, overwrite: bool = False, folder: Path | None = None) -> Path:
    """The destination for a new model ``name``; refused before any slow work when it is taken."""
    destination = registered_path(name, folder)
    bundled = default_model_path()
    if destination.resolve() == bundled.resolve():
        raise ModelError(destination, "is the bundled model's own file: it is never replaced")
    if destination.exists() and not overwrite:
        raise OutputExistsError(destination, f"a model named “{name}” exists already: choose another name")
    check_writable_folder(destination.parent)
    return destination


def check_writable_folder(folder: Path) -> None:
    """Refuse a models folder that cannot be written (read-only, a file in the way) before any slow work:
    a registration after hours of training must not be the first to find out. Created when missing."""
    import tempfile

    from ctseg_core.io.atomic import output_error

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise output_error(folder, error) from error


def register_model(
    model_path: Path,
    name: str,
    overwrite: bool = False,
    folder: Path | None = None,
    lineage: dict[str, Any] | None = None,
) -> Path:
    """Copy a model file and its card into the models folder as ``name``; the registered path.

    ``lineage`` entries are merged into the copy's ``training.lineage`` (the source card is left
    alone), and ``added_patients`` is filled in from the base's patients when the card has a lineage
    without it. The card is replaced first and then the model, each atomically: an interrupted
    registration leaves at most a card no listing shows, never a half-written model file.
    """
    model_path = Path(model_path)
    destination = check_new_name(name, overwrite, folder)
    card = read_card(model_path)
    if lineage or card.training.get("lineage"):
        merged = dict(card.training.get("lineage") or {})
        merged.update(lineage or {})
        if "added_patients" not in merged and "base_patients" in merged:
            base = set(merged.get("base_patients") or [])
            merged["added_patients"] = [p for p in card.training.get("patients", []) if p not in base]
        card.training = {**card.training, "lineage": merged}
    from ctseg_core.io.atomic import atomic_path

    with atomic_path(destination, suffix=MODEL_SUFFIX) as temporary:
        shutil.copyfile(model_path, temporary)
        write_card(card, destination)
    copy_graph(model_path, destination)
    assert card_path(destination).is_file()
    return destination
