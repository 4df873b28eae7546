"""File ▸ Load label of a file of several named segments opens them all in the segment table: a DICOM
SEG built by highdicom and a ``.seg.nrrd`` written by slicerio (not by ctseg), with their names,
colours and values; undo, autosave and Save carry them (Save as NIfTI read back by nibabel and its
``.txt``). Empty with several segments clears the active one and says which; removing the liver
segment asks first. A screenshot of a loaded three-segment SEG (``CTSEG_SCREENSHOT`` keeps it)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ctseg_core.annotate.labels import LabelFormat, SaveTarget
from ctseg_core.annotate.recovery import find_recovery
from ctseg_core.io.masks import load_mask
from ctseg_core.io.patient import Patient
from ctseg_gui.main_window import MainWindow
from ctseg_gui.panels.segments import NAME
from gui.annotating import drag, key, zoom_on
from gui.conftest import Questions

#: The three segments the files hold: (name, value, colour); the tumour lies inside the liver.
SEGMENTS = (("Liver", 1, (221, 130, 101)), ("Tumour", 2, (230, 220, 70)), ("Spleen", 3, (157, 108, 162)))


def _truth(window: MainWindow) -> dict[str, np.ndarray]:
    """The phantom's organs on the canonical grid, each voxel in one segment (a tumour is not liver)."""
    patient = window.state.patient
    assert patient is not None
    liver, tumour, spleen = (load_mask(patient, n) for n in ("liver", "livertumor", "spleen"))
    return {"Liver": liver & ~tumour, "Tumour": tumour, "Spleen": spleen & ~liver & ~tumour}


def _highdicom_seg(phantom: Path, out: Path) -> Path:
    """A BINARY SEG built by highdicom over the phantom's CT files, its frames from IRCAD's mask files."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    names = sorted((p.name for p in (phantom / "PATIENT_DICOM").iterdir()), key=lambda n: int(n.split("_")[1]))
    sources = [pydicom.dcmread(phantom / "PATIENT_DICOM" / n) for n in names]
    for ds in sources:  # type 2 attributes highdicom copies, which the phantom leaves out
        for keyword in ("PatientBirthDate", "PatientSex", "StudyID", "AccessionNumber", "ReferringPhysicianName"):
            setattr(ds, keyword, ds.get(keyword, ""))

    def organ(folder: str, n: str) -> np.ndarray:
        return pydicom.dcmread(phantom / "MASKS_DICOM" / folder / n).pixel_array > 0

    frames = [
        np.stack([organ("liver", n) & ~organ("livertumor", n) for n in names]),
        np.stack([organ("livertumor", n) for n in names]),
        np.stack([organ("spleen", n) & ~organ("liver", n) for n in names]),
    ]
    kinds = (codes.SCT.Liver, codes.SCT.Neoplasm, codes.SCT.Spleen)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=value,
            segment_label=name,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=kind,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=hd.color.CIELabColor.from_rgb(*rgb),
        )
        for (name, value, rgb), kind in zip(SEGMENTS, kinds, strict=True)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.stack(frames, axis=-1),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=20,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="another tool",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(out)
    return out


def _slicer_seg_nrrd(patient: Patient, truth: dict[str, np.ndarray], out: Path) -> Path:
    """A ``.seg.nrrd`` written by slicerio in Slicer's convention: voxels [i, j, k] = [x, y, z], LPS."""
    import slicerio

    labels = np.zeros(patient.shape, np.uint8)
    for name, value, _ in SEGMENTS:
        labels[truth[name]] = value
    segments = [
        {"id": f"Segment_{value}", "name": name, "labelValue": value, "color": [c / 255 for c in rgb], "layer": 0}
        for name, value, rgb in SEGMENTS
    ]
    slicerio.write_segmentation(
        str(out),
        {
            "voxels": np.ascontiguousarray(labels.transpose(2, 1, 0)),
            "ijkToLPS": patient.geometry.affine_lps(),
            "encoding": "gzip",
            "segments": segments,
        },
    )
    return out


def _load(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.label_files.labelLoaded, timeout=30_000):
        window.label_files.load_label_from(path)


def _table(window: MainWindow) -> list[tuple[str, int, tuple[int, int, int]]]:
    panel = window.segments_panel
    rows = panel.rows()
    assert [panel.table.item(i, NAME).text() for i in range(panel.table.rowCount())] == [r.name for r in rows]
    return [(r.name, r.value, r.color) for r in rows]


def _close(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) <= 2 for x, y in zip(a, b, strict=True))  # CIELab rounding


