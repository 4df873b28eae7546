"""RTSTRUCT: ctseg's structure sets read back voxel for voxel by ctseg, by a pydicom + scikit-image
rasteriser and by rt-utils, in all 48 axis layouts; rt-utils' own structure sets open in ctseg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from label_volumes import (
    SEGMENTS,
    add_study_attributes,
    ct_files,
    file_labels,
    geometry,
    hu_volume,
    import_rt_utils,
    label_volume,
    pixel_to_lps,
    write_nifti_ct,
)
from skimage.draw import polygon2mask

from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.io.rtstruct import (
    RTSTRUCT_SOP_CLASS,
    is_rtstruct,
    read_rtstruct,
    read_rtstruct_masks,
    rtstruct_roi_names,
    write_rtstruct,
)
from ctseg_core.io.segments import LabelMap, Segment
from ctseg_core.synth.variants import NAMED_LAYOUTS, Layout, all_layouts, write_dicom_variant, write_enhanced_ct

LAYOUTS = all_layouts()
#: rt-utils sets the transfer syntax the way pydicom 3 deprecates
RT_UTILS_WARNINGS = pytest.mark.filterwarnings("ignore:'FileDataset.is_:DeprecationWarning")


def label_map(labels: np.ndarray) -> LabelMap:
    return LabelMap(labels, tuple(Segment(v, name, rgb) for v, (name, rgb) in SEGMENTS.items()))


def dicom_patient(folder: Path, labels: np.ndarray, layout: Layout, grid: VolumeGeometry | None = None) -> Patient:
    write_dicom_variant(folder, hu_volume(labels), grid or geometry(), layout)
    return load_patient(folder)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 1.0 if total == 0 else 2.0 * int(np.count_nonzero(a & b)) / total


def rasterise_independently(path: Path, files: dict[str, pydicom.Dataset]) -> dict[tuple[int, str], np.ndarray]:
    """(ROI number, CT SOP Instance UID) → the slice mask its contours enclose, by pydicom and
    scikit-image's polygon2mask (even-odd over the slice's contours), in that CT file's own pixels."""
    ds = pydicom.dcmread(path)
    planes: dict[tuple[int, str], np.ndarray] = {}
    for roi in ds.ROIContourSequence:
        for contour in roi.get("ContourSequence", []):
            uid = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
            ct = files[uid]
            points = np.asarray([float(v) for v in contour.ContourData]).reshape(-1, 3)
            pixels = np.linalg.solve(pixel_to_lps(ct), np.c_[points, np.ones(len(points))].T).T
            assert np.abs(pixels[:, 2]).max() < 1e-4, "contour off its referenced slice's plane"
            filled = polygon2mask((int(ct.Rows), int(ct.Columns)), pixels[:, [1, 0]])
            key = (int(roi.ReferencedROINumber), uid)
            planes[key] = planes.get(key, np.zeros_like(filled)) ^ filled
    return planes


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_every_layout_reads_back_voxel_for_voxel_in_ctseg_and_an_independent_rasteriser(
    layout: Layout, tmp_path: Path
) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, layout)
    path = write_rtstruct(label_map(labels), patient, tmp_path / "rs.dcm")

    back = read_rtstruct(path, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert [(s.value, s.name, s.color) for s in back.segments] == [(v, n, c) for v, (n, c) in SEGMENTS.items()]
    assert back.notes == ()

    files = ct_files(tmp_path / "ct" / "PATIENT_DICOM")
    planes = rasterise_independently(path, files)
    for uid, ds in files.items():
        for value in SEGMENTS:
            expected = file_labels(ds) == value
            got = planes.get((value, uid), np.zeros_like(expected))
            np.testing.assert_array_equal(got, expected, err_msg=f"ROI {value} on {uid}")


@RT_UTILS_WARNINGS
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_rt_utils_reads_ctseg_contours_and_ctseg_reads_rt_utils_contours(layout: Layout, tmp_path: Path) -> None:
    """rt-utils handles square slices with square pixels only: a cube of cubic voxels, every layout."""
    rt_utils = import_rt_utils()
    labels = label_volume((10, 10, 10))
    cube = geometry((0.9, 0.9, 0.9))
    patient = dicom_patient(tmp_path / "ct", labels, layout, cube)
    series = tmp_path / "ct" / "PATIENT_DICOM"
    add_study_attributes(series)
    ours = write_rtstruct(label_map(labels), patient, tmp_path / "ctseg.dcm")

    theirs = rt_utils.RTStructBuilder.create_from(dicom_series_path=str(series), rt_struct_path=str(ours))
    assert theirs.get_roi_names() == [name for name, _ in SEGMENTS.values()]
    for value, (name, _) in SEGMENTS.items():
        mask = theirs.get_roi_mask_by_name(name)  # [row, column, slice] of rt-utils' sorted series
        expected = np.stack([file_labels(ds) == value for ds in theirs.series_data], axis=-1)
        assert dice(mask, expected) >= 0.98, name
        np.testing.assert_array_equal(mask, expected, err_msg=name)  # quarter-pixel contours round exactly

    built = rt_utils.RTStructBuilder.create_new(dicom_series_path=str(series))
    for value, (name, rgb) in SEGMENTS.items():
        mask = np.stack([file_labels(ds) == value for ds in built.series_data], axis=-1)
        built.add_roi(mask=mask, color=list(rgb), name=name)
    built.save(str(tmp_path / "rt_utils.dcm"))
    back = read_rtstruct(tmp_path / "rt_utils.dcm", patient)
    for value, (name, rgb) in SEGMENTS.items():
        assert dice(back.mask(name), labels == value) >= 0.98, name
        assert back.segment(name).color == rgb
    np.testing.assert_array_equal(back.labels, labels)  # contours through pixel centres read exactly too


def test_structure_set_references_the_ct_and_holds_one_roi_per_segment(tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["coronal"])
    path = write_rtstruct(label_map(labels), patient, tmp_path / "rs.dcm", algorithm_type="AUTOMATIC")
    assert is_rtstruct(path) and not is_rtstruct(next((tmp_path / "ct" / "PATIENT_DICOM").iterdir()))
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == RTSTRUCT_SOP_CLASS and ds.Modality == "RTSTRUCT"
    assert ds.StudyInstanceUID == patient.study_uid and ds.PatientID == patient.patient_id
    frame = ds.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == patient.frame_of_reference_uid
    series = frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == patient.series_uid
    assert {i.ReferencedSOPInstanceUID for i in series.ContourImageSequence} == set(patient.source.sop_instance_uids)
    assert [(r.ROINumber, r.ROIName, r.ROIGenerationAlgorithm) for r in ds.StructureSetROISequence] == [
        (v, n, "AUTOMATIC") for v, (n, _) in SEGMENTS.items()
    ]
    assert [list(c.ROIDisplayColor) for c in ds.ROIContourSequence] == [list(rgb) for _, rgb in SEGMENTS.values()]
    assert ds.RTROIObservationsSequence[0].RTROIIdentificationCodeSequence[0].CodeMeaning == "Liver"
    for roi in ds.ROIContourSequence:
        for contour in roi.ContourSequence:
            assert contour.ContourGeometricType == "CLOSED_PLANAR"
            assert int(contour.NumberOfContourPoints) * 3 == len(contour.ContourData)
    assert rtstruct_roi_names(path) == ["liver", "tumour", "portal vein"]


def test_holes_and_islands_are_separate_contours(tmp_path: Path) -> None:
    labels = np.zeros((3, 12, 12), dtype=np.uint8)
    labels[1, 2:10, 2:10] = 1
    labels[1, 4:7, 4:7] = 0  # a hole
    labels[1, 5, 5] = 1  # an island inside the hole
    labels[1, 0, 11] = 1  # a one-pixel island in a corner
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["as stored"])
    segments = LabelMap(labels, (Segment(1, "liver", (221, 130, 101)),))
    path = write_rtstruct(segments, patient, tmp_path / "rs.dcm")
    assert len(pydicom.dcmread(path).ROIContourSequence[0].ContourSequence) == 4
    np.testing.assert_array_equal(read_rtstruct(path, patient).labels, labels)


