"""Ctrl+S never replaces ground truth, in any format (issue 26, defect 1): a NIfTI the loader reads
as the patient's liver, or a DICOM SEG another tool wrote, loaded with File ▸ Load label, edited and
saved with Ctrl+S, is kept; the prompt says it is the ground truth and offers to save elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.annotate.labels import LabelFormat, SaveTarget, save_label
from ctseg_core.errors import GroundTruthProtectedError
from ctseg_core.io.loading import load_patient
from ctseg_core.io.nifti import write_nifti_mask
from ctseg_core.io.seg import write_dicom_seg
from ctseg_gui.main_window import MainWindow
from gui.commands.test_label_files import _edit, _load
from gui.conftest import OpenIn

Button = QMessageBox.StandardButton


def _foreign_nifti(path: Path, mask: np.ndarray, patient: object) -> None:
    """A label as another tool writes it: ctseg's grid, without ctseg's header description."""
    write_nifti_mask(mask, patient, path)  # type: ignore[arg-type]
    image = nib.load(str(path))
    header = image.header.copy()
    header["descrip"] = b"ITK-SNAP"
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), image.affine, header), str(path))


def _foreign_seg(path: Path, mask: np.ndarray, patient: object) -> None:
    write_dicom_seg(mask, patient, path, name="liver")  # type: ignore[arg-type]
    ds = pydicom.dcmread(str(path))
    ds.Manufacturer = "Other Vendor"
    ds.save_as(str(path))


@pytest.fixture
def dicom_patient(small_phantom: Path, tmp_path: Path) -> Path:
    """A plain DICOM folder (not IRCAD), where a NIfTI beside the series is a mask of the patient."""
    folder = tmp_path / "patient"
    shutil.copytree(small_phantom / "PATIENT_DICOM", folder)
    return folder


@pytest.mark.parametrize("name", ["segmentation.nii.gz", "liver.nii.gz", "liver.dcm"])
def test_ctrl_s_on_a_loaded_ground_truth_asks_and_keeps_it(
    qtbot: QtBot,
    window: MainWindow,
    open_in: OpenIn,
    dicom_patient: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    patient = load_patient(dicom_patient, masks=None)
    truth = dicom_patient / name
    mask = np.zeros(patient.shape, dtype=bool)
    mask[4:8, 200:300, 200:300] = True
    (_foreign_seg if name.endswith(".dcm") else _foreign_nifti)(truth, mask, patient)
    before = truth.read_bytes()
    open_in(window, dicom_patient)
    _load(qtbot, window, truth)
    _edit(window)
    prompts: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text, *a: prompts.append((title, text)) or Button.Cancel
    )
    asked: list[int] = []
    monkeypatch.setattr(window.label_files, "ask_save_target", lambda: asked.append(1))
    window.annotator.actions.save.trigger()
    qtbot.wait(200)
    assert not window.label_files.runner.running("save")
    assert truth.read_bytes() == before and window.editor.is_modified
    assert prompts and "GROUND TRUTH" in prompts[-1][1] and str(truth) in prompts[-1][1], prompts
    assert asked == []  # Cancel: nothing asked, nothing written
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: Button.Save)
    window.annotator.actions.save.trigger()
    assert asked == [1] and truth.read_bytes() == before  # Save: "save elsewhere", the dialog opens


def test_save_label_refuses_a_nifti_ground_truth_without_consent(dicom_patient: Path) -> None:
    patient = load_patient(dicom_patient, masks=None)
    mask = np.zeros(patient.shape, dtype=bool)
    truth = dicom_patient / "segmentation.nii.gz"
    _foreign_nifti(truth, mask, patient)
    patient = load_patient(dicom_patient)
    target = SaveTarget(LabelFormat.NIFTI, truth, "liver")
    assert target.ground_truth_replaced(patient) is not None
    with pytest.raises(GroundTruthProtectedError, match="ground truth 'liver'"):
        save_label(~mask, patient, target)
    save_label(~mask, patient, target, replace_ground_truth=True)  # asked for: replaced
    # ctseg's own label is not ground truth: saved again without asking
    assert target.ground_truth_replaced(patient) is None
    save_label(mask, patient, target)
