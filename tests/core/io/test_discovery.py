"""The one patient-discovery rule, on layouts built here: every caller (segment, info, train,
fine-tuning, the loader behind the viewer's Open) finds the same patients."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import rewrite, write_series
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ctseg_core.batch import expand_patients
from ctseg_core.cli import main
from ctseg_core.errors import SeveralPatientsError
from ctseg_core.io.discovery import find_patients, resolve_patient
from ctseg_core.io.loading import load_patient
from ctseg_core.io.nifti import write_nifti_mask
from ctseg_core.model.finetune import collect_training_patients
from ctseg_core.model.training_data import discover_patients
from ctseg_core.synth.phantom import write_phantom


def found(path: Path) -> list[str]:
    """The patients found, relative to ``path`` ("." for the path itself)."""
    return [str(p.relative_to(path)) if p != path else "." for p in find_patients(path).patients]


def ircad(folder: Path, seed: int = 1) -> Path:
    return write_phantom(folder, seed=seed, slices=3, size=32)


def dicom(folder: Path, patient_id: str = "T1", study: str = "1.2.3.4", count: int = 3) -> Path:
    """A plain DICOM series in ``folder`` of one patient and study."""
    _, paths = write_series(folder, count=count, shape=(8, 8))
    for path in paths:
        rewrite(path, PatientID=patient_id, StudyInstanceUID=study)
    return folder


def non_image(path: Path, modality: str) -> None:
    """A DICOM file that is no image (a directory, a report): no rows, no pixels."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = modality, "EXPORT"
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ircad(tmp_path_factory.mktemp("ircad") / "p1")


# ----------------------------------------------------------------------------- defect 14


