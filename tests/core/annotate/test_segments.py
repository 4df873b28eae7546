"""A label of named segments: the table, painting one segment, locks, undo across segments, per-segment
live Dice, the autosave of every segment, and saving them as NIfTI + label table and as DICOM SEG,
read back by nibabel and highdicom (not by ctseg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ctseg_core.annotate.labels import LabelFormat, SaveTarget, save_label
from ctseg_core.annotate.recovery import find_recovery, load_recovery_segments, save_recovery
from ctseg_core.annotate.session import LabelSession
from ctseg_core.annotate.tools import Tool
from ctseg_core.display.palette import ORGANS
from ctseg_core.io.ircad_labels import ircad_folder_names, read_ircad_labels
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.metrics import dice
from ctseg_core.synth.phantom import write_phantom


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Patient:
    folder = write_phantom(tmp_path_factory.mktemp("segments") / "p", seed=3, slices=6, size=128)
    return load_patient(folder, masks=["liver", "livertumor", "spleen"])


@pytest.fixture
def session(patient: Patient) -> LabelSession:
    session = LabelSession()
    session.set_volume(patient.hu, patient.spacing_mm)
    session.set_references({"gt": patient.masks["liver"]})
    session.start_label(patient.masks["liver"], "liver_edit", "Start from ground truth")
    return session


def _paint(session: LabelSession, z: int, point: tuple[int, int]) -> None:
    session.set_tool(Tool.BRUSH)
    session.begin_stroke(z, point)
    session.end_stroke()


def test_a_new_label_is_one_liver_segment_and_segments_can_be_added_renamed_recoloured(session: LabelSession) -> None:
    assert session.segments.names == ["liver"] and session.segments.rows[0].color == ORGANS["liver"]
    row = session.add_segment("tumour")
    assert row is not None and session.segments.active == row.value == 2
    assert session.segments.names == ["liver", "tumour"] and row.color == ORGANS["tumour"]
    assert session.add_segment("tumour").name == "tumour 2"  # type: ignore[union-attr]
    session.rename_segment(row.value, "lesion A")
    session.recolour_segment(row.value, (1, 2, 3))
    assert session.segments.row(row.value).name == "lesion A" and session.segments.row(row.value).color == (1, 2, 3)
    with pytest.raises(ValueError, match="already called"):
        session.rename_segment(row.value, "liver")
    assert session.is_modified  # a changed table is unsaved work


def test_painting_goes_into_the_active_segment_only_and_a_lock_refuses_it(session: LabelSession) -> None:
    liver_before = session.segments.masks[1].copy()
    tumour = session.add_segment("tumour")
    assert tumour is not None
    _paint(session, 2, (20, 20))
    assert session.segments.masks[tumour.value][2, 20, 20] and np.array_equal(session.segments.masks[1], liver_before)
    notices: list[str] = []
    session.notice.connect(notices.append)
    session.set_segment_locked(tumour.value, True)
    painted = session.segments.masks[tumour.value].copy()
    _paint(session, 3, (30, 30))
    assert np.array_equal(session.segments.masks[tumour.value], painted) and "locked" in notices[-1]
    assert session.flood_fill(3, (30, 30)) == 0


def test_one_undo_history_spans_the_segments_and_brings_a_removed_segment_back(session: LabelSession) -> None:
    tumour = session.add_segment("tumour")
    assert tumour is not None
    _paint(session, 2, (20, 20))
    session.set_active_segment(1)
    _paint(session, 1, (90, 90))
    assert session.segments.masks[1][1, 90, 90]
    session.undo()  # the liver stroke
    assert not session.segments.masks[1][1, 90, 90] and session.segments.masks[tumour.value][2, 20, 20]
    session.undo()  # the tumour stroke, though the liver is active
    assert not session.segments.masks[tumour.value][2, 20, 20] and session.segments.active == 1
    session.redo()
    session.remove_segment(tumour.value)
    assert session.segments.names == ["liver"]
    session.undo()
    assert session.segments.names == ["liver", "tumour"] and session.segments.masks[tumour.value][2, 20, 20]


def test_live_dice_is_per_segment_where_the_ground_truth_has_it(session: LabelSession, patient: Patient) -> None:
    truth = patient.masks["livertumor"]
    session.set_segment_truths({"livertumor": truth})
    session.add_segment("livertumor", truth)
    assert session.dice("gt", 2).volume == pytest.approx(1.0)
    assert session.dice("gt", 2, "liver").volume == pytest.approx(1.0)
    _paint(session, 2, (5, 5))
    edited = session.segments.masks[session.segments.active]  # type: ignore[index]
    assert session.dice("gt", 2).volume == pytest.approx(dice(edited, truth))
    session.add_segment("vessels")
    assert np.isnan(session.dice("gt", 2).volume)  # no ground truth of that name: —


def test_accepting_the_prediction_replaces_the_liver_segment_and_keeps_the_others(
    session: LabelSession, patient: Patient
) -> None:
    tumour = session.add_segment("tumour", patient.masks["livertumor"])
    assert tumour is not None
    prediction = np.zeros(patient.shape, bool)
    prediction[2, 40:60, 40:60] = True
    session.start_label(prediction, "liver", "Accept prediction", modified=True)
    assert session.segments.active == 1 and np.array_equal(session.label, prediction)
    assert np.array_equal(session.segments.masks[tumour.value], patient.masks["livertumor"])
    session.undo()
    assert np.array_equal(session.label, patient.masks["liver"])


def test_the_autosave_keeps_every_segment_with_its_name_colour_and_overlap(
    session: LabelSession, patient: Patient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTSEG_CACHE", str(tmp_path / "cache"))
    session.add_segment("livertumor", patient.masks["livertumor"], (9, 8, 7))
    save_recovery(session.segments.pairs(), patient, session.name, edits=2)
    info = find_recovery(patient)
    assert info is not None and [s.name for s in info.segments] == ["liver", "livertumor"]
    restored = load_recovery_segments(info)
    assert [(s.value, s.name, s.color) for s, _ in restored] == [
        (1, "liver", ORGANS["liver"]),
        (2, "livertumor", (9, 8, 7)),
    ]
    for (_, mask), (_, original) in zip(restored, session.segments.pairs(), strict=True):
        assert np.array_equal(mask, original)  # overlapping masks come back whole
    other = LabelSession()
    other.set_volume(patient.hu, patient.spacing_mm)
    other.start_segments(restored, "liver_edit", modified=True)
    assert other.segments.names == ["liver", "livertumor"] and other.is_modified


def test_saving_writes_every_segment_as_nifti_with_its_label_table_and_as_seg(
    session: LabelSession, patient: Patient, tmp_path: Path
) -> None:
    import highdicom as hd
    import nibabel as nib

    session.add_segment("spleen", patient.masks["spleen"])
    label_map = session.label_map()
    nifti = tmp_path / "label.nii.gz"
    save_label(label_map, patient, SaveTarget(LabelFormat.NIFTI, nifti, "label"))
    values = np.unique(np.asarray(nib.load(str(nifti)).dataobj))
    assert set(values) == {0, 1, 2}
    table = (tmp_path / "label.txt").read_text()
    assert '"liver"' in table and '"spleen"' in table
    seg_path = tmp_path / "label.dcm"
    save_label(label_map, patient, SaveTarget(LabelFormat.DICOM_SEG, seg_path, "label"))
    seg = hd.seg.segread(str(seg_path))
    labels = [seg.get_segment_description(n).segment_label for n in seg.segment_numbers]
    assert labels == ["liver", "spleen"]


def test_an_ircad_save_names_each_segments_folder_by_one_rule() -> None:
    """The first segment's folder is the name given; the others take the ending it adds to it."""
    assert ircad_folder_names("liver_pred", ["liver"]) == ["liver_pred"]  # ctseg segment's single label
    assert ircad_folder_names("liver_fixed", ["liver"]) == ["liver_fixed"]
    assert ircad_folder_names("liver_edited", ["liver", "livertumor"]) == ["liver_edited", "livertumor_edited"]
    assert ircad_folder_names("liver", ["liver", "portal vein"]) == ["liver", "portal vein"]
    assert ircad_folder_names("fixed", ["liver", "spleen"]) == ["fixed", "spleen_fixed"]
    assert ircad_folder_names("livers", ["liver", "spleen"]) == ["livers", "spleen_livers"]