@RT_UTILS_WARNINGS
def test_overlapping_rois_keep_their_masks_and_the_smaller_wins_in_the_label_map(tmp_path: Path) -> None:
    rt_utils = import_rt_utils()
    labels = label_volume((10, 10, 10))
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["sagittal"], geometry((0.9, 0.9, 0.9)))
    series = tmp_path / "ct" / "PATIENT_DICOM"
    add_study_attributes(series)
    built = rt_utils.RTStructBuilder.create_new(dicom_series_path=str(series))
    organ = np.stack([np.isin(file_labels(ds), (1, 2)) for ds in built.series_data], axis=-1)
    lesion = np.stack([file_labels(ds) == 2 for ds in built.series_data], axis=-1)
    built.add_roi(mask=organ, name="Liver")
    built.add_roi(mask=lesion, name="GTV")
    built.save(str(tmp_path / "rs.dcm"))
    masks = read_rtstruct_masks(tmp_path / "rs.dcm", patient)
    np.testing.assert_array_equal(masks["Liver"], np.isin(labels, (1, 2)))
    back = read_rtstruct(tmp_path / "rs.dcm", patient)
    np.testing.assert_array_equal(back.mask("GTV"), labels == 2)
    np.testing.assert_array_equal(back.mask("Liver"), labels == 1)
    assert any("overlap" in note and "Liver and GTV" in note for note in back.notes)


