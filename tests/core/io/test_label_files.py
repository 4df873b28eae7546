"""Label maps with names: the segment table, ITK-SNAP label descriptions, multi-label NIfTI files
written by nibabel (with and without a description) and the contour geometry RTSTRUCT relies on."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from label_volumes import SEGMENTS, geometry, hu_volume, import_with_opencv, label_volume, write_nifti_ct
from pydicom.sr.codedict import codes
from scipy import ndimage

from ctseg_core.display.palette import ORGANS
from ctseg_core.errors import CtsegError
from ctseg_core.io.contours import fill_contours, mask_contours
from ctseg_core.io.label_files import (
    WRITE_FORMATS,
    label_file_kind,
    read_label_file,
    segment_names,
    write_label_file,
)
from ctseg_core.io.label_table import (
    find_label_table,
    format_label_table,
    label_table_path,
    read_label_table,
    write_label_table,
)
from ctseg_core.io.loading import load_patient
from ctseg_core.io.nifti import read_nifti_labels, read_nifti_mask, write_nifti_labels
from ctseg_core.io.segments import LabelMap, Segment, default_segment, organ_key
from ctseg_core.synth.variants import NAMED_LAYOUTS, Layout, all_layouts, write_dicom_variant

#: A description as ITK-SNAP itself saves it (ColorLabelTable::SaveToFile), names with spaces.
ITK_SNAP_FILE = """################################################
# ITK-SnAP Label Description File
# File format: 
# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
# Fields: 
#    IDX:   Zero-based index 
#    -R-:   Red color component (0..255)
#    -G-:   Green color component (0..255)
#    -B-:   Blue color component (0..255)
#    -A-:   Label transparency (0.00 .. 1.00)
#    VIS:   Label visibility (0 or 1)
#    IDX:   Label mesh visibility (0 or 1)
#  LABEL:   Label description 
################################################
    0     0    0    0        0  0  0    "Clear Label"
    1   255    0    0        1  1  1    "Liver"
    2     0  255    0        1  1  1    "Hepatic tumor 1"
    5     0    0  255      0.5  1  0    "Portal vein"
