"""The user's models folder: names resolve to files, registration copies atomically, bundled is never replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ctseg_core.errors import ModelError, OutputExistsError
from ctseg_core.model.card import ModelCard, card_path, read_card, write_card
from ctseg_core.model.inference import default_model_path
from ctseg_core.model.preprocessing import InputSpec
from ctseg_core.model.registry import (
    BUNDLED,
    list_models,
    models_dir,
    register_model,
    resolve_model,
    validate_model_name,
)


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    """A model-shaped file with a card whose lineage names a base; registration only copies bytes."""
    path = tmp_path / "out" / "liver_unet.keras"
    path.parent.mkdir()
    path.write_bytes(b"not really a zip, the registry never opens it")
    card = ModelCard(
        input=InputSpec(size=32),
        training={
            "patients": ["p0", "p1", "3Dircadb1.1"],
            "lineage": {"base_model": "/x/liver_unet.keras", "base_patients": ["3Dircadb1.1"]},
        },
    )
    write_card(card, path)
    return path


def test_models_folder_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(tmp_path / "m"))
    assert models_dir() == tmp_path / "m"
    monkeypatch.delenv("CTSEG_MODELS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert models_dir() == tmp_path / "data" / "ctseg" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert models_dir() == Path.home() / ".local" / "share" / "ctseg" / "models"


def test_bundled_is_listed_first_even_without_a_models_folder(models: Path) -> None:
    listed = list_models()
    assert [m.name for m in listed] == [BUNDLED]
    assert listed[0].bundled and listed[0].path == default_model_path()
    assert resolve_model(None) == resolve_model("bundled") == default_model_path()


def test_register_copies_model_and_card_and_fills_added_patients(models: Path, fake_model: Path) -> None:
    registered = register_model(fake_model, "my-liver", lineage={"validation_dice_before": {"mean": 0.8}})
    assert registered == models / "my-liver.keras"
    assert registered.read_bytes() == fake_model.read_bytes()
    lineage = read_card(registered).training["lineage"]
    assert lineage["added_patients"] == ["p0", "p1"]  # the base's own patient is not "added"
    assert lineage["validation_dice_before"] == {"mean": 0.8}
    assert "added_patients" not in read_card(fake_model).training["lineage"]  # the source card is left alone
    assert not [p for p in models.iterdir() if p.name.startswith(".")]  # no temporary left behind
    names = [m.name for m in list_models()]
    assert names == [BUNDLED, "my-liver"]
    assert list_models()[1].patients == ["p0", "p1", "3Dircadb1.1"]
    assert resolve_model("my-liver") == registered


def test_register_refuses_an_existing_name_unless_asked(models: Path, fake_model: Path) -> None:
    first = register_model(fake_model, "mine")
    with pytest.raises(OutputExistsError, match="exists already"):
        register_model(fake_model, "mine")
    fake_model.write_bytes(b"second version")
    assert register_model(fake_model, "mine", overwrite=True) == first
    assert first.read_bytes() == b"second version"


@pytest.mark.parametrize("name", ["bundled", "Bundled", " bundled "])
def test_bundled_cannot_be_registered_over(models: Path, fake_model: Path, name: str) -> None:
    before = default_model_path().read_bytes()[:64]
    with pytest.raises(ModelError, match="shipped with ctseg"):
        register_model(fake_model, name)
    assert default_model_path().read_bytes()[:64] == before


def test_the_bundled_file_is_never_replaced_even_when_the_folder_is_its_own(
    fake_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(default_model_path().parent))
    with pytest.raises(ModelError, match="bundled model's own file"):
        register_model(fake_model, default_model_path().stem, overwrite=True)


@pytest.mark.parametrize("name", ["", "a/b", "../up", ".hidden", "x.keras", "with space", "é"])
def test_invalid_names_are_refused(models: Path, name: str) -> None:
    with pytest.raises(ModelError):
        validate_model_name(name)


def test_unknown_name_lists_the_known_ones(models: Path, fake_model: Path) -> None:
    register_model(fake_model, "mine")
    with pytest.raises(ModelError, match="known models: bundled, mine"):
        resolve_model("yours")


def test_paths_are_taken_as_files(models: Path, tmp_path: Path) -> None:
    assert resolve_model(tmp_path / "a.keras") == tmp_path / "a.keras"
    assert resolve_model(str(tmp_path / "b.keras")) == tmp_path / "b.keras"
    assert resolve_model("c.keras") == Path("c.keras")  # missing: Segmenter.load says so


def test_listing_skips_partial_files_and_reports_a_broken_card(models: Path, fake_model: Path) -> None:
    register_model(fake_model, "good")
    (models / ".good.keras.abc.keras").write_bytes(b"a registration in progress")
    shutil.copyfile(fake_model, models / "nocard.keras")
    broken = models / "broken.keras"
    shutil.copyfile(fake_model, broken)
    card_path(broken).write_text(json.dumps({"input": "nonsense"}))
    listed = {m.name: m for m in list_models()}
    assert list(listed) == [BUNDLED, "broken", "good", "nocard"]
    assert listed["good"].problem is None and listed["good"].card is not None
    assert listed["nocard"].card is None and "missing" in (listed["nocard"].problem or "")
    assert listed["broken"].card is None and "malformed" in (listed["broken"].problem or "")