def test_a_parent_of_one_ircad_patient_is_a_parent_and_the_masks_stay(phantom: Path, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    shutil.copytree(phantom, parent / "p1")
    assert found(parent) == ["p1"]
    assert expand_patients([parent]) == [parent / "p1"]
    assert discover_patients([parent]) == [parent / "p1"]
    assert [p.source for p in collect_training_patients([parent])[0]] == [parent / "p1"]
    patient = load_patient(parent)
    assert patient.source_path == parent / "p1" and patient.masks["liver"].any()


def test_a_patient_and_its_backup_copy_are_two_patients_each_with_its_masks(phantom: Path, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    shutil.copytree(phantom, parent / "p1")
    shutil.copytree(phantom, parent / "p1_backup")
    assert found(parent) == ["p1", "p1_backup"]
    assert [p.source.name for p in collect_training_patients([parent])[0]] == ["p1", "p1_backup"]
    with pytest.raises(SeveralPatientsError, match=r"holds 2 patients \(p1, p1_backup\)"):
        load_patient(parent)
    assert load_patient(parent / "p1_backup").masks["liver"].any()


def test_a_plain_dicom_patient_with_a_nifti_label_under_a_parent_keeps_the_label(tmp_path: Path) -> None:
    child = dicom(tmp_path / "parent" / "ct")
    patient = load_patient(child)
    write_nifti_mask(np.ones(patient.shape, bool), patient, child / "liver.nii.gz")
    assert found(tmp_path / "parent") == ["ct"]
    assert load_patient(tmp_path / "parent").masks["liver"].all()


def test_plain_dicom_copies_are_not_merged_into_one_patient(tmp_path: Path) -> None:
    dicom(tmp_path / "parent" / "scan")
    shutil.copytree(tmp_path / "parent" / "scan", tmp_path / "parent" / "scan_backup")
    assert found(tmp_path / "parent") == ["scan", "scan_backup"]


# ----------------------------------------------------------------------------- layouts


def test_ircad_folders_and_zips_are_one_patient_each(phantom: Path, tmp_path: Path) -> None:
    root = tmp_path / "ircad"
    shutil.copytree(phantom, root / "a")
    (root / "b").mkdir()
    for part in ("PATIENT_DICOM", "MASKS_DICOM"):
        with zipfile.ZipFile(root / "b" / f"{part}.zip", "w") as zf:
            for path in sorted((phantom / part).rglob("*")):
                zf.write(path, path.relative_to(phantom).as_posix())
    assert found(root) == ["a", "b"]
    assert load_patient(root / "b").masks["liver"].any()
    assert found(root / "a") == ["."]


@pytest.mark.parametrize("part", ["PATIENT_DICOM", "MASKS_DICOM"])
def test_a_part_of_an_ircad_patient_names_that_patient(phantom: Path, part: str) -> None:
    assert resolve_patient(phantom / part) == phantom
    assert find_patients(phantom / part).patients == (phantom,)
    assert load_patient(phantom / part).masks["liver"].any()


def test_series_in_sub_folders_of_one_study_are_one_patient(tmp_path: Path) -> None:
    dicom(tmp_path / "study" / "series1")
    dicom(tmp_path / "study" / "series2")
    assert found(tmp_path / "study") == ["."]
    assert len(load_patient(tmp_path / "study").other_series) == 1


def test_a_folder_of_three_patients_is_three_patients_for_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = tmp_path / "cohort"
    for name in "abc":
        dicom(cohort / name, patient_id=name.upper())
    assert found(cohort) == ["a", "b", "c"]
    assert expand_patients([cohort]) == [cohort / n for n in "abc"]
    assert discover_patients([cohort]) == [cohort / n for n in "abc"]
    with pytest.raises(SeveralPatientsError):
        load_patient(cohort)
    assert main(["info", str(cohort)]) == 2
    assert capsys.readouterr().err == (
        f"ctseg: error: {cohort}: holds 3 patients (a, b, c): open one of them "
        "(ctseg segment takes a parent of patients)\n"
    )


def test_a_dicom_export_of_many_patients_and_studies(tmp_path: Path) -> None:
    export = tmp_path / "export"
    for patient in ("PAT1", "PAT2"):
        for series in ("SE1", "SE2"):
            dicom(export / patient / "ST1" / series, patient_id=patient, study=f"1.2.{patient[-1]}")
    dicom(export / "PAT2" / "ST2" / "SE1", patient_id="PAT2", study="1.2.99")  # a second study
    for name, modality in (("DICOMDIR", ""), ("dose_report.dcm", "SR")):
        non_image(export / name, modality)  # DICOM beside the patients that is no image
    assert found(export) == ["PAT1", "PAT2/ST1", "PAT2/ST2"]


def test_a_folder_of_lits_volumes_is_a_patient_per_volume_each_with_its_own_label(
    phantom: Path, tmp_path: Path
) -> None:
    lits = tmp_path / "lits"
    lits.mkdir()
    ct = load_patient(phantom, masks=None)
    for case in (0, 1):
        write_nifti_mask(np.full(ct.shape, case + 1, np.uint8) > 0, ct, lits / f"volume-{case}.nii")
        label = np.zeros(ct.shape, bool)
        label[case] = True  # each case's label is its own slice
        write_nifti_mask(label, ct, lits / f"segmentation-{case}.nii")
    assert found(lits) == ["volume-0.nii", "volume-1.nii"]
    for case in (0, 1):
        liver = load_patient(lits / f"volume-{case}.nii").masks["liver"]
        assert liver[case].all() and liver.sum() == liver[case].size


def test_nifti_patient_folders_and_labels_saved_beside_them(phantom: Path, tmp_path: Path) -> None:
    root = tmp_path / "nifti"
    ct = load_patient(phantom, masks=None)
    for name in ("p1", "p2"):
        write_nifti_mask(np.ones(ct.shape, bool), ct, root / name / "image.nii.gz")
    write_nifti_mask(np.ones(ct.shape, bool), ct, root / "p1_liver.nii.gz")  # the viewer's saved label
    assert found(root) == ["p1", "p2"]
    assert found(root / "p1") == ["."]


def test_ctseg_outputs_are_never_patients(phantom: Path, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    shutil.copytree(phantom, parent / "p1")
    out = parent / "ctseg_out" / "p1"
    ct = load_patient(phantom, masks=None)
    write_nifti_mask(np.ones(ct.shape, bool), ct, out / "liver_pred.nii.gz")
    shutil.copytree(phantom / "MASKS_DICOM" / "liver", out / "MASKS_DICOM" / "liver_pred")
    assert found(parent) == ["p1"]


def test_a_folder_without_patients_finds_none_and_a_batch_reports_it(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "README.txt").write_text("no scans here")
    assert found(tmp_path / "empty") == []
    assert expand_patients([tmp_path / "empty"]) == [tmp_path / "empty"]
    assert find_patients(tmp_path / "missing").patients == ()


# ----------------------------------------------------------------------------- links (defect 4)


def test_a_link_out_of_the_folder_is_not_followed_and_is_reported(phantom: Path, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    shutil.copytree(phantom, parent / "p1")
    dicom(tmp_path / "neighbour", patient_id="OTHER")
    os.symlink(tmp_path / "neighbour", parent / "elsewhere")
    os.symlink("..", parent / "up")
    result = find_patients(parent)
    assert result.patients == (parent / "p1",)
    assert {path for path, _ in result.skipped} == {str(parent / "elsewhere"), str(parent / "up")}
    assert all("outside" in why for _, why in result.skipped)


def test_a_link_inside_the_folder_is_followed_once(tmp_path: Path) -> None:
    root = tmp_path / "cohort"
    dicom(root / "a", patient_id="A")
    dicom(root / "store" / "b", patient_id="B")
    os.symlink(root / "store" / "b", root / "b_link")
    os.symlink(root, root / "store" / "loop")
    assert found(root) == ["a", "b_link"]


def test_the_loader_reads_nothing_through_a_link_out_of_the_patient(tmp_path: Path) -> None:
    patient = dicom(tmp_path / "p", count=3)
    dicom(tmp_path / "neighbour", count=5)  # larger: it would be the series loaded
    os.symlink("../neighbour", patient / "other")
    os.symlink("..", patient / "up")
    loaded = load_patient(patient)
    assert loaded.shape[0] == 3 and loaded.other_series == []
    assert any("leading outside" in w and "other" in w for w in loaded.warnings)
