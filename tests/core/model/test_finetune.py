"""Fine-tuning on the user's saved labels: which label is truth, the hold-out rule, lineage, cancel."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctseg_core.errors import Cancelled, OutputExistsError
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import write_ircad_mask
from ctseg_core.io.nifti import write_nifti_mask
from ctseg_core.io.segments import organ_key
from ctseg_core.model.card import read_card
from ctseg_core.model.finetune import (
    TrainingPatient,
    collect_training_patients,
    fine_tune,
    hold_out,
    saved_label,
)
from ctseg_core.model.preprocessing import InputSpec
from ctseg_core.model.registry import list_models
from ctseg_core.model.training_data import load_cached


@pytest.fixture
def patients(tiny_patients: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny phantoms (labels get saved into it)."""
    root = tmp_path / "patients"
    shutil.copytree(tiny_patients, root)
    return root


def _corrected(patient_dir: Path) -> np.ndarray:
    """A 'correction' that differs visibly from the ground truth: its liver minus the left half."""
    patient = load_patient(patient_dir, masks=["liver"])
    label = patient.masks["liver"].copy()
    label[..., : label.shape[2] // 2] = False
    return label


@pytest.mark.slow
def test_saved_labels_are_truth_ground_truth_and_model_output_are_not(patients: Path) -> None:
    p0, p1, p2 = patients / "p0", patients / "p1", patients / "p2"
    patient = load_patient(p0, masks=["liver"])
    assert saved_label(p0) is None  # the phantom's own MASKS_DICOM/liver is ground truth
    write_ircad_mask(_corrected(p0), patient, p0, "liver_pred")  # the model's output: never truth
    assert saved_label(p0) is None
    edited = write_ircad_mask(_corrected(p0), patient, p0, "liver_edited")
    assert saved_label(p0) == edited
    nifti = patients / "p1_liver.nii.gz"
    write_nifti_mask(_corrected(p1), load_patient(p1, masks=None), nifti)
    assert saved_label(p1) == nifti
    found, skipped = collect_training_patients([patients])
    assert [(p.name, p.label) for p in found] == [("p0", edited), ("p1", nifti), ("p2", None)]
    assert not skipped
    only_saved, skipped = collect_training_patients([patients], require_saved_label=True)
    assert [p.name for p in only_saved] == ["p0", "p1"] and list(skipped) == [str(p2)]


def test_a_several_segment_save_trains_on_its_liver_folder(patients: Path) -> None:
    """A save of several segments writes the liver's folder first and the others after (newer): the
    liver's is the training truth, never ``tumour_edited`` or ``spleen_edited``."""
    p0 = patients / "p0"
    patient = load_patient(p0, masks=None)
    liver = write_ircad_mask(_corrected(p0), patient, p0, "liver_edited")
    for other in ("tumour_edited", "spleen_edited"):
        write_ircad_mask(_corrected(p0), patient, p0, other)
    assert saved_label(p0) == liver
    assert [organ_key(name) for name in ("tumour_edited", "liver_pred", "fixed")] == ["tumour", "liver", None]


def test_a_saved_label_replaces_the_ground_truth_in_training(patients: Path, tmp_path: Path) -> None:
    p0 = patients / "p0"
    label = _corrected(p0)
    saved = write_ircad_mask(label, load_patient(p0, masks=None), p0, "liver_edited")
    spec = InputSpec(size=32)
    truth = load_cached(p0, spec, tmp_path / "cache")
    corrected = load_cached(p0, spec, tmp_path / "cache", label=saved)
    assert corrected.liver.sum() < 0.75 * truth.liver.sum()  # the left half is gone
    assert np.array_equal(corrected.hu, truth.hu)


@pytest.mark.parametrize(("count", "held"), [(1, 0), (2, 1), (4, 1), (5, 1), (10, 2), (11, 2)])
def test_hold_out_rule(count: int, held: int) -> None:
    items = [TrainingPatient(Path(f"/data/p{i:02d}")) for i in range(count)]
    train, val = hold_out(items)
    assert len(val) == held and len(train) == count - held
    assert not {p.name for p in train} & {p.name for p in val}
    assert hold_out(list(reversed(items))) == (train, val)  # independent of the order given


def test_a_patient_whose_label_is_on_another_grid_is_left_out_and_the_run_goes_on(
    patients: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """Defect 25's sibling in fine-tuning: one unreadable label is reported, never the end of the run."""
    small = _small_patient(tmp_path / "small")
    write_nifti_mask(np.zeros(small.shape, bool), small, patients / "p0_liver.nii.gz")  # p0's label: another grid
    found, _ = collect_training_patients([patients])
    train, held = hold_out(found)
    assert "p0" in [p.name for p in train] and len(train) == 2  # the rule holds p0 in training
    result = fine_tune(
        found,
        tiny_model,
        "tuned",
        epochs=1,
        steps_per_epoch=1,
        batch_size=4,
        cache_dir=tmp_path / "cache",
        models_folder=tmp_path / "models",
    )
    assert result.model_path.is_file()
    assert list(result.left_out) == ["p0"] and "grid" in result.left_out["p0"]
    assert "p0" not in result.trained_on and len(result.trained_on) == 1
    assert result.held_out == [p.name for p in held]


def test_fine_tune_registers_a_model_with_its_lineage(patients: Path, tiny_model: Path, tmp_path: Path) -> None:
    write_ircad_mask(
        _corrected(patients / "p0"), load_patient(patients / "p0", masks=None), patients / "p0", "liver_edited"
    )
    found, _ = collect_training_patients([patients])
    seen: list[tuple[int, int, str]] = []
    models = tmp_path / "models"
    result = fine_tune(
        found,
        tiny_model,
        "tuned",
        epochs=2,
        progress=lambda d, t, s: seen.append((d, t, s)),
        steps_per_epoch=2,
        batch_size=4,
        cache_dir=tmp_path / "cache",
        models_folder=models,
    )
    assert result.model_path == models / "tuned.keras" and result.model_path.is_file()
    assert len(result.held_out) == 1 and len(result.trained_on) == 2
    assert set(result.dice_before) == set(result.dice_after) == set(result.held_out)
    assert all(v is not None and 0.0 <= v <= 1.0 for v in [*result.dice_before.values(), *result.dice_after.values()])
    assert [(d, t) for d, t, s in seen if s == "training"] == [(0, 2), (1, 2), (2, 2)]
    card = read_card(result.model_path)
    lineage = card.training["lineage"]
    assert lineage["base_model"] == str(tiny_model)
    assert lineage["base_patients"] == ["p0", "p1", "p2"]  # the tiny model saw every phantom
    assert lineage["added_patients"] == []
    assert lineage["held_out"] == result.held_out
    assert lineage["validation_dice_before"]["mean"] == pytest.approx(result.mean_before)
    assert lineage["validation_dice_after"]["per_patient"] == result.dice_after
    assert card.training["patients"] == result.trained_on
    if "p0" in result.trained_on:
        assert card.training["labels"]["p0"].endswith("liver_edited")
    assert card.input == read_card(tiny_model).input
    assert [m.name for m in list_models(models)] == ["bundled", "tuned"]
    with pytest.raises(OutputExistsError):  # refused before any training
        fine_tune(found, tiny_model, "tuned", epochs=1, steps_per_epoch=1, models_folder=models)


def test_cancel_stops_training_and_registers_nothing(patients: Path, tiny_model: Path, tmp_path: Path) -> None:
    found, _ = collect_training_patients([patients])
    stages: list[str] = []

    def cancel_once_training() -> bool:
        return "training" in stages

    with pytest.raises(Cancelled):
        fine_tune(
            found,
            tiny_model,
            "never",
            epochs=2,
            progress=lambda d, t, s: stages.append(s),
            should_cancel=cancel_once_training,
            steps_per_epoch=2,
            batch_size=4,
            cache_dir=tmp_path / "cache",
            models_folder=tmp_path / "models",
        )
    assert "measuring the new model" not in stages
    assert not (tmp_path / "models" / "never.keras").exists()


def _small_patient(folder: Path) -> Any:
    """A 3 × 4 × 5 phantom-free CT, for a label on the wrong grid."""
    import nibabel as nib

    folder.mkdir(parents=True)
    nib.save(nib.Nifti1Image(np.full((5, 4, 3), -1000, np.int16), np.eye(4)), str(folder / "ct.nii.gz"))
    return load_patient(folder / "ct.nii.gz", masks=None)