"""  # noqa: W291  (ITK-SNAP's header lines end in spaces)


# ----------------------------------------------------------------------------- segment table


def test_organ_names_are_matched_loosely_for_colour_and_code() -> None:
    assert organ_key("livertumor01") == organ_key("Liver tumour") == organ_key("tumor") == "tumour"
    assert organ_key("leftkidney") == organ_key("Kidney_R") == "kidney"
    assert organ_key("venoussystem") == "venous system" and organ_key("portalvein") == "portal vein"
    assert organ_key("something else") is None
    liver = default_segment("Liver", 1)
    assert liver.color == ORGANS["liver"] and liver.concept() == (codes.SCT.Organ, codes.SCT.Liver)
    other = default_segment("marker", 4)
    assert other.concept() == (codes.SCT.Tissue, codes.SCT.Tissue) and other.color not in ORGANS.values()


def test_label_map_checks_its_table() -> None:
    labels = np.zeros((2, 3, 4), dtype=np.uint8)
    labels[0, 0, 0] = 2
    with pytest.raises(ValueError, match="have no segment"):
        LabelMap(labels, (Segment(1, "liver", (1, 1, 1)),))
    with pytest.raises(ValueError, match="unique"):
        LabelMap(labels, (Segment(2, "a", (1, 1, 1)), Segment(2, "b", (1, 1, 1))))
    with pytest.raises(ValueError, match="names must be unique"):
        LabelMap(labels, (Segment(2, "a", (1, 1, 1)), Segment(3, "a", (1, 1, 1))))
    with pytest.raises(ValueError, match="3D integer"):
        LabelMap(labels.astype(float), ())
    table = LabelMap(labels, (Segment(2, "tumour", (1, 2, 3)), Segment(7, "empty", (4, 5, 6))))
    assert table.names == ["tumour", "empty"] and not table.mask("empty").any()
    assert list(table.masks()) == ["tumour", "empty"]
    with pytest.raises(KeyError, match="no segment named 'liver'"):
        table.mask("liver")


def test_from_masks_numbers_segments_and_lets_the_smaller_overlapping_mask_win() -> None:
    labels = label_volume()
    liver_with_tumour = np.isin(labels, (1, 2))
    combined = LabelMap.from_masks({"liver": liver_with_tumour, "livertumor01": labels == 2, "bone": labels == 3})
    assert [(s.value, s.name) for s in combined.segments] == [(1, "liver"), (2, "livertumor01"), (3, "bone")]
    assert combined.segment("livertumor01").color == ORGANS["tumour"]
    np.testing.assert_array_equal(combined.labels, labels)
    assert combined.notes == (
        f"segments overlap (liver and livertumor01 share {np.count_nonzero(labels == 2)} voxels): "
        "the label map gives each shared voxel to the smaller segment",
    )
    assert LabelMap.from_mask(labels == 1).names == ["liver"]


# ----------------------------------------------------------------------------- ITK-SNAP label descriptions


def test_itk_snap_description_reads_names_colours_and_values(tmp_path: Path) -> None:
    (tmp_path / "seg.txt").write_text(ITK_SNAP_FILE)
    segments = read_label_table(tmp_path / "seg.txt")
    assert [(s.value, s.name, s.color) for s in segments] == [
        (1, "Liver", (255, 0, 0)),
        (2, "Hepatic tumor 1", (0, 255, 0)),
        (5, "Portal vein", (0, 0, 255)),
    ]
    assert segments[1].property_type is None and segments[0].property_type == codes.SCT.Liver
    (tmp_path / "bad.txt").write_text("1 2 three\n")
    with pytest.raises(CtsegError, match="line 1 is not an ITK-SNAP label description line"):
        read_label_table(tmp_path / "bad.txt")


def test_written_description_is_itk_snaps_layout_and_reads_back(tmp_path: Path) -> None:
    segments = [
        Segment(1, "Liver", (255, 0, 0)),
        Segment(2, 'say "hi"', (0, 255, 0)),
        Segment(5, "Portal vein", (0, 0, 255)),
    ]
    text = format_label_table(segments)
    header = ITK_SNAP_FILE.split("    0     0")[0]
    assert text.startswith(header)
    assert '    0     0    0    0        0  0  0    "Clear Label"\n' in text
    assert '    5     0    0  255        1  1  1    "Portal vein"\n' in text
    path = write_label_table(segments, tmp_path / "x.txt")
    assert [(s.value, s.name, s.color) for s in read_label_table(path)] == [
        (1, "Liver", (255, 0, 0)),
        (2, "say 'hi'", (0, 255, 0)),
        (5, "Portal vein", (0, 0, 255)),
    ]


def test_description_is_found_beside_the_label_file(tmp_path: Path) -> None:
    assert label_table_path(tmp_path / "a.nii.gz") == tmp_path / "a.txt"
    assert label_table_path(tmp_path / "a.seg.nrrd") == tmp_path / "a.txt"
    assert find_label_table(tmp_path / "a.nii.gz") is None
    (tmp_path / "labels.txt").write_text(ITK_SNAP_FILE)
    assert find_label_table(tmp_path / "a.nii.gz") == tmp_path / "labels.txt"
    (tmp_path / "a_labels.txt").write_text(ITK_SNAP_FILE)
    assert find_label_table(tmp_path / "a.nii.gz") == tmp_path / "a_labels.txt"
    (tmp_path / "a.txt").write_text(ITK_SNAP_FILE)
    assert find_label_table(tmp_path / "a.nii.gz") == tmp_path / "a.txt"


# ----------------------------------------------------------------------------- multi-label NIfTI


@pytest.fixture
def nifti_patient(tmp_path: Path):
    labels = label_volume()
    write_nifti_ct(tmp_path / "ct" / "image.nii.gz", hu_volume(labels), geometry(), NAMED_LAYOUTS["rotated 90°"])
    return load_patient(tmp_path / "ct"), labels


def test_totalsegmentator_style_nifti_without_description_says_it_holds_several_labels(
    nifti_patient, tmp_path: Path
) -> None:
    patient, labels = nifti_patient
    path = write_nifti_ct(tmp_path / "segmentations.nii.gz", labels, geometry(), NAMED_LAYOUTS["sagittal"])
    back = read_nifti_labels(path, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert back.names == ["label 1", "label 2", "label 3"]
    assert back.notes == (
        "segmentations.nii.gz holds 3 labels (values 1, 2, 3) and no label description (segmentations.txt): "
        "the segments are named by value",
    )
    single = write_nifti_ct(
        tmp_path / "liver.nii.gz", (labels == 1).astype(np.uint8), geometry(), NAMED_LAYOUTS["coronal"]
    )
    one = read_nifti_labels(single, patient)
    assert one.names == ["liver"] and one.notes == ()
    np.testing.assert_array_equal(read_nifti_mask(single, patient), labels == 1)


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_nifti_with_an_itk_snap_description_opens_with_its_names(layout: Layout, nifti_patient, tmp_path: Path) -> None:
    patient, labels = nifti_patient
    sparse = np.select([labels == 1, labels == 2, labels == 3], [1, 2, 5], 0).astype(np.int16)
    path = write_nifti_ct(tmp_path / "seg.nii.gz", sparse, geometry(), layout)
    (tmp_path / "seg.txt").write_text(ITK_SNAP_FILE)
    back = read_nifti_labels(path, patient)
    assert back.names == ["Liver", "Hepatic tumor 1", "Portal vein"]
    np.testing.assert_array_equal(back.mask("Portal vein"), labels == 3)
    assert back.segment("Hepatic tumor 1").color == (0, 255, 0)


def test_ctseg_nifti_labels_keep_values_above_255_and_refuse_probability_maps(nifti_patient, tmp_path: Path) -> None:
    patient, labels = nifti_patient
    wide = LabelMap(
        np.where(labels == 3, 300, labels.astype(np.uint16)).astype(np.uint16),
        (Segment(1, "liver", (1, 1, 1)), Segment(2, "tumour", (2, 2, 2)), Segment(300, "vessel", (3, 3, 3))),
    )
    written = write_nifti_labels(wide, patient, tmp_path / "wide.nii")
    assert np.asarray(nib.load(written).dataobj).max() == 300
    np.testing.assert_array_equal(read_nifti_labels(written, patient).labels, wide.labels)
    probability = write_nifti_ct(tmp_path / "p.nii.gz", labels, geometry(), NAMED_LAYOUTS["as stored"])
    image = nib.load(probability)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj) * 0.3, image.affine), str(probability))
    with pytest.raises(CtsegError, match="not whole numbers"):
        read_nifti_labels(probability, patient)


# ----------------------------------------------------------------------------- contours


def random_masks(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for trial in range(count):
        rows, columns = (int(n) for n in rng.integers(2, 16, 2))
        mask = rng.random((rows, columns)) < rng.uniform(0.2, 0.8)
        if trial % 2:
            mask = ndimage.gaussian_filter(mask.astype(float), 1.0) > 0.45
        yield mask


def test_contours_enclose_exactly_the_mask_for_centre_and_rounding_readers() -> None:
    """Noise masks (islands, holes, diagonal touches, edges) round trip through ctseg's contours; a
    reader that rounds vertices and fills boundary-inclusive (OpenCV's fillPoly, as rt-utils) agrees."""
    cv2 = import_with_opencv("cv2")
    for mask in random_masks(300):
        contours = mask_contours(mask)
        np.testing.assert_array_equal(fill_contours(contours, mask.shape), mask)
        rounded = np.zeros(mask.shape, dtype=np.uint8)
        if contours:
            cv2.fillPoly(rounded, [np.around(c[:, ::-1]).astype(np.int32) for c in contours], 1)
        np.testing.assert_array_equal(rounded > 0, mask)


def test_opencv_contours_through_pixel_centres_read_exactly() -> None:
    cv2 = import_with_opencv("cv2")
    for mask in random_masks(300, seed=1):
        found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        np.testing.assert_array_equal(fill_contours([c[:, 0, ::-1].astype(float) for c in found], mask.shape), mask)


def test_contours_through_boundary_pixel_centres_read_exactly() -> None:
    """Contours drawn through the centres of the boundary pixels (OpenCV's, hence rt-utils' and
    TotalSegmentator's), written out by hand: a square with a square hole, a diagonal bar, one pixel."""
    mask = np.zeros((12, 12), dtype=bool)
    mask[1:8, 1:8] = True
    mask[3:6, 3:6] = False
    for k in range(4):
        mask[8 + k, 8 + k] = True
    mask[0, 11] = True
    outer = np.array([[1, 1], [1, 7], [7, 7], [7, 1]], dtype=float)  # (row, column)
    hole = np.array([[2, 3], [2, 5], [3, 6], [5, 6], [6, 5], [6, 3], [5, 2], [3, 2]], dtype=float)
    bar = np.array([[8, 8], [11, 11]], dtype=float)
    pixel = np.array([[0, 11]], dtype=float)
    np.testing.assert_array_equal(fill_contours([outer, hole, bar, pixel], mask.shape), mask)


def test_contours_of_an_empty_slice_and_contours_off_the_slice() -> None:
    assert mask_contours(np.zeros((4, 5), dtype=bool)) == []
    assert not fill_contours([], (4, 5)).any()
    square = np.array([[-5.0, -5.0], [-5.0, 50.0], [50.0, 50.0], [50.0, -5.0]])
    assert fill_contours([square], (4, 5)).all()


# ----------------------------------------------------------------------------- one entry point


@pytest.mark.parametrize("fmt", ["nifti", "seg", "rtstruct", "seg.nrrd"])
def test_every_format_is_recognised_by_content_listed_by_name_and_read_back(fmt: str, tmp_path: Path) -> None:
    labels = label_volume()
    write_dicom_variant(tmp_path / "ct", hu_volume(labels), geometry(), NAMED_LAYOUTS["coronal"])
    patient = load_patient(tmp_path / "ct")
    table = LabelMap(labels, tuple(Segment(v, n, c) for v, (n, c) in SEGMENTS.items()))
    written = write_label_file(table, patient, tmp_path / f"out{WRITE_FORMATS[fmt]}", fmt)
    anonymous = written.rename(tmp_path / {"nifti": "labels.nii.gz", "seg.nrrd": "labels.nrrd"}.get(fmt, "labels"))
    if fmt == "nifti":
        (tmp_path / "out.txt").rename(tmp_path / "labels.txt")  # the description follows its file
    assert label_file_kind(anonymous) == fmt
    assert segment_names(anonymous) == [name for name, _ in SEGMENTS.values()]
    back = read_label_file(anonymous, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert back.names == [name for name, _ in SEGMENTS.values()]


def test_other_files_are_not_label_files(tmp_path: Path) -> None:
    write_dicom_variant(tmp_path / "ct", hu_volume(label_volume()), geometry(), NAMED_LAYOUTS["as stored"])
    ct_slice = next((tmp_path / "ct" / "PATIENT_DICOM").iterdir())
    (tmp_path / "notes.txt").write_text("hello")
    for path in (ct_slice, tmp_path / "notes.txt", tmp_path / "missing.dcm", tmp_path):
        assert label_file_kind(path) is None
    with pytest.raises(CtsegError, match="not a label file"):
        read_label_file(ct_slice, load_patient(tmp_path / "ct"))
    with pytest.raises(ValueError, match="format must be one of"):
        write_label_file(
            LabelMap.from_mask(np.zeros((2, 2, 2), bool)), load_patient(tmp_path / "ct"), tmp_path / "x", "png"
        )
