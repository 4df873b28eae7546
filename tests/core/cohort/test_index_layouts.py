"""Every layout the index reads: IRCAD folders and zips, DICOM exports, NIfTI datasets, non-CT
series, SEG and RTSTRUCT found as ground truth; the rows open with the loader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cohort_factory import DOSE_SR, export, ircad, nifti, non_image, rtstruct, seg, series

from ctseg_core.cohort import CohortDatabase, SeriesQuery, SeriesRow
from ctseg_core.io.loading import load_patient

EVERYTHING = SeriesQuery(segmentable_only=False)


def index(root: Path, db: Path) -> tuple[CohortDatabase, list[SeriesRow]]:
    cohort = CohortDatabase(db)
    cohort.index([root])
    return cohort, cohort.list_series(EVERYTHING)


def test_ircad_folders_and_zips_are_patients_with_their_masks(tmp_path: Path) -> None:
    ircad(tmp_path / "root" / "3Dircadb1.1", seed=1)
    ircad(tmp_path / "root" / "3Dircadb1.2", seed=2, zipped=True)
    cohort, rows = index(tmp_path / "root", tmp_path / "db.sqlite")
    assert [Path(r.path).name for r in rows] == ["3Dircadb1.1", "3Dircadb1.2"]
    assert all(r.segmentable and r.slices == 3 and r.layout == "ircad" and r.orientation == "axial" for r in rows)
    truths = cohort.ground_truths([r.series_id for r in rows])
    assert {t.kind for t in truths[rows[0].series_id]} == {"ircad-folder"}
    assert {t.kind for t in truths[rows[1].series_id]} == {"ircad-zip"}
    assert "liver" in {t.name for t in truths[rows[1].series_id]}
    members = cohort.series_files(rows[1].series_id)
    assert len(members) == 3 and all(m.path.endswith("PATIENT_DICOM.zip") and m.member for m in members)
    assert cohort.thumbnail(rows[1].series_id).startswith(b"\x89PNG")
    loaded = load_patient(rows[1].path, series_uid=rows[1].load_series_uid)
    assert loaded.shape[0] == rows[1].slices and "liver" in loaded.masks


def test_a_dicom_export_is_patients_studies_and_series(tmp_path: Path) -> None:
    uids = export(tmp_path / "export")
    cohort, rows = index(tmp_path / "export", tmp_path / "db.sqlite")
    by_uid = {r.series_uid: r for r in rows}
    assert set(by_uid) == set(uids.values())
    assert by_uid[uids["p1_ct"]].path == by_uid[uids["p1_ct2"]].path == str(tmp_path / "export" / "PAT1")
    assert by_uid[uids["p2_ct"]].path == str(tmp_path / "export" / "PAT2" / "ST1")
    assert by_uid[uids["p2_later"]].study_date == "20240102"
    summary = cohort.summary()
    assert (summary.patients, summary.dicom_patients, summary.studies) == (3, 2, 3)
    row = by_uid[uids["p1_ct2"]]
    assert row.series_description == "venous" and row.spacing_mm == (2.5, 0.8, 0.8)
    assert load_patient(row.path, series_uid=row.series_uid).series_description == "venous"


def test_non_ct_series_are_listed_not_offered_and_say_why(tmp_path: Path) -> None:
    root = tmp_path / "study"
    ct = series(root / "ct", count=4)
    series(root / "mr", Modality="MR")
    series(root / "scout", count=1, ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"])
    series(root / "dose", count=1, SOPClassUID="1.2.840.10008.5.1.4.1.1.7", ImageType=["DERIVED", "SECONDARY"])
    non_image(root / "report" / "sr.dcm", "SR", DOSE_SR)
    rtstruct(root / "rt" / "rs.dcm", ct)
    cohort, rows = index(root, tmp_path / "db.sqlite")
    reasons = {r.modality + " " + r.not_segmentable for r in rows if not r.segmentable}
    assert reasons == {
        "MR MR, not CT",
        "CT a localizer (scout) image",
        "CT a secondary capture (a screen or a dose page), not a scan",
        "SR a structured report (e.g. a dose report)",
        "RTSTRUCT contours (RTSTRUCT)",
    }
    assert [r.series_uid for r in cohort.list_series()] == [ct]
    assert cohort.summary().not_offered["MR, not CT"] == 1


def test_seg_and_rtstruct_are_the_ground_truth_of_the_series_they_reference(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ct = series(root / "patient" / "ct", count=4)
    other = series(root / "patient" / "ct2", count=4)
    seg(root / "patient" / "seg" / "liver.seg.dcm", root / "patient" / "ct")
    rtstruct(root / "segmentations_elsewhere" / "rs.dcm", other, roi="Liver")
    seg(root / "patient" / "auto" / "pred.seg.dcm", root / "patient" / "ct2", algorithm_type="AUTOMATIC")
    cohort, _ = index(root, tmp_path / "db.sqlite")
    rows = {r.series_uid: r for r in cohort.list_series()}
    truths = cohort.ground_truths()
    assert [(t.kind, t.name) for t in truths[rows[ct].series_id]] == [("seg", "liver")]
    kinds = [(t.kind, t.name, t.automatic) for t in truths[rows[other].series_id]]
    assert kinds == [("rtstruct", "Liver", False), ("seg", "liver", True)]
    assert rows[ct].ground_truths == 1 and rows[other].ground_truths == 1  # a model's SEG is no ground truth


def test_nifti_datasets_lits_decathlon_and_totalsegmentator(tmp_path: Path) -> None:
    root = tmp_path / "nifti"
    for case in (0, 1):
        nifti(root / "lits" / f"volume-{case}.nii")
        nifti(root / "lits" / f"segmentation-{case}.nii", label=True)
    nifti(root / "Task03_Liver" / "imagesTr" / "liver_001_0000.nii.gz")
    nifti(root / "Task03_Liver" / "labelsTr" / "liver_001.nii.gz", label=True)
    nifti(root / "totalseg" / "s0001" / "ct.nii.gz")
    nifti(root / "totalseg" / "s0001" / "segmentations" / "liver.nii.gz", label=True)
    nifti(root / "totalseg" / "s0001" / "segmentations" / "spleen.nii.gz", label=True)
    cohort, rows = index(root, tmp_path / "db.sqlite")
    names = sorted(str(Path(r.path).relative_to(root)) for r in rows)
    assert names == [
        "Task03_Liver/imagesTr/liver_001_0000.nii.gz",
        "lits/volume-0.nii",
        "lits/volume-1.nii",
        "totalseg/s0001",
    ]
    assert all(r.format == "nifti" and r.segmentable and r.slices == 4 and r.series_uid == "" for r in rows)
    truths = cohort.ground_truths()
    found = {Path(r.path).name: sorted(t.name for t in truths[r.series_id]) for r in rows}
    assert found == {
        "liver_001_0000.nii.gz": ["liver"],
        "volume-0.nii": ["liver"],
        "volume-1.nii": ["liver"],
        "s0001": ["liver", "spleen"],
    }
    lits = next(r for r in rows if r.path.endswith("volume-1.nii"))
    assert [t.path for t in truths[lits.series_id]] == [str(root / "lits" / "segmentation-1.nii")]
    assert cohort.thumbnail(lits.series_id).startswith(b"\x89PNG")
    decathlon = load_patient(next(r.path for r in rows if "imagesTr" in r.path))
    assert decathlon.masks["liver"].any()


def test_corrupt_files_are_warnings_and_the_rest_is_indexed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    series(root / "ct", count=4)
    (root / "ct" / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff")
    (root / "bad").mkdir()
    (root / "bad" / "image.nii.gz").write_bytes(b"not gzip at all")
    cohort = CohortDatabase(tmp_path / "db.sqlite")
    report = cohort.index([root])
    rows = {Path(r.path).name: r for r in cohort.list_series(EVERYTHING)}
    assert rows["ct"].slices == 4 and rows["ct"].segmentable
    assert not rows["bad"].segmentable and "not a readable NIfTI" in rows["bad"].not_segmentable
    assert any("broken.dcm" in w and "unreadable" in w for w in report.warnings)


def test_odd_names_links_and_files_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    odd = os.fsdecode(b'it\'s a "scan" \xff')
    series(root / odd, count=3, names=["a b", "c'd", 'e"f'])
    outside = tmp_path / "outside"
    series(outside / "neighbour", patient="NEIGHBOUR", count=3)
    os.symlink(outside, root / "up")
    os.symlink(root / odd, root / "inside link")
    cohort = CohortDatabase(tmp_path / "db.sqlite")
    report = cohort.index([root])
    rows = cohort.list_series(EVERYTHING)
    assert [(r.patient_id, r.slices) for r in rows] == [("P1", 3)]  # the link inside is the same series
    assert rows[0].path == str(root)  # one mask-less series below it: the root is its patient
    assert any("outside" in w and "not followed" in w for w in report.warnings)
    assert {Path(m.path).name for m in cohort.series_files(rows[0].series_id)} == {"a b", "c'd", 'e"f'}
    assert load_patient(rows[0].path).shape[0] == 3


@pytest.mark.parametrize("given", ["PATIENT_DICOM", "."])
def test_a_root_inside_an_ircad_patient_indexes_that_patient(tmp_path: Path, given: str) -> None:
    ircad(tmp_path / "p1")
    _, rows = index(tmp_path / "p1" / given, tmp_path / "db.sqlite")
    assert [r.path for r in rows] == [str(tmp_path / "p1")]