@pytest.mark.parametrize("kind", ["seg", "seg.nrrd"])
def test_load_label_opens_every_segment_and_save_as_nifti_carries_them(
    kind: str, qtbot: QtBot, opened: MainWindow, small_phantom: Path, tmp_path: Path
) -> None:
    import nibabel as nib

    truth = _truth(opened)
    patient = opened.state.patient
    assert patient is not None
    if kind == "seg":
        path = _highdicom_seg(small_phantom, tmp_path / "three.dcm")
    else:
        path = _slicer_seg_nrrd(patient, truth, tmp_path / "three.seg.nrrd")
    _load(qtbot, opened, path)

    editor = opened.editor
    table = _table(opened)
    assert [(n, v) for n, v, _ in table] == [(n, v) for n, v, _ in SEGMENTS]
    assert all(_close(c, rgb) for (_, _, c), (_, _, rgb) in zip(table, SEGMENTS, strict=True))
    for name, value, _ in SEGMENTS:
        assert truth[name].any() and np.array_equal(editor.segments.masks[value], truth[name]), name
    assert not editor.is_modified and editor.segments.active == 1
    assert opened.label_files.last_target == SaveTarget(
        LabelFormat.DICOM_SEG if kind == "seg" else LabelFormat.SEG_NRRD,
        path,
        "Liver",
        segments=("Liver", "Tumour", "Spleen"),
    )

    nifti = tmp_path / "saved.nii.gz"
    with qtbot.waitSignal(opened.label_files.saved, timeout=30_000):
        assert opened.label_files.save_to(SaveTarget(LabelFormat.NIFTI, nifti, "saved"))
    values = np.asarray(nib.load(str(nifti)).dataobj)
    counts = {int(v): int(n) for v, n in zip(*np.unique(values, return_counts=True), strict=True)}
    assert counts == {0: values.size - sum(int(m.sum()) for m in truth.values())} | {
        value: int(truth[name].sum()) for name, value, _ in SEGMENTS
    }
    description = (tmp_path / "saved.txt").read_text().splitlines()
    for name, value, _ in SEGMENTS:
        assert any(line.split()[0] == str(value) and line.endswith(f'"{name}"') for line in description), name


def test_undo_and_the_autosave_carry_the_loaded_segments(
    qtbot: QtBot, opened: MainWindow, small_phantom: Path, tmp_path: Path
) -> None:
    _load(qtbot, opened, _highdicom_seg(small_phantom, tmp_path / "three.dcm"))
    editor = opened.editor
    editor.set_active_segment(3)
    before = editor.segments.masks[3].copy()
    zoom_on(opened, 100, 100)
    key(opened, "B")
    drag(opened, [(95, 100), (105, 100)])
    assert editor.is_modified and not np.array_equal(editor.segments.masks[3], before)
    with qtbot.waitSignal(opened.autosaver.autosaved, timeout=10_000):
        assert opened.autosaver.autosave()
    patient = opened.state.patient
    info = find_recovery(patient) if patient is not None else None
    assert info is not None and [s.name for s in info.segments] == ["Liver", "Tumour", "Spleen"]
    key(opened, "Ctrl+Z")
    assert np.array_equal(editor.segments.masks[3], before) and editor.segments.names == ["Liver", "Tumour", "Spleen"]


def test_loading_several_segments_over_unsaved_edits_asks_first(
    qtbot: QtBot, opened: MainWindow, questions: Questions, small_phantom: Path, tmp_path: Path
) -> None:
    opened.annotator.start_from_ground_truth()
    zoom_on(opened, 100, 100)
    key(opened, "B")
    drag(opened, [(95, 100), (105, 100)])
    questions.answers["Unsaved label"] = QMessageBox.StandardButton.Cancel
    path = _highdicom_seg(small_phantom, tmp_path / "three.dcm")
    with qtbot.waitSignal(opened.runner.changed, timeout=30_000):
        opened.label_files.load_label_from(path)
    qtbot.waitUntil(lambda: not opened.runner.running("label"), timeout=30_000)
    assert "Unsaved label" in questions.titles() and opened.editor.segments.names == ["liver"]
    questions.answers["Unsaved label"] = QMessageBox.StandardButton.Discard
    _load(qtbot, opened, path)
    assert opened.editor.segments.names == ["Liver", "Tumour", "Spleen"]


