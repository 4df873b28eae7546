"""Model ▸ Improve…: fine-tune on saved labels on a worker, register the model, pick it; Cancel stops it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import write_ircad_mask
from ctseg_core.model.card import read_card
from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.dialogs.improve_model import IMPROVE_JOB, ImproveModelDialog
from ctseg_gui.main_window import MainWindow

SHOTS = Path("/tmp/ctseg_improve_shots")


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained two-level U-Net whose card records its architecture (fine-tuning rebuilds it)."""
    pytest.importorskip("keras", reason="Keras/TensorFlow not installed")
    from ctseg_core.model.card import ModelCard, write_card
    from ctseg_core.model.preprocessing import InputSpec
    from ctseg_core.model.unet import UNetConfig, build_unet

    spec = InputSpec(size=32)
    unet = UNetConfig(input_size=32, channels=spec.channels, depth=2, base_filters=4)
    path = tmp_path_factory.mktemp("base") / "base.keras"
    build_unet(unet).save(str(path))
    write_card(ModelCard(input=spec, architecture=asdict(unet), training={"patients": ["seedA"]}), path)
    return path


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two small patients, each with a corrected label saved by ctseg (MASKS_DICOM/liver_edited)."""
    root = tmp_path_factory.mktemp("labelled")
    folders = []
    for seed in (31, 32):
        folder = write_phantom(root / f"case{seed}", seed=seed, slices=8, size=128)
        patient = load_patient(folder, masks=["liver"])
        write_ircad_mask(patient.masks["liver"], patient, folder, "liver_edited")
        folders.append(folder)
    return folders


@pytest.fixture
def improving(window: MainWindow, labelled: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    """The window with both patients recently opened, a private models folder, a tiny training run."""
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(tmp_path / "models"))
    window.segmentation_panel.model_picker.refresh()
    for folder in labelled:
        window.recent.add(str(folder))
    window.recent.add(str(tmp_path))  # not a patient: never offered
    options = {"steps_per_epoch": 2, "batch_size": 4, "cache_dir": tmp_path / "cache"}
    window.model_choice.improver.training_options = options
    return window


def _open_dialog(window: MainWindow, base_model: Path) -> ImproveModelDialog:
    window.segmentation_panel.model_picker.select_path(base_model)
    window.model_choice.improve_action.trigger()
    dialog = window.model_choice.improver.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_improve_registers_a_model_that_the_picker_offers_and_segment_uses(
    qtbot: QtBot, improving: MainWindow, base_model: Path, labelled: list[Path], tmp_path: Path
) -> None:
    window = improving
    dialog = _open_dialog(window, base_model)
    assert sorted(p.source for p in dialog.chosen_patients()) == sorted(labelled)
    assert all(p.label is not None and p.label.name == "liver_edited" for p in dialog.chosen_patients())
    assert dialog.base.current_path() == str(base_model)
    name = dialog.name.text()
    assert name == "my-liver-model"
    dialog.epochs.setValue(2)
    SHOTS.mkdir(exist_ok=True)
    dialog.grab().save(str(SHOTS / "dialog_ready.png"))
    epochs_seen: list[int] = []
    dialog.progress.valueChanged.connect(
        lambda v: epochs_seen.append(v) if "epochs" in dialog.progress.format() else None
    )
    with qtbot.waitSignal(dialog.registered, timeout=240_000) as registered:
        dialog.start_button.click()
        assert dialog.running and not dialog.start_button.isEnabled() and dialog.cancel_button.text() == "Cancel"
        qtbot.waitUntil(lambda: window.runner.running(IMPROVE_JOB), timeout=1000)
        assert window.isEnabled()  # the window is never blocked
    result = registered.args[0]
    path = tmp_path / "models" / f"{name}.keras"
    assert result.model_path == path and path.is_file()
    assert 2 in epochs_seen
    assert len(result.held_out) == 1 and "before" in dialog.status.text() and "after" in dialog.status.text()
    lineage = read_card(path).training["lineage"]
    assert lineage["base_model"] == str(base_model) and lineage["added_patients"] == result.trained_on
    assert set(lineage["validation_dice_before"]["per_patient"]) == set(result.held_out)
    picker = window.segmentation_panel.model_picker
    assert [picker.itemText(i) for i in range(picker.count())] == ["bundled", name, f"file: {base_model.name}"]
    assert picker.current_name() == name and window.segmentation.model_path == str(path)
    assert dialog.name.text() == "my-liver-model-2"  # the next run never replaces this one
    dialog.grab().save(str(SHOTS / "dialog_done.png"))
    window.segmentation_panel.grab().save(str(SHOTS / "picker.png"))


def test_cancel_stops_the_training_and_registers_nothing(
    qtbot: QtBot, improving: MainWindow, base_model: Path, tmp_path: Path
) -> None:
    window = improving
    dialog = _open_dialog(window, base_model)
    dialog.epochs.setValue(50)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "epochs" in dialog.progress.format(), timeout=120_000)
    dialog.grab().save(str(SHOTS / "dialog_training.png"))
    dialog.cancel_button.click()
    assert not dialog.running and "Cancelled" in dialog.status.text()
    assert dialog.start_button.isEnabled() and dialog.cancel_button.text() == "Close"
    qtbot.waitUntil(lambda: not window.runner._alive, timeout=60_000)  # the worker thread has stopped
    assert not (tmp_path / "models" / "my-liver-model.keras").exists()
    assert (
        next(
            window.segmentation_panel.model_picker.itemText(i)
            for i in range(window.segmentation_panel.model_picker.count())
        )
        == "bundled"
    )


def test_only_recent_patients_with_a_saved_label_are_offered(
    improving: MainWindow, labelled: list[Path], small_phantom: Path
) -> None:
    improving.recent.add(str(small_phantom))  # ground truth only, no saved label
    offered = {p.source for p in improving.model_choice.improver.default_patients()}
    assert offered == set(labelled)


def test_a_taken_or_reserved_name_disables_improve(qtbot: QtBot, improving: MainWindow, base_model: Path) -> None:
    dialog = _open_dialog(improving, base_model)
    dialog.name.setText("bundled")
    assert not dialog.start_button.isEnabled() and "shipped with ctseg" in dialog.name_problem.text()
    dialog.name.setText("fine-name")
    assert dialog.start_button.isEnabled() and not dialog.name_problem.isVisibleTo(dialog)


def test_view_model_by_name_selects_it_in_the_picker(
    qtbot: QtBot, base_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PySide6.QtCore import QSettings

    from ctseg_core.model.registry import register_model, resolve_model
    from ctseg_gui.cli import main

    monkeypatch.setenv("CTSEG_MODELS_DIR", str(tmp_path / "models"))
    registered = register_model(base_model, "mine")
    assert main(["view", "--model", "theirs"]) == 2  # refused before any window opens
    assert "known models: bundled, mine" in capsys.readouterr().err
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    viewer = MainWindow(settings=settings, model_path=str(resolve_model("mine")), preload_model=False)
    qtbot.addWidget(viewer)
    picker = viewer.segmentation_panel.model_picker
    assert picker.current_name() == "mine" and viewer.segmentation.model_path == str(registered)
    picker.setCurrentIndex(0)
    assert viewer.segmentation.model_path is None  # bundled


def test_the_summary_names_each_patient_left_out_and_why() -> None:
    from ctseg_core.model.finetune import FineTuneResult
    from ctseg_gui.dialogs.improve_model import summary

    result = FineTuneResult(
        "tuned",
        Path("tuned.keras"),
        Path("base.keras"),
        ["p1"],
        [],
        left_out={"p0": "p0_liver.nii.gz: label grid is rotated or scaled relative to the CT grid"},
    )
    assert "Left out p0: p0_liver.nii.gz: label grid is rotated" in summary(result)
