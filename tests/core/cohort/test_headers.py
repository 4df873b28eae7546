"""The index's header records say what pydicom says, whatever the encoding, and whether the
series' tags come from the file or from the series' first image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from core.io.dicom_factory import ct_slice
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from ctseg_core.cohort.headers import read_instance


def written(tmp_path: Path, syntax: str | None = None, **tags: object) -> str:
    ds = ct_slice(np.zeros((4, 6), np.int16), (-1.5, 2.25, 30.125), "1.2.3.100", instance=7)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    path = tmp_path / f"slice_{syntax or 'explicit'}.dcm"
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, enforce_file_format=True)
    return str(path)


@pytest.mark.parametrize("syntax", [None, ImplicitVRLittleEndian, ExplicitVRBigEndian])
def test_the_record_matches_pydicom(tmp_path: Path, syntax: str | None) -> None:
    path = written(tmp_path, syntax, ImageType=["ORIGINAL", "PRIMARY", "AXIAL"], SeriesNumber=" 12", NumberOfFrames=1)
    record = read_instance(path)
    ds = pydicom.dcmread(path)
    assert record is not None
    assert (record.rows, record.columns, record.frames) == (ds.Rows, ds.Columns, 1) == (4, 6, 1)
    assert record.position == (-1.5, 2.25, 30.125) == tuple(float(v) for v in ds.ImagePositionPatient)
    assert record.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert record.pixel_spacing == (0.8, 0.8) and record.slice_thickness == 2.5
    assert (record.instance_number, record.series_number) == (7, 12)
    assert record.image_type == ("ORIGINAL", "PRIMARY", "AXIAL")
    assert (record.sop_uid, record.series_uid, record.study_uid) == (ds.SOPInstanceUID, "1.2.3.100", "1.2.3.4")
    assert (record.modality, record.patient_id, record.patient_name) == ("CT", "T1", "Test^Patient")


def test_an_image_of_a_known_series_takes_the_series_tags_and_keeps_its_own(tmp_path: Path) -> None:
    first = written(tmp_path, SeriesDescription="arterial")
    seen: dict = {}
    read_instance(first, series_seen=seen)
    other = tmp_path / "other.dcm"
    ds = pydicom.dcmread(first)
    ds.SOPInstanceUID, ds.InstanceNumber, ds.ImagePositionPatient = "1.2.3.999", 8, [-1.5, 2.25, 32.625]
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.save_as(other, enforce_file_format=True)
    shared, alone = read_instance(str(other), series_seen=seen), read_instance(str(other))
    assert shared == alone
    assert shared.series_description == "arterial" and shared.image_type[-1] == "LOCALIZER"
    assert (shared.sop_uid, shared.instance_number, shared.position[2]) == ("1.2.3.999", 8, 32.625)


def test_malformed_numbers_are_missing_not_errors(tmp_path: Path) -> None:
    path = written(tmp_path)
    ds = pydicom.dcmread(path)
    ds["ImagePositionPatient"].value = "1\\2"  # two values where three belong
    ds["InstanceNumber"].value = ""
    ds.save_as(path, enforce_file_format=True)
    record = read_instance(path)
    assert record is not None and record.position is None and record.instance_number is None
