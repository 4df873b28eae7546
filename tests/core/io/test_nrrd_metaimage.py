"""NRRD and MetaImage CTs and labels, and Slicer's .seg.nrrd: files written by SimpleITK, pynrrd and
slicerio in every axis layout open right way round; ctseg's label files read back by slicerio,
pynrrd, SimpleITK and nibabel lie on the CT voxel for voxel with their names, colours and values."""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest
import SimpleITK as sitk
import slicerio
from label_volumes import (
    SEGMENTS,
    assert_volume_on_dicom,
    ct_files,
    geometry,
    hu_volume,
    label_volume,
    write_itk_ct,
)
from pydicom.sr.codedict import codes

from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.io.itk_image import is_itk_image, load_itk_patient, read_itk_labels
from ctseg_core.io.label_table import label_table_path, write_label_table
from ctseg_core.io.loading import load_patient
from ctseg_core.io.nifti import read_nifti_labels, write_nifti_labels
from ctseg_core.io.seg_nrrd import is_seg_nrrd, read_seg_nrrd, write_seg_nrrd
from ctseg_core.io.segments import LabelMap, Segment
from ctseg_core.synth.variants import NAMED_LAYOUTS, Layout, all_layouts, write_dicom_variant

LAYOUTS = all_layouts()
SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
#: One line of an ITK-SNAP label description: IDX R G B A VIS MSH "LABEL"
ITK_SNAP_LINE = re.compile(r'^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([01])\s+([01])\s+"(.*)"$')


def label_map(labels: np.ndarray) -> LabelMap:
    return LabelMap(labels, tuple(Segment(v, name, rgb) for v, (name, rgb) in SEGMENTS.items()))


def itk_snap_table(path: Path) -> list[tuple[int, tuple[int, int, int], str]]:
    """(value, RGB, name) of each line of an ITK-SNAP label description, parsed by its documented layout."""
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        match = ITK_SNAP_LINE.match(line)
        assert match, f"not an ITK-SNAP line: {line!r}"
        value, red, green, blue = (int(match.group(i)) for i in range(1, 5))
        rows.append((value, (red, green, blue), match.group(8)))
    return rows


def expected_table() -> list[tuple[int, tuple[int, int, int], str]]:
    return [(0, (0, 0, 0), "Clear Label")] + [(v, rgb, name) for v, (name, rgb) in SEGMENTS.items()]


# ----------------------------------------------------------------------------- CT volumes


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_simpleitk_ct_in_every_layout_and_format_loads_to_the_canonical_volume(
    layout: Layout, suffix: str, tmp_path: Path
) -> None:
    labels = label_volume()
    hu = hu_volume(labels)
    path = write_itk_ct(tmp_path / f"ct{suffix}", hu, geometry(), layout)
    assert is_itk_image(path)
    patient = load_itk_patient(path)
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_allclose(patient.geometry.affine_lps(), geometry().affine_lps(), atol=1e-6)
    assert patient.warnings == []
    assert patient.source.kind == "itk"


@pytest.mark.parametrize("detached", [False, True], ids=["nrrd", "nhdr"])
def test_pynrrd_ras_space_header_is_read_in_lps(detached: bool, tmp_path: Path) -> None:
    """A NRRD in RAS space (as some tools write it): pynrrd writes it, ctseg must flip x and y."""
    labels = label_volume()
    hu = hu_volume(labels)
    grid = geometry()
    layout = NAMED_LAYOUTS["sagittal"]
    stored = layout.store(hu)  # [a0, a1, a2]; NRRD's fastest axis is the last
    affine = layout.stored_affine(grid, hu.shape)
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    header = {
        "space": "right-anterior-superior",
        "space directions": ras[:3, [2, 1, 0]].T,
        "space origin": ras[:3, 3],
        "kinds": ["domain"] * 3,
    }
    path = tmp_path / ("ct.nhdr" if detached else "ct.nrrd")
    nrrd.write(str(path), np.ascontiguousarray(stored.T), header, detached_header=detached)
    patient = load_itk_patient(path)
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_allclose(patient.geometry.affine_lps(), grid.affine_lps(), atol=1e-6)


def test_unreadable_and_non_3d_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.nrrd").write_text("NRRD0004\nnot a header\n")
    with pytest.raises(CtsegError, match="not a readable NRRD file"):
        load_itk_patient(tmp_path / "bad.nrrd")
    sitk.WriteImage(sitk.Image([4, 5], sitk.sitkInt16), str(tmp_path / "flat.mha"))
    with pytest.raises(CtsegError, match="expected a 3D volume"):
        load_itk_patient(tmp_path / "flat.mha")
    with pytest.raises(CtsegError, match="does not exist"):
        load_itk_patient(tmp_path / "missing.mhd")


