"""DICOM SEG: written by highdicom onto the CT, read back bit-identical, from folders and zips."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.io.seg import read_dicom_seg, read_source_datasets, write_dicom_seg
from ctseg_core.synth.phantom import write_phantom


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Patient:
    folder = write_phantom(tmp_path_factory.mktemp("seg") / "p", seed=5, slices=8, size=256)
    return load_patient(folder, masks=["liver"])


def test_write_then_read_is_bit_identical(patient: Patient, tmp_path: Path) -> None:
    liver = patient.masks["liver"]
    path = write_dicom_seg(liver, patient, tmp_path / "liver.dcm")
    masks = read_dicom_seg(path, patient)
    assert list(masks) == ["liver"]
    assert masks["liver"].dtype == bool
    np.testing.assert_array_equal(masks["liver"], liver)
    assert [p.name for p in tmp_path.iterdir()] == ["liver.dcm"]  # no temporary file left


def test_highdicom_reads_it_as_a_seg_of_the_ct_series(patient: Patient, tmp_path: Path) -> None:
    liver = patient.masks["liver"]
    path = write_dicom_seg(liver, patient, tmp_path / "liver.dcm")
    seg = hd.seg.segread(path)
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == patient.series_uid
    assert seg.StudyInstanceUID == patient.study_uid
    assert seg.FrameOfReferenceUID == patient.frame_of_reference_uid
    assert seg.segmentation_type == hd.seg.SegmentationTypeValues.BINARY
    assert seg.NumberOfFrames == int(np.count_nonzero(liver.any(axis=(1, 2))))  # empty slices omitted
    description = seg.get_segment_description(1)
    assert description.segment_label == "liver"
    assert description.segmented_property_type == codes.SCT.Liver
    assert description.segmented_property_category == codes.SCT.Organ
    assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.MANUAL
    referenced = {uid for _, _, uid in seg.get_source_image_uids()}
    assert referenced <= set(patient.source.sop_instance_uids)


def with_source(patient: Patient, **changes: object) -> Patient:
    """The patient with some of its stored-grid fields changed (another copy, another grid)."""
    return dataclasses.replace(patient, source=dataclasses.replace(patient.source, **changes))


def test_automatic_segment_names_its_algorithm(patient: Patient, tmp_path: Path) -> None:
    path = write_dicom_seg(patient.masks["liver"], patient, tmp_path / "auto.dcm", algorithm_type="AUTOMATIC")
    description = hd.seg.segread(path).get_segment_description(1)
    assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
    assert "ctseg" in description.algorithm_identification[0].AlgorithmName
    with pytest.raises(ValueError, match="algorithm_type"):
        write_dicom_seg(patient.masks["liver"], patient, tmp_path / "x.dcm", algorithm_type="GUESSED")


def test_empty_mask_writes_a_valid_seg_that_reads_back_empty(patient: Patient, tmp_path: Path) -> None:
    empty = np.zeros(patient.shape, dtype=bool)
    path = write_dicom_seg(empty, patient, tmp_path / "empty.dcm", name="spleen")
    seg = hd.seg.segread(path)
    assert seg.NumberOfFrames == patient.shape[0]  # a SEG must hold frames: every (empty) slice is one
    masks = read_dicom_seg(path, patient)
    assert list(masks) == ["spleen"] and not masks["spleen"].any()
    assert masks["spleen"].shape == patient.shape


def test_saving_again_replaces_the_file(patient: Patient, tmp_path: Path) -> None:
    path = tmp_path / "liver.dcm"
    write_dicom_seg(patient.masks["liver"], patient, path)
    edited = patient.masks["liver"].copy()
    edited[edited.any(axis=(1, 2))] = False
    edited[2, 10:20, 10:20] = True
    sources = read_source_datasets(patient)
    write_dicom_seg(edited, patient, path, source_datasets=sources)
    np.testing.assert_array_equal(read_dicom_seg(path, patient)["liver"], edited)


def test_source_headers_are_read_without_pixels_in_slice_order(patient: Patient) -> None:
    datasets = read_source_datasets(patient)
    assert [ds.SOPInstanceUID for ds in datasets] == patient.source.sop_instance_uids
    assert all("PixelData" not in ds for ds in datasets)


def test_zip_patient_round_trips(patient: Patient, tmp_path: Path) -> None:
    folder = tmp_path / "zipped"
    folder.mkdir()
    with zipfile.ZipFile(folder / "PATIENT_DICOM.zip", "w") as archive:
        for name in patient.source.slice_names:
            archive.write(name, f"PATIENT_DICOM/{Path(name).name}")
    zipped = load_patient(folder, masks=None)
    assert "!" in zipped.source.slice_names[0]
    path = write_dicom_seg(patient.masks["liver"], zipped, tmp_path / "z.dcm")
    np.testing.assert_array_equal(read_dicom_seg(path, zipped)["liver"], patient.masks["liver"])


def test_seg_of_another_copy_of_the_series_is_placed_by_position(patient: Patient, tmp_path: Path) -> None:
    path = write_dicom_seg(patient.masks["liver"], patient, tmp_path / "liver.dcm")
    copy = with_source(patient, sop_instance_uids=[f"1.2.3.{k}" for k in range(patient.shape[0])])
    np.testing.assert_array_equal(read_dicom_seg(path, copy)["liver"], patient.masks["liver"])
    no_uids = with_source(patient, sop_instance_uids=[])  # e.g. the same scan loaded from NIfTI
    np.testing.assert_array_equal(read_dicom_seg(path, no_uids)["liver"], patient.masks["liver"])


def test_seg_on_another_grid_is_refused(patient: Patient, tmp_path: Path) -> None:
    path = write_dicom_seg(patient.masks["liver"], patient, tmp_path / "liver.dcm")
    x, y, z = patient.source.geometry.origin_mm
    moved_grid = dataclasses.replace(patient.source.geometry, origin_mm=(x + 15.0, y, z))
    moved_positions = patient.source.positions_lps + np.array([15.0, 0.0, 0.0])
    shifted = with_source(patient, sop_instance_uids=[], geometry=moved_grid, positions_lps=moved_positions)
    with pytest.raises(MaskMismatchError, match=r"shifted by 15.00 mm"):
        read_dicom_seg(path, shifted)
    between_slices = with_source(
        patient, sop_instance_uids=[], positions_lps=patient.source.positions_lps + np.array([0.0, 0.0, 1.0])
    )
    with pytest.raises(MaskMismatchError, match="matches no CT slice"):
        read_dicom_seg(path, between_slices)
    smaller = load_patient(write_phantom(tmp_path / "small", seed=5, slices=8, size=128), masks=None)
    with pytest.raises(MaskMismatchError, match="128"):
        read_dicom_seg(path, smaller)


def test_bad_inputs_are_clear_errors(patient: Patient, tmp_path: Path) -> None:
    with pytest.raises(MaskMismatchError, match="grids must match"):
        write_dicom_seg(np.zeros((2, 4, 4), dtype=bool), patient, tmp_path / "x.dcm")
    nifti_like = with_source(patient, sop_instance_uids=[])
    with pytest.raises(CtsegError, match="NIfTI"):
        write_dicom_seg(patient.masks["liver"], nifti_like, tmp_path / "x.dcm")
    with pytest.raises(CtsegError, match="not a readable DICOM SEG"):
        read_dicom_seg(patient.source.slice_names[0], patient)  # a CT slice, not a SEG
    with pytest.raises(CtsegError, match="does not exist"):
        read_dicom_seg(tmp_path / "missing.dcm", patient)
    moved = with_source(patient, slice_names=[str(tmp_path / "gone" / "image_0")] * patient.shape[0])
    with pytest.raises(CtsegError, match="moved or deleted"):
        read_source_datasets(moved)


def test_seg_file_is_plain_dicom(patient: Patient, tmp_path: Path) -> None:
    path = write_dicom_seg(patient.masks["liver"], patient, tmp_path / "liver.dcm")
    ds = pydicom.dcmread(path)
    assert ds.Modality == "SEG" and ds.SeriesDescription == "ctseg liver"
    assert ds.PatientID == patient.patient_id
