"""The batch API: every patient gets a row, failures do not stop the batch, outputs never collide."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from ctseg_core.batch import expand_patients, plan_outputs, segment_patients
from ctseg_core.model.inference import Segmenter


@pytest.fixture(scope="module")
def segmenter(tiny_model: Path) -> Segmenter:
    return Segmenter.load(tiny_model)


def test_same_named_patients_get_separate_outputs(tiny_patients: Path, tmp_path: Path, segmenter: Segmenter) -> None:
    for parent in ("a", "b"):
        shutil.copytree(tiny_patients / "p0", tmp_path / parent / "patient")
    rows = segment_patients(
        [tmp_path / "a" / "patient", tmp_path / "b" / "patient"], tmp_path / "out", "nifti", segmenter=segmenter
    )
    outputs = [row["output"] for row in rows]
    assert len(set(outputs)) == 2 and all(Path(o).is_file() for o in outputs)
    assert [row["patient"] for row in rows] == ["a_patient", "b_patient"]


def test_a_failing_patient_gets_an_error_row_and_the_batch_goes_on(
    tiny_patients: Path, tmp_path: Path, segmenter: Segmenter
) -> None:
    root = tmp_path / "root"
    shutil.copytree(tiny_patients / "p0", root / "first")
    (root / "broken" / "PATIENT_DICOM").mkdir(parents=True)
    (root / "broken" / "PATIENT_DICOM" / "image_0").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00garbage")
    shutil.copytree(tiny_patients / "p1", root / "last")
    seen: list[str] = []
    rows = segment_patients([root], tmp_path / "out", segmenter=segmenter, on_row=lambda r: seen.append(r["patient"]))
    assert seen == ["broken", "first", "last"]
    assert "error" in rows[0] and "broken" in rows[0]["error"]
    assert rows[1]["dice"] is not None and rows[2]["dice"] is not None
    with open(tmp_path / "out" / "ctseg_summary.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["patient"] for r in table] == ["broken", "first", "last"]
    assert table[0]["error"] and not table[1]["error"]


def test_a_parent_of_plain_dicom_patients_is_several_patients(tmp_path: Path) -> None:
    from ctseg_core.synth.phantom import write_phantom

    for name, seed in (("x", 1), ("y", 2)):
        write_phantom(tmp_path / "tmp" / name, seed=seed, slices=3, size=64)
        shutil.move(str(tmp_path / "tmp" / name / "PATIENT_DICOM"), str(tmp_path / "parent" / name))
    assert [p.name for p in expand_patients([tmp_path / "parent"])] == ["x", "y"]
    # one patient's series in sub-folders stays one patient
    write_phantom(tmp_path / "tmp" / "z", seed=3, slices=3, size=64)
    (tmp_path / "one").mkdir()
    shutil.move(str(tmp_path / "tmp" / "z" / "PATIENT_DICOM"), str(tmp_path / "one" / "series1"))
    assert expand_patients([tmp_path / "one"]) == [tmp_path / "one"]
    items = plan_outputs([tmp_path / "parent" / "x"], None)
    assert items[0].out_dir == tmp_path / "parent" / "ctseg_out" / "x"