def test_empty_clears_the_active_segment_only_and_says_which(
    qtbot: QtBot, opened: MainWindow, small_phantom: Path, tmp_path: Path
) -> None:
    _load(qtbot, opened, _highdicom_seg(small_phantom, tmp_path / "three.dcm"))
    editor, empty = opened.editor, opened.edit_actions.new_empty
    editor.set_active_segment(2)
    assert empty.text() == "Empty “Tumour”" and "only" in empty.toolTip()
    kept = {v: editor.segments.masks[v].copy() for v in (1, 3)}
    empty.trigger()
    assert not editor.segments.masks[2].any()
    assert all(np.array_equal(editor.segments.masks[v], m) for v, m in kept.items())
    assert "Emptied the segment “Tumour” only" in opened.statusBar().currentMessage()
    key(opened, "Ctrl+Z")
    assert editor.segments.masks[2].any()


def test_removing_the_liver_segment_asks_first(
    qtbot: QtBot, opened: MainWindow, questions: Questions, small_phantom: Path, tmp_path: Path
) -> None:
    _load(qtbot, opened, _highdicom_seg(small_phantom, tmp_path / "three.dcm"))
    editor, commands = opened.editor, opened.segment_commands
    assert editor.segments.primary() is editor.segments.rows[0]  # "Liver": the prediction goes there
    questions.answers["Remove the liver segment?"] = QMessageBox.StandardButton.No
    commands.remove_action.trigger()
    assert editor.segments.names == ["Liver", "Tumour", "Spleen"]
    assert questions.titles()[-1] == "Remove the liver segment?"
    editor.set_active_segment(2)
    asked = len(questions.asked)
    commands.remove_action.trigger()  # any other segment goes at once (Undo brings it back)
    assert editor.segments.names == ["Liver", "Spleen"] and len(questions.asked) == asked
    editor.set_active_segment(1)
    questions.answers["Remove the liver segment?"] = QMessageBox.StandardButton.Yes
    commands.remove_action.trigger()
    assert editor.segments.names == ["Spleen"]


def test_screenshot_of_a_loaded_three_segment_seg(
    qtbot: QtBot, opened: MainWindow, small_phantom: Path, tmp_path: Path
) -> None:
    _load(qtbot, opened, _highdicom_seg(small_phantom, tmp_path / "three.dcm"))
    state, editor = opened.state, opened.editor
    state.set_slice(int(np.argmax(editor.segments.masks[2].sum(axis=(1, 2)))))  # the tumour's widest slice
    state.set_overlay(show_gt=False)
    qtbot.wait(50)
    path = Path(os.environ.get("CTSEG_SCREENSHOT", tmp_path / "loaded_seg.png"))
    assert opened.grab().save(str(path))
    drawn = {tuple(int(c) for c in px[:3]) for px in opened.axial_view.segment_layer.image.reshape(-1, 4) if px[3]}
    assert {row.color for row in editor.segments.rows} <= drawn


def test_ircad_ground_truth_folders_load_as_segments_and_save_beside_them(
    qtbot: QtBot, opened: MainWindow, small_phantom: Path, tmp_path: Path
) -> None:
    """The patient's MASKS_DICOM (IRCAD ground truth) opens as three segments; Save as IRCAD offers
    ``liver_edited`` and writes ``<segment>_edited`` beside the ground truth, which stays untouched."""
    import shutil

    from ctseg_gui.dialogs.save_label import default_target

    folder = tmp_path / "p"
    shutil.copytree(small_phantom, folder)
    _load(qtbot, opened, folder / "MASKS_DICOM")
    editor = opened.editor
    assert editor.segments.names == ["liver", "livertumor", "spleen"] and opened.label_files.last_target is None
    patient = opened.state.patient
    assert patient is not None
    target = replace(default_target(LabelFormat.IRCAD, patient, editor.name, None, editor.segments.names), path=folder)
    assert target.ground_truth_replaced(patient) is None
    assert target.folder_names() == ["liver_edited", "livertumor_edited", "spleen_edited"]
    before = {p.name: p.read_bytes() for p in (folder / "MASKS_DICOM" / "liver").iterdir()}
    with qtbot.waitSignal(opened.label_files.saved, timeout=60_000):
        assert opened.label_files.save_to(target)
    masks = folder / "MASKS_DICOM"
    assert sorted(p.name for p in masks.iterdir() if not p.name.startswith(".")) == [
        "liver",
        "liver_edited",
        "livertumor",
        "livertumor_edited",
        "spleen",
        "spleen_edited",
    ]
    assert {p.name: p.read_bytes() for p in (masks / "liver").iterdir()} == before
    assert "ground truth" in (replace(target, name="liver").ground_truth_replaced(patient) or "")
