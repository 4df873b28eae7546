"""A result scored against a DICOM SEG or RTSTRUCT the index found for the series elsewhere."""

from __future__ import annotations

from pathlib import Path

from cohort_factory import seg, series

from ctseg_core.cohort import CohortDatabase, GroundTruth
from ctseg_core.cohort.scoring import liver_truth, with_indexed_truth


def test_a_seg_in_another_folder_scores_the_result(tmp_path: Path) -> None:
    root = tmp_path / "root"
    series(root / "patient" / "ct", "P1", count=4)
    truth_path = seg(root / "segmentations" / "liver.seg.dcm", root / "patient" / "ct")
    with CohortDatabase(tmp_path / "db.sqlite") as cohort:
        cohort.index([root])
        [row] = cohort.list_series()
        truths = cohort.ground_truths([row.series_id])[row.series_id]
    assert row.ground_truths == 1 and liver_truth(truths) is not None
    batch_row = {"patient": "ct", "output": str(truth_path), "dice": None, "warnings": ""}
    scored = with_indexed_truth(batch_row, row, truths)  # the prediction is the truth itself
    assert scored["dice"] == 1.0 and scored["volume_ml_gt"] > 0 and scored["ground_truth"].startswith("seg:")


def test_rows_left_alone() -> None:
    automatic = [GroundTruth("seg", "liver", "/x.dcm", automatic=True)]
    other_organ = [GroundTruth("rtstruct", "Spleen", "/y.dcm")]
    row = {"output": "/out.nii.gz", "dice": None}
    assert liver_truth(automatic) is None and liver_truth(other_organ) is None
    assert with_indexed_truth(row, None, other_organ) is row  # type: ignore[arg-type]  # never read
    assert with_indexed_truth({"error": "x"}, None, []) == {"error": "x"}  # type: ignore[arg-type]  # never read
    scored = {"output": "/out.nii.gz", "dice": 0.9}
    assert with_indexed_truth(scored, None, [GroundTruth("seg", "Liver", "/z.dcm")]) is scored  # type: ignore[arg-type]


def test_an_unreadable_truth_is_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "root"
    series(root / "patient" / "ct", "P1", count=3)
    with CohortDatabase(tmp_path / "db.sqlite") as cohort:
        cohort.index([root])
        [row] = cohort.list_series()
    broken = tmp_path / "broken.seg.dcm"
    broken.write_bytes(b"not dicom")
    scored = with_indexed_truth({"output": str(broken), "dice": None}, row, [GroundTruth("seg", "liver", str(broken))])
    assert scored["dice"] is None and "not scored" in scored["warnings"]