def test_an_ircad_save_of_several_segments_never_writes_over_the_ground_truth(
    session: LabelSession, patient: Patient, tmp_path: Path
) -> None:
    import shutil

    from ctseg_core.errors import GroundTruthProtectedError

    folder = tmp_path / "p"
    shutil.copytree(patient.source_path, folder)  # IRCAD ground truth: MASKS_DICOM/liver, livertumor, spleen
    session.add_segment("livertumor", patient.masks["livertumor"])
    labels = session.label_map()
    target = SaveTarget(LabelFormat.IRCAD, folder, "liver")
    assert "ground truth" in (target.for_segments(labels.names).ground_truth_replaced(patient) or "")
    with pytest.raises(GroundTruthProtectedError):
        save_label(labels, patient, target)
    saved = save_label(labels, patient, SaveTarget(LabelFormat.IRCAD, folder, "liver_edited"))
    assert saved.target.folder_names() == ["liver_edited", "livertumor_edited"]
    back = read_ircad_labels(folder / "MASKS_DICOM" / "livertumor_edited", patient)
    assert np.array_equal(back.mask("livertumor_edited"), session.segments.masks[2])
    assert np.array_equal(load_patient(folder, masks=["liver"]).masks["liver"], patient.masks["liver"])


def test_empty_clears_the_active_segment_only_as_one_undo_step(session: LabelSession, patient: Patient) -> None:
    session.add_segment("spleen", patient.masks["spleen"])
    liver = session.segments.masks[1].copy()
    assert session.empty_active_segment() == "spleen"
    assert not session.segments.masks[2].any() and np.array_equal(session.segments.masks[1], liver)
    assert session.history.undo_description == "Empty spleen"
    session.undo()
    assert np.array_equal(session.segments.masks[2], patient.masks["spleen"])
    session.set_segment_locked(2, True)
    assert session.empty_active_segment() is None and session.segments.masks[2].any()  # locked: refused


def test_a_files_liver_is_the_liver_segment_and_its_organs_find_their_ground_truth(patient: Patient) -> None:
    from ctseg_core.annotate.segment_set import label_map_segments
    from ctseg_core.io.segments import LabelMap

    session = LabelSession()
    session.set_volume(patient.hu, patient.spacing_mm)
    session.set_references({"gt": patient.masks["liver"]}, {"livertumor": patient.masks["livertumor"]})
    tumour = patient.masks["livertumor"]
    loaded = LabelMap.from_masks({"Liver": patient.masks["liver"] & ~tumour, "Tumour": tumour})
    session.start_segments(label_map_segments(loaded), "Liver")
    primary = session.segments.primary()
    assert primary is not None and primary.name == "Liver"
    assert session.dice("gt", 0, "Tumour").volume == pytest.approx(1.0)  # "Tumour" scored against "livertumor"
    session.start_label(patient.masks["liver"], "Liver", "Accept prediction", modified=True)
    assert session.segments.names == ["Liver", "Tumour"]  # the prediction went into "Liver", no new "liver"