def test_gantry_tilted_stack_contours_follow_the_tilted_slices(tmp_path: Path) -> None:
    labels = np.pad(label_volume(), ((0, 0), (8, 8), (0, 0)))
    folder = tmp_path / "ct"
    write_dicom_variant(folder, hu_volume(labels), geometry(), NAMED_LAYOUTS["as stored"], tilt_rows_per_slice=1.0)
    patient = load_patient(folder)
    assert patient.source.is_tilted
    path = write_rtstruct(label_map(labels), patient, tmp_path / "rs.dcm")
    files = ct_files(folder / "PATIENT_DICOM")
    for (value, uid), plane in rasterise_independently(path, files).items():
        np.testing.assert_array_equal(plane, file_labels(files[uid]) == value)
    np.testing.assert_array_equal(read_rtstruct(path, patient).labels, labels)


def test_enhanced_ct_contours_reference_frames(tmp_path: Path) -> None:
    labels = label_volume()
    path = write_enhanced_ct(tmp_path / "e" / "ct.dcm", hu_volume(labels), geometry(), NAMED_LAYOUTS["rows flipped"])
    patient = load_patient(path.parent)
    written = write_rtstruct(label_map(labels), patient, tmp_path / "rs.dcm")
    contours = pydicom.dcmread(written).ROIContourSequence[0].ContourSequence
    assert all("ReferencedFrameNumber" in c.ContourImageSequence[0] for c in contours)
    np.testing.assert_array_equal(read_rtstruct(written, patient).labels, labels)


def test_oblique_series_keeps_its_exact_geometry(tmp_path: Path) -> None:
    angle = np.radians(12.0)
    rotated = VolumeGeometry(
        geometry().origin_mm, (np.cos(angle), np.sin(angle), 0.0), (-np.sin(angle), np.cos(angle), 0.0), (2.5, 0.8, 0.7)
    )
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["columns flipped"], rotated)
    path = write_rtstruct(label_map(labels), patient, tmp_path / "rs.dcm")
    files = ct_files(tmp_path / "ct" / "PATIENT_DICOM")
    for (value, uid), plane in rasterise_independently(path, files).items():
        np.testing.assert_array_equal(plane, file_labels(files[uid]) == value)
    np.testing.assert_array_equal(read_rtstruct(path, patient).labels, labels)


def test_rtstruct_reads_onto_a_nifti_ct_of_the_same_grid(tmp_path: Path) -> None:
    labels = label_volume()
    dicom = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["as stored"])
    path = write_rtstruct(label_map(labels), dicom, tmp_path / "rs.dcm")
    write_nifti_ct(tmp_path / "n" / "ct.nii.gz", hu_volume(labels), geometry(), NAMED_LAYOUTS["sagittal"])
    nifti = load_patient(tmp_path / "n")
    np.testing.assert_array_equal(read_rtstruct(path, nifti).labels, labels)
    with pytest.raises(CtsegError, match="RTSTRUCT needs the CT as a DICOM series"):
        write_rtstruct(label_map(labels), nifti, tmp_path / "x.dcm")


def test_other_frame_of_reference_or_grid_is_refused(tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["as stored"])
    path = write_rtstruct(label_map(labels), patient, tmp_path / "rs.dcm")
    ds = pydicom.dcmread(path)
    ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "1.2.3.999"
    ds.save_as(tmp_path / "other_frame.dcm")
    with pytest.raises(MaskMismatchError, match="another frame of reference"):
        read_rtstruct(tmp_path / "other_frame.dcm", patient)
    ds = pydicom.dcmread(path)
    for roi in ds.ROIContourSequence:
        for contour in roi.ContourSequence:
            points = np.asarray([float(v) for v in contour.ContourData]).reshape(-1, 3) + np.array([0.0, 0.0, 1.1])
            contour.ContourData = [f"{v:.10g}" for v in points.ravel()]
    ds.save_as(tmp_path / "between.dcm")
    with pytest.raises(MaskMismatchError, match="no RTSTRUCT contour lies on a slice"):
        read_rtstruct(tmp_path / "between.dcm", patient)