# ----------------------------------------------------------------------------- label files written by ctseg


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_seg_nrrd_and_nifti_labels_lie_on_the_dicom_ct_in_every_layout(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    write_dicom_variant(tmp_path / "ct", hu_volume(labels), geometry(), layout)
    patient = load_patient(tmp_path / "ct")
    files = ct_files(tmp_path / "ct" / "PATIENT_DICOM")
    segments = label_map(labels)

    seg_path = write_seg_nrrd(segments, patient, tmp_path / "labels.seg.nrrd")
    slicer = slicerio.read_segmentation(str(seg_path))
    assert_volume_on_dicom(slicer["voxels"], slicer["ijkToLPS"], files)
    assert [(s["labelValue"], s["name"], tuple(round(c * 255) for c in s["color"])) for s in slicer["segments"]] == [
        (v, n, c) for v, (n, c) in SEGMENTS.items()
    ]
    assert slicer["segments"][0]["terminology"]["type"] == ["SCT", "10200004", "Liver"]
    header = nrrd.read_header(str(seg_path))
    assert header["space"] == "left-posterior-superior" and header["Segment1_Name"] == "tumour"
    image = sitk.ReadImage(str(seg_path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image).T, slicer["voxels"])
    np.testing.assert_allclose(image.GetOrigin(), slicer["ijkToLPS"][:3, 3], atol=1e-6)
    assert read_seg_nrrd(seg_path, patient).segments == read_itk_labels(seg_path, patient).segments
    back = read_seg_nrrd(seg_path, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert [(s.value, s.name, s.color) for s in back.segments] == [(v, n, c) for v, (n, c) in SEGMENTS.items()]
    assert back.segment("liver").property_type == codes.SCT.Liver

    nifti_path = write_nifti_labels(segments, patient, tmp_path / "labels.nii.gz")
    image = nib.load(nifti_path)
    assert_volume_on_dicom(np.asarray(image.dataobj), np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine, files)
    assert itk_snap_table(tmp_path / "labels.txt") == expected_table()
    back = read_nifti_labels(nifti_path, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert [(s.value, s.name, s.color) for s in back.segments] == [(v, n, c) for v, (n, c) in SEGMENTS.items()]
    assert back.notes == ()


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_label_files_of_a_nrrd_ct_share_its_grid_in_every_layout(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    ct_path = write_itk_ct(tmp_path / "ct.nrrd", hu_volume(labels), geometry(), layout)
    patient = load_itk_patient(ct_path)
    ct = sitk.ReadImage(str(ct_path))
    for written in (
        write_seg_nrrd(label_map(labels), patient, tmp_path / "labels.seg.nrrd"),
        write_nifti_labels(label_map(labels), patient, tmp_path / "labels.nii.gz"),
    ):
        image = sitk.ReadImage(str(written))
        np.testing.assert_allclose(image.GetOrigin(), ct.GetOrigin(), atol=1e-5)
        np.testing.assert_allclose(image.GetSpacing(), ct.GetSpacing(), atol=1e-6)
        np.testing.assert_allclose(image.GetDirection(), ct.GetDirection(), atol=1e-6)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(ct) // 100)


# ----------------------------------------------------------------------------- label files written by the libraries


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_slicerio_seg_nrrd_opens_with_names_colours_values_and_terminology(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    patient = load_itk_patient(
        write_itk_ct(tmp_path / "ct.nrrd", hu_volume(labels), geometry(), NAMED_LAYOUTS["coronal"])
    )
    remapped = np.select([labels == 1, labels == 2, labels == 3], [5, 9, 2], 0).astype(np.uint8)
    segmentation = {
        "voxels": np.ascontiguousarray(layout.store(remapped).T),  # [i, j, k] = [a2, a1, a0]
        "ijkToLPS": layout.stored_affine(geometry(), labels.shape)[:, [2, 1, 0, 3]],
        "encoding": "gzip",
        "segments": [
            {"id": "Segment_1", "name": "Liver", "labelValue": 5, "color": [0.8, 0.4, 0.2], "layer": 0},
            {
                "id": "Segment_2",
                "name": "Tumor",
                "labelValue": 9,
                "color": [0.2, 0.9, 0.2],
                "terminology": {
                    "contextName": "Segmentation category and type - 3D Slicer General Anatomy list",
                    "category": ["SCT", "49755003", "Morphologically Altered Structure"],
                    "type": ["SCT", "4147007", "Mass"],
                },
            },
            {"id": "Segment_3", "name": "Portal vein", "labelValue": 2, "color": [0.0, 0.6, 0.8]},
        ],
    }
    slicerio.write_segmentation(str(tmp_path / "s.seg.nrrd"), segmentation)
    assert is_seg_nrrd(tmp_path / "s.seg.nrrd")
    back = read_itk_labels(tmp_path / "s.seg.nrrd", patient)
    np.testing.assert_array_equal(back.labels, remapped)
    assert [(s.value, s.name, s.color) for s in back.segments] == [
        (5, "Liver", (204, 102, 51)),
        (9, "Tumor", (51, 230, 51)),
        (2, "Portal vein", (0, 153, 204)),
    ]
    assert back.segment("Tumor").property_type == codes.SCT.Mass
    assert back.segment("Liver").property_type == codes.SCT.Liver  # no terminology: known by name


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_simpleitk_label_map_in_every_layout_opens_on_the_ct(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    patient = load_itk_patient(
        write_itk_ct(tmp_path / "ct.mhd", hu_volume(labels), geometry(), NAMED_LAYOUTS["sagittal"])
    )
    back = read_itk_labels(write_itk_ct(tmp_path / "labels.mha", labels, geometry(), layout), patient)
    np.testing.assert_array_equal(back.labels, labels)


def test_layered_seg_nrrd_with_overlapping_segments_is_merged_with_a_note(tmp_path: Path) -> None:
    labels = label_volume()
    write_dicom_variant(tmp_path / "ct", hu_volume(labels), geometry(), NAMED_LAYOUTS["columns flipped"])
    patient = load_patient(tmp_path / "ct")
    organ = np.isin(labels, (1, 2)).astype(np.uint8)
    layers = np.stack([organ.T, (labels == 2).astype(np.uint8).T])  # [layer, i, j, k] on the canonical grid
    segmentation = {
        "voxels": layers,
        "ijkToLPS": geometry().affine_lps(),
        "segments": [
            {"id": "a", "name": "liver", "labelValue": 1, "layer": 0, "color": [1.0, 0.0, 0.0]},
            {"id": "b", "name": "tumour", "labelValue": 1, "layer": 1, "color": [0.0, 1.0, 0.0]},
        ],
    }
    slicerio.write_segmentation(str(tmp_path / "layers.seg.nrrd"), segmentation)
    back = read_seg_nrrd(tmp_path / "layers.seg.nrrd", patient)
    assert back.names == ["liver", "tumour"]
    np.testing.assert_array_equal(back.mask("tumour"), labels == 2)
    np.testing.assert_array_equal(back.mask("liver"), labels == 1)
    assert any("overlap" in note for note in back.notes)


def test_cropped_label_is_padded_and_misaligned_labels_are_refused(tmp_path: Path) -> None:
    labels = label_volume()
    ct_path = write_itk_ct(tmp_path / "ct.mha", hu_volume(labels), geometry(), NAMED_LAYOUTS["slices reversed"])
    patient = load_itk_patient(ct_path)
    spacing = (0.7, 0.8, 2.5)  # (i, j, k)
    cropped = sitk.GetImageFromArray(np.ascontiguousarray(labels[2:6, 3:9, 1:8]))
    cropped.SetSpacing(spacing)
    cropped.SetOrigin([float(v) for v in geometry().voxel_to_mm(2, 3, 1)])
    sitk.WriteImage(cropped, str(tmp_path / "crop.nrrd"))
    back = read_itk_labels(tmp_path / "crop.nrrd", patient)
    expected = np.zeros_like(labels)
    expected[2:6, 3:9, 1:8] = labels[2:6, 3:9, 1:8]
    np.testing.assert_array_equal(back.labels, expected)

    shifted = sitk.GetImageFromArray(labels)
    shifted.SetSpacing(spacing)
    shifted.SetOrigin([float(v) for v in geometry().voxel_to_mm(0, 0.5, 0)])
    sitk.WriteImage(shifted, str(tmp_path / "shifted.mha"))
    with pytest.raises(MaskMismatchError, match="shifted by"):
        read_itk_labels(tmp_path / "shifted.mha", patient)
    rotated = sitk.GetImageFromArray(labels)
    rotated.SetSpacing(spacing)
    angle = np.radians(10.0)
    rotated.SetDirection([np.cos(angle), -np.sin(angle), 0, np.sin(angle), np.cos(angle), 0, 0, 0, 1])
    sitk.WriteImage(rotated, str(tmp_path / "rotated.mha"))
    with pytest.raises(MaskMismatchError, match="rotated or scaled"):
        read_itk_labels(tmp_path / "rotated.mha", patient)
    outside = sitk.GetImageFromArray(labels)
    outside.SetSpacing(spacing)
    outside.SetOrigin([float(v) for v in geometry().voxel_to_mm(3, 0, 0)])
    sitk.WriteImage(outside, str(tmp_path / "outside.nrrd"))
    with pytest.raises(MaskMismatchError, match="outside the CT"):
        read_itk_labels(tmp_path / "outside.nrrd", patient)


def test_plain_label_map_is_named_by_its_itk_snap_table_or_said_to_hold_several_labels(tmp_path: Path) -> None:
    labels = label_volume()
    ct_path = write_itk_ct(tmp_path / "ct.nrrd", hu_volume(labels), geometry(), NAMED_LAYOUTS["transposed"])
    patient = load_itk_patient(ct_path)
    write_itk_ct(tmp_path / "seg.mha", labels, geometry(), NAMED_LAYOUTS["coronal"])
    bare = read_itk_labels(tmp_path / "seg.mha", patient)
    np.testing.assert_array_equal(bare.labels, labels)
    assert bare.names == ["label 1", "label 2", "label 3"]
    assert bare.notes and "holds 3 labels (values 1, 2, 3) and no label description (seg.txt)" in bare.notes[0]
    write_label_table([Segment(v, n, c) for v, (n, c) in SEGMENTS.items()], label_table_path(tmp_path / "seg.mha"))
    named = read_itk_labels(tmp_path / "seg.mha", patient)
    assert [(s.value, s.name, s.color) for s in named.segments] == [(v, n, c) for v, (n, c) in SEGMENTS.items()]
    assert named.notes == ()
