"""Model cards: the card of exactly this model, every field checked, clear errors before TensorFlow.

None of these tests imports TensorFlow: every check runs before it (a card or a thread count
that is wrong is reported in milliseconds, not after a 3 s import).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ctseg_core import errors
from ctseg_core.model.card import ModelCard, card_path, read_card, write_card
from ctseg_core.model.inference import Segmenter, default_model_path
from ctseg_core.model.preprocessing import InputSpec
from ctseg_core.model.tf_runtime import check_threads, import_tensorflow

BUNDLED_CARD = json.loads(card_path(default_model_path()).read_text())


def model_with_card(folder: Path, name: str, card: dict[str, Any] | str, model_bytes: bytes | None = None) -> Path:
    """A model file ``name`` (a copy of the bundled one unless ``model_bytes``) with ``card`` beside it."""
    model = folder / name
    if model_bytes is None:
        shutil.copy(default_model_path(), model)
    else:
        model.write_bytes(model_bytes)
    card_path(model).write_text(card if isinstance(card, str) else json.dumps(card))
    return model


@pytest.mark.parametrize(
    ("model", "card"),
    [
        ("liver_unet.keras", "liver_unet.card.json"),
        ("liver_unet.v2.keras", "liver_unet.v2.card.json"),
        ("run.2024-05-01.best.keras", "run.2024-05-01.best.card.json"),
        ("model.h5", "model.card.json"),
    ],
)
def test_the_card_of_a_model_strips_only_the_last_suffix(model: str, card: str) -> None:
    assert card_path(Path("/m") / model) == Path("/m") / card


def test_a_dotted_model_never_uses_another_models_card(tmp_path: Path) -> None:
    """Before: liver_unet.v2.keras silently read liver_unet.card.json (the older model's Dice)."""
    old = copy.deepcopy(BUNDLED_CARD)
    old["validation"] = {"mean_dice": 0.548}
    model_with_card(tmp_path, "liver_unet.keras", old)
    v2 = tmp_path / "liver_unet.v2.keras"
    shutil.copy(default_model_path(), v2)
    with pytest.raises(errors.ModelError) as caught:
        read_card(v2)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'liver_unet.v2.card.json'}: model card missing")
    assert "liver_unet.card.json is another model's card and is not used" in message
    new = copy.deepcopy(BUNDLED_CARD)
    new["validation"] = {"mean_dice": 0.969}
    card_path(v2).write_text(json.dumps(new))
    assert read_card(v2).validation == {"mean_dice": 0.969}
    assert read_card(tmp_path / "liver_unet.keras").validation == {"mean_dice": 0.548}


def _set(card: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    card = copy.deepcopy(card)
    *parents, last = dotted.split(".")
    target = card
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return card


_DELETE = object()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("input.size", "160", "field 'input.size' must be a whole number from 16 to 4096 (pixels), got \"160\""),
        ("input.size", None, "field 'input.size' must be a whole number from 16 to 4096 (pixels), got null"),
        ("input.size", -160, "field 'input.size' must be a whole number from 16 to 4096 (pixels), got -160"),
        ("input.size", 160.5, "field 'input.size' must be a whole number"),
        ("input.size", True, "field 'input.size' must be a whole number"),
        ("input.size", _DELETE, "field 'input.size' is missing"),
        ("input.context", -1, "field 'input.context' must be a whole number from 0 to 16"),
        ("input.hu_low", "-250", "field 'input.hu_low' must be a finite number (HU), got \"-250\""),
        ("input.hu_high", -300.0, "field 'input.hu_high' must be above input.hu_low (-250 HU), got -300.0"),
        ("input.gamma", 2, "field 'input.gamma' is not a known input field"),
        ("input", [160], "field 'input' must be an object"),
        ("input", _DELETE, "field 'input' is missing"),
        ("threshold", "0.5", "field 'threshold' must be a number between 0 and 1 (exclusive), got \"0.5\""),
        ("threshold", 1.5, "field 'threshold' must be a number between 0 and 1 (exclusive), got 1.5"),
        ("validation", [0.9], "field 'validation' must be an object, got [0.9]"),
        ("licence", None, "field 'licence' must be text, got null"),
    ],
)
def test_a_malformed_card_field_is_a_model_error_naming_the_card_and_the_field(
    tmp_path: Path, field: str, value: Any, expected: str
) -> None:
    model = model_with_card(tmp_path, "liver_unet.keras", _set(BUNDLED_CARD, field, value))
    with pytest.raises(errors.ModelError) as caught:
        Segmenter.load(model)
    message = str(caught.value)
    assert message.startswith(f"{card_path(model)}: model card is malformed: ")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{broken", "model card is malformed: not valid JSON"),
        ("[1, 2]", "model card is malformed: the top level must be a JSON object"),
        ('{"input": {"size": NaN, "hu_low": 0, "hu_high": 1, "context": 0}}', "field 'input.size'"),
    ],
)
def test_a_card_that_is_not_a_json_object_is_a_model_error(tmp_path: Path, text: str, expected: str) -> None:
    model = model_with_card(tmp_path, "m.keras", text)
    with pytest.raises(errors.ModelError, match=f"^{card_path(model)}: ") as caught:
        read_card(model)
    assert expected in str(caught.value)


def test_a_written_card_reads_back_equal(tmp_path: Path) -> None:
    card = ModelCard(
        InputSpec(size=96, hu_low=-100.0, hu_high=200.0, context=2), threshold=0.4, validation={"mean_dice": 0.9}
    )
    assert write_card(card, tmp_path / "net.v3.keras") == tmp_path / "net.v3.card.json"
    assert read_card(tmp_path / "net.v3.keras") == card


def test_a_corrupt_keras_file_is_named_and_never_called_file_not_found(tmp_path: Path) -> None:
    corrupt = model_with_card(tmp_path, "liver_unet.keras", BUNDLED_CARD, model_bytes=b"not a model at all")
    with pytest.raises(errors.ModelError) as caught:
        Segmenter.load(corrupt)
    message = str(caught.value)
    assert message.startswith(f"{corrupt}: model file is corrupt: not a readable Keras model")
    assert "not found" not in message.lower()


def test_a_keras_zip_without_its_config_is_corrupt(tmp_path: Path) -> None:
    import zipfile

    model = tmp_path / "empty.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("metadata.json", "{}")
    card_path(model).write_text(json.dumps(BUNDLED_CARD))
    with pytest.raises(errors.ModelError, match=f"^{model}: .*not a readable Keras model .the archive holds no config"):
        Segmenter.load(model)


def test_a_model_path_that_is_a_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "model.keras").mkdir()
    with pytest.raises(errors.ModelError, match=f"^{tmp_path / 'model.keras'}: is a folder, not a model file$"):
        Segmenter.load(tmp_path / "model.keras")


@pytest.mark.parametrize("threads", [-1, 0, True, 2.5, "4"])
def test_a_thread_count_below_one_is_refused_before_tensorflow_sees_it(threads: Any) -> None:
    """TensorFlow aborts the process (SIGABRT) on intra-op threads -1: it must never get there."""
    expected = f"threads must be a whole number ≥ 1 (or unset for all cores), got {threads!r}"
    with pytest.raises(errors.InvalidArgumentError) as caught:
        Segmenter.load(default_model_path(), threads=threads)
    assert str(caught.value) == expected
    with pytest.raises(errors.InvalidArgumentError, match="intra-op threads must be a whole number"):
        import_tensorflow(threads)
    assert check_threads(None) is None and check_threads(3) == 3
