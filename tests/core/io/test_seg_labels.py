"""DICOM SEG with several named segments: ctseg's SEGs read back by highdicom in all 48 axis layouts
with names, colours and numbers; SEGs built by highdicom open in ctseg with theirs."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from label_volumes import SEGMENTS, ct_files, file_labels, geometry, hu_volume, label_volume
from pydicom.sr.codedict import codes

from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.io.seg import read_dicom_seg, read_dicom_seg_labels, write_dicom_seg_labels
from ctseg_core.io.segments import LabelMap, Segment
from ctseg_core.synth.variants import NAMED_LAYOUTS, Layout, all_layouts, write_dicom_variant


def label_map(labels: np.ndarray) -> LabelMap:
    return LabelMap(labels, tuple(Segment(v, name, rgb) for v, (name, rgb) in SEGMENTS.items()))


def dicom_patient(folder: Path, labels: np.ndarray, layout: Layout) -> Patient:
    write_dicom_variant(folder, hu_volume(labels), geometry(), layout)
    return load_patient(folder)


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_highdicom_reads_every_segment_on_its_ct_slice_in_every_layout(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, layout)
    path = write_dicom_seg_labels(label_map(labels), patient, tmp_path / "seg.dcm")

    seg = hd.seg.segread(path)
    files = ct_files(tmp_path / "ct" / "PATIENT_DICOM")
    uids = list(files)
    frames = seg.get_pixels_by_source_instance(uids, segment_numbers=[1, 2, 3], assert_missing_frames_are_empty=True)
    for uid, frame in zip(uids, frames, strict=True):
        for number in (1, 2, 3):
            np.testing.assert_array_equal(frame[..., number - 1] > 0, file_labels(files[uid]) == number)
    for number, (name, rgb) in SEGMENTS.items():
        description = seg.get_segment_description(number)
        assert description.segment_label == name
        lab = [int(v) for v in description.RecommendedDisplayCIELabValue]
        assert hd.color.CIELabColor.from_dicom_value(lab).to_rgb() == rgb
    assert seg.get_segment_description(1).segmented_property_type == codes.SCT.Liver
    assert seg.get_segment_description(2).segmented_property_type == codes.SCT.Neoplasm
    assert seg.get_segment_description(3).segmented_property_type == codes.SCT.PortalVein

    back = read_dicom_seg_labels(path, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert [(s.value, s.name, s.color) for s in back.segments] == [(v, n, c) for v, (n, c) in SEGMENTS.items()]
    assert back.segment("tumour").property_type == codes.SCT.Neoplasm


def _highdicom_seg(folder: Path, out: Path, masks: dict[str, tuple[int, ...]], colours: list[str]) -> Path:
    """A BINARY SEG built by highdicom from the CT files (in file order), one segment per entry of
    ``masks`` (name → label values it covers), with colours given by name."""
    sources = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    for ds in sources:  # the type 2 attributes highdicom copies, which the test series leaves out
        for keyword in ("PatientBirthDate", "PatientSex", "StudyID", "StudyDate", "StudyTime", "AccessionNumber"):
            setattr(ds, keyword, ds.get(keyword, ""))
        ds.ReferringPhysicianName = ""
    pixels = np.stack(
        [np.stack([np.isin(file_labels(ds), values) for ds in sources]) for values in masks.values()], axis=-1
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=codes.SCT.Organ,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=hd.color.CIELabColor.from_string(colour),
        )
        for number, (name, colour) in enumerate(zip(masks, colours, strict=True), start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=10,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(out)
    return out


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_a_highdicom_seg_opens_with_its_names_colours_and_overlaps(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, layout)
    masks = {"Liver incl. lesions": (1, 2), "Lesion": (2,), "PV": (3,)}
    path = _highdicom_seg(tmp_path / "ct" / "PATIENT_DICOM", tmp_path / "seg.dcm", masks, ["orange", "red", "blue"])

    separate = read_dicom_seg(path, patient)
    np.testing.assert_array_equal(separate["Liver incl. lesions"], np.isin(labels, (1, 2)))
    merged = read_dicom_seg_labels(path, patient)
    assert merged.names == list(masks)
    assert [s.value for s in merged.segments] == [1, 2, 3]
    assert [s.color for s in merged.segments] == [(255, 165, 0), (255, 0, 0), (0, 0, 255)]
    np.testing.assert_array_equal(merged.mask("Lesion"), labels == 2)
    np.testing.assert_array_equal(merged.mask("Liver incl. lesions"), labels == 1)  # the smaller segment wins
    assert any("overlap" in note for note in merged.notes)


def test_values_that_do_not_run_from_one_are_numbered_in_order(tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["as stored"])
    sparse = np.where(labels == 3, 7, labels).astype(np.uint8)
    segments = (Segment(1, "liver", (1, 2, 3)), Segment(2, "tumour", (4, 5, 6)), Segment(7, "vessels", (7, 8, 9)))
    path = write_dicom_seg_labels(LabelMap(sparse, segments), patient, tmp_path / "seg.dcm")
    back = read_dicom_seg_labels(path, patient)
    assert [(s.value, s.name, s.color) for s in back.segments] == [
        (1, "liver", (1, 2, 3)),
        (2, "tumour", (4, 5, 6)),
        (3, "vessels", (7, 8, 9)),
    ]
    np.testing.assert_array_equal(back.labels, labels)
