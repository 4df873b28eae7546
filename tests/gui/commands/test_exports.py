"""File ▸ Export: mesh files of a mask (read back with trimesh), a view and the window as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PySide6.QtCore import QEvent
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from scipy import ndimage

from ctseg_core.display.planes import Plane
from ctseg_core.metrics import score_masks, volume_ml
from ctseg_gui.commands import exports
from ctseg_gui.main_window import MainWindow


def _exports(window: MainWindow) -> exports.Exports:
    """The File ▸ Export commands the menus built on the window."""
    assert window.menus.exports is not None
    return window.menus.exports


class Answers:
    """What the patched dialogs answer: the mask chosen and the file name typed, and what they were asked."""

    def __init__(self) -> None:
        self.mask = "Prediction"
        self.path = ""
        self.filter = ""
        self.asked: list[str] = []


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Answers:
    answers = Answers()

    def get_item(parent: object, title: str, label: str, items: list[str], *args: object) -> tuple[str, bool]:
        answers.asked.append(f"{title}: {', '.join(items)}")
        return answers.mask, True

    def get_save_file_name(parent: object, title: str, suggested: str, filters: str) -> tuple[str, str]:
        answers.asked.append(f"{title} [{Path(suggested).name}] {filters}")
        return answers.path, answers.filter

    monkeypatch.setattr(exports.QInputDialog, "getItem", get_item)
    monkeypatch.setattr(exports.QFileDialog, "getSaveFileName", get_save_file_name)
    return answers


@pytest.fixture
def with_prediction(opened: MainWindow) -> MainWindow:
    """The small phantom with a "prediction": its liver dilated by 3 voxels (bigger, so told apart)."""
    state = opened.state
    prediction = ndimage.binary_dilation(state.gt, iterations=3)
    state.set_prediction(prediction, score_masks(state.gt, prediction, state.patient.spacing_mm))
    return opened


@pytest.mark.parametrize("suffix", [".stl", ".obj", ".ply"])
def test_export_mesh_writes_the_chosen_mask_in_each_format(
    with_prediction: MainWindow, answers: Answers, tmp_path: Path, qtbot: QtBot, suffix: str
) -> None:
    window, state = with_prediction, with_prediction.state
    out = tmp_path / "out"
    out.mkdir()
    answers.path = str(out / f"liver{suffix}")
    with qtbot.waitSignal(_exports(window).exported, timeout=60_000) as written:
        _exports(window).mesh_action.trigger()
    assert written.args[0] == Path(answers.path)
    assert "Ground truth, Prediction" in answers.asked[0]
    mesh = trimesh.load(answers.path, force="mesh")
    assert mesh.is_watertight
    expected = volume_ml(state.prediction, state.patient.spacing_mm)
    assert mesh.volume / 1000 == pytest.approx(expected, rel=0.03)  # the prediction, not the smaller GT
    assert abs(mesh.volume / 1000 - volume_ml(state.gt, state.patient.spacing_mm)) > 0.05 * expected
    head = Path(answers.path).read_bytes()[:200]
    assert b"SPACE=LPS" in head  # 3D Slicer places it on the CT
    assert [p.name for p in out.iterdir()] == [f"liver{suffix}"]  # written atomically: no temporary left


def test_the_chosen_format_adds_its_suffix(
    with_prediction: MainWindow, answers: Answers, tmp_path: Path, qtbot: QtBot
) -> None:
    answers.mask, answers.path, answers.filter = "Ground truth", str(tmp_path / "gt"), exports.MESH_FILTERS[".ply"]
    with qtbot.waitSignal(_exports(with_prediction).exported, timeout=60_000) as written:
        _exports(with_prediction).export_mesh()
    assert written.args[0] == tmp_path / "gt.ply"
    state = with_prediction.state
    mesh = trimesh.load(written.args[0], force="mesh")
    assert mesh.volume / 1000 == pytest.approx(volume_ml(state.gt, state.patient.spacing_mm), rel=0.03)


def test_a_mesh_that_cannot_be_written_is_reported_naming_the_file(
    with_prediction: MainWindow, answers: Answers, tmp_path: Path, qtbot: QtBot, dialogs: list
) -> None:
    (tmp_path / "a file").write_text("not a folder")
    answers.path = str(tmp_path / "a file" / "liver.stl")  # (missing folders are made; tests run as root)
    with qtbot.waitSignal(with_prediction.errorReported, timeout=60_000) as reported:
        _exports(with_prediction).export_mesh()
    assert answers.path in reported.args[0]
    assert dialogs and dialogs[-1][0] == "Export mesh" and answers.path in dialogs[-1][1]


def test_cancelling_the_file_dialog_writes_nothing(
    with_prediction: MainWindow, answers: Answers, tmp_path: Path, qtbot: QtBot
) -> None:
    answers.path = ""
    _exports(with_prediction).export_mesh()
    qtbot.wait(200)
    assert not with_prediction.runner.running(exports.MESH_JOB) and not list(tmp_path.glob("*.stl"))


def _image(path: Path) -> QImage:
    image = QImage(str(path))
    assert not image.isNull(), path
    return image


def test_save_view_saves_the_view_under_the_pointer(
    opened: MainWindow, answers: Answers, tmp_path: Path, qtbot: QtBot
) -> None:
    opened.set_layout("1x3")
    qtbot.wait(50)
    coronal = opened.plane_layout.view(Plane.CORONAL)
    QApplication.sendEvent(coronal.viewport(), QEvent(QEvent.Type.Enter))  # the pointer goes over it
    answers.path = str(tmp_path / "coronal")  # no suffix: .png is added
    with qtbot.waitSignal(_exports(opened).exported, timeout=5_000) as written:
        _exports(opened).view_action.trigger()
    assert written.args[0] == tmp_path / "coronal.png"
    assert "coronal" in answers.asked[-1]
    image = _image(written.args[0])
    ratio = coronal.devicePixelRatioF()
    assert (image.width(), image.height()) == (round(coronal.width() * ratio), round(coronal.height() * ratio))
    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)  # kept alive: constBits() points into it
    pixels = np.frombuffer(grey.constBits(), np.uint8, count=grey.bytesPerLine() * grey.height()).copy()
    assert pixels.std() > 10  # the CT is in it, not a blank grab
    axial = opened.plane_layout.view(Plane.AXIAL)
    QApplication.sendEvent(axial.viewport(), QEvent(QEvent.Type.Enter))
    assert _exports(opened).current_view() is axial


def test_save_window_saves_the_whole_window(opened: MainWindow, answers: Answers, tmp_path: Path, qtbot: QtBot) -> None:
    answers.path = str(tmp_path / "window.png")
    with qtbot.waitSignal(_exports(opened).exported, timeout=5_000):
        _exports(opened).window_action.trigger()
    image = _image(tmp_path / "window.png")
    ratio = opened.devicePixelRatioF()
    assert (image.width(), image.height()) == (round(opened.width() * ratio), round(opened.height() * ratio))


def test_a_png_that_cannot_be_written_is_reported_naming_the_file(
    opened: MainWindow, answers: Answers, tmp_path: Path, dialogs: list
) -> None:
    (tmp_path / "a file").write_text("not a folder")
    answers.path = str(tmp_path / "a file" / "window.png")
    _exports(opened).save_window()
    assert dialogs and dialogs[-1][0] == "Save the window as PNG" and answers.path in dialogs[-1][1]
    assert (tmp_path / "a file").read_text() == "not a folder"
