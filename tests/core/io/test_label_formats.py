"""Where the user meets the label formats: one registry behind ``ctseg segment --format``, Save as and
the writers; ``save_label`` / ``load_label`` carry every segment in every format (checked by the
independent readers: nibabel, highdicom, pydicom, slicerio); IRCAD writes one mask folder per segment
in all 48 axis layouts, and IRCAD-style folders built with pydicom open with their names; ``ctseg
info`` lists the label files beside a CT by segment name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import highdicom as hd
import nibabel as nib
import nrrd
import numpy as np
import pydicom
import pytest
import slicerio
from label_volumes import SEGMENTS, ct_files, file_labels, geometry, hu_volume, label_volume, pixel_to_lps
from pydicom.sr.codedict import codes

from ctseg_core.annotate.labels import LabelFormat, SaveTarget, load_label, save_label
from ctseg_core.batch import OUTPUT_NAMES, segment_patients
from ctseg_core.cli.entry import main as ctseg_main
from ctseg_core.cli.parser import build_parser
from ctseg_core.display.palette import ORGANS
from ctseg_core.io.ircad_labels import read_ircad_labels, write_ircad_labels
from ctseg_core.io.label_files import (
    WRITE_FORMATS,
    find_label_files,
    label_file_kind,
    read_label_file,
    segment_names,
    write_label_file,
)
from ctseg_core.io.label_formats import format_names
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.io.segments import LabelMap, Segment
from ctseg_core.model.inference import Segmentation
from ctseg_core.synth.variants import NAMED_LAYOUTS, Layout, all_layouts, write_dicom_variant

EXPECTED = [(v, n, c) for v, (n, c) in SEGMENTS.items()]


def label_map(labels: np.ndarray) -> LabelMap:
    return LabelMap(labels, tuple(Segment(v, name, rgb) for v, (name, rgb) in SEGMENTS.items()))


def dicom_patient(folder: Path, labels: np.ndarray, layout: Layout) -> Patient:
    write_dicom_variant(folder, hu_volume(labels), geometry(), layout)
    return load_patient(folder)


def table(labels: LabelMap) -> list[tuple[int, str, tuple[int, int, int]]]:
    return [(s.value, s.name, s.color) for s in labels.segments]


# ----------------------------------------------------------------------------- one registry


def test_the_command_line_save_as_and_the_writers_offer_the_same_formats() -> None:
    _, commands = build_parser()
    segment = commands.choices["segment"]
    [action] = [a for a in segment._actions if a.dest == "format"]
    assert list(action.choices) == format_names() == ["ircad", "nifti", "seg", "rtstruct", "seg.nrrd"]
    assert action.default == "ircad"
    assert [LabelFormat.from_name(name) for name in format_names()] == list(LabelFormat)
    assert sorted(WRITE_FORMATS) == sorted(n for n in format_names() if n != "ircad")
    assert OUTPUT_NAMES == {
        "ircad": "liver_pred",
        "nifti": "liver_pred.nii.gz",
        "seg": "liver_pred.seg.dcm",
        "rtstruct": "liver_pred.rtstruct.dcm",
        "seg.nrrd": "liver_pred.seg.nrrd",
    }
    with pytest.raises(ValueError, match=r"format must be one of ircad, nifti, seg, rtstruct, seg\.nrrd"):
        LabelFormat.from_name("png")


class ThresholdSegmenter:
    """Stands in for the model: HU ≥ 100 is liver (labels 1 to 3 of the test volume)."""

    path = Path("fake.keras")
    load_seconds = import_seconds = 0.0
    backend = "fake"

    def predict(self, hu: np.ndarray, spacing_mm: Any = None, progress: Any = None, **_: Any) -> Segmentation:
        return Segmentation(mask=hu >= 100, timings={"network": 0.0})


@pytest.mark.parametrize("fmt", format_names())
def test_ctseg_segment_writes_every_format_for_the_independent_readers(fmt: str, tmp_path: Path) -> None:
    labels = label_volume()
    write_dicom_variant(tmp_path / "p", hu_volume(labels), geometry(), NAMED_LAYOUTS["coronal"])
    [row] = segment_patients([tmp_path / "p"], tmp_path / "out", fmt, segmenter=ThresholdSegmenter())  # type: ignore[arg-type]
    assert "error" not in row, row.get("error")
    output = Path(row["output"])
    files = ct_files(tmp_path / "p" / "PATIENT_DICOM")
    expected = {uid: file_labels(ds) > 0 for uid, ds in files.items()}
    if fmt == "ircad":
        assert output == tmp_path / "out" / "p" / "MASKS_DICOM" / "liver_pred"
        by_position = {tuple(np.round(pixel_to_lps(ds)[:3, 3], 3)): uid for uid, ds in files.items()}
        for path in output.iterdir():
            ds = pydicom.dcmread(path)
            uid = by_position[tuple(np.round([float(v) for v in ds.ImagePositionPatient], 3))]
            np.testing.assert_array_equal(ds.pixel_array > 0, expected[uid])
    elif fmt == "nifti":
        assert output.name == "liver_pred.nii.gz" and nib.load(output).get_fdata().sum() == labels.astype(bool).sum()
        assert '"liver"' in output.with_name("liver_pred.txt").read_text()
    elif fmt == "seg":
        seg = hd.seg.segread(output)
        assert seg.get_segment_description(1).segment_label == "liver"
        assert seg.get_segment_description(1).SegmentAlgorithmType == "AUTOMATIC"
        frames = seg.get_pixels_by_source_instance(list(files), assert_missing_frames_are_empty=True)
        for uid, frame in zip(files, frames, strict=True):
            np.testing.assert_array_equal(frame[..., 0] > 0, expected[uid])
    elif fmt == "rtstruct":
        ds = pydicom.dcmread(output)
        assert [(r.ROIName, r.ROIGenerationAlgorithm) for r in ds.StructureSetROISequence] == [("liver", "AUTOMATIC")]
        assert {
            c.ContourImageSequence[0].ReferencedSOPInstanceUID for c in ds.ROIContourSequence[0].ContourSequence
        } == {uid for uid, mask in expected.items() if mask.any()}
    else:
        slicer = slicerio.read_segmentation(str(output))
        assert [s["name"] for s in slicer["segments"]] == ["liver"]
        assert int(np.count_nonzero(slicer["voxels"])) == int(np.count_nonzero(labels))


# ----------------------------------------------------------------------------- save_label / load_label


@pytest.mark.parametrize("fmt", list(LabelFormat), ids=lambda f: f.cli_name)
def test_save_and_load_carry_every_segment_with_its_name_colour_and_value(fmt: LabelFormat, tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["sagittal"])
    path = tmp_path / "out" if fmt.is_folder else tmp_path / fmt.file_name("labels")
    name = "liver" if fmt.is_folder else "ignored for several segments"  # IRCAD: the first segment's folder
    target = SaveTarget(fmt, path, name)
    reports: list[tuple[int, int, str]] = []
    saved = save_label(label_map(labels), patient, target, progress=lambda *r: reports.append(r))
    assert (saved.sources is not None) == fmt.is_dicom and reports

    loaded = load_label(path / "MASKS_DICOM" if fmt.is_folder else path, patient, lambda *r: None, lambda: False)
    assert loaded.labels is not None
    np.testing.assert_array_equal(loaded.labels.labels, labels)
    if fmt is LabelFormat.IRCAD:  # a folder holds no colour: the organ's
        assert [(s.value, s.name) for s in loaded.labels.segments] == [(v, n) for v, n, _ in EXPECTED]
    else:
        assert table(loaded.labels) == EXPECTED
    if fmt in (LabelFormat.NIFTI,):  # a plain volume edits as one mask: its non-zero voxels
        np.testing.assert_array_equal(loaded.mask, labels > 0)
    else:
        np.testing.assert_array_equal(loaded.mask, labels == 1)
        assert loaded.name == "liver" and loaded.note == " (segment “liver” of 3)"


def test_a_single_segment_label_is_saved_under_the_name_given(tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["as stored"])
    one = LabelMap.from_mask(labels == 1, "liver")
    save_label(one, patient, SaveTarget(LabelFormat.DICOM_SEG, tmp_path / "x.dcm", "liver_fixed"))
    assert hd.seg.segread(tmp_path / "x.dcm").get_segment_description(1).segment_label == "liver_fixed"
    save_label(labels == 1, patient, SaveTarget(LabelFormat.IRCAD, tmp_path / "o", "liver_fixed"))
    assert [p.name for p in (tmp_path / "o" / "MASKS_DICOM").iterdir()] == ["liver_fixed"]


def test_a_seg_of_a_tilted_stack_is_refused_even_with_headers_read_for_an_rtstruct(tmp_path: Path) -> None:
    labels = np.pad(label_volume(), ((0, 0), (8, 8), (0, 0)))
    write_dicom_variant(
        tmp_path / "ct", hu_volume(labels), geometry(), NAMED_LAYOUTS["as stored"], tilt_rows_per_slice=1.0
    )
    patient = load_patient(tmp_path / "ct")
    saved = save_label(label_map(labels), patient, SaveTarget(LabelFormat.RTSTRUCT, tmp_path / "rs.dcm", "x"))
    with pytest.raises(Exception, match="gantry-tilted"):
        save_label(labels > 0, patient, SaveTarget(LabelFormat.DICOM_SEG, tmp_path / "s.dcm", "x"), saved.sources)


# ----------------------------------------------------------------------------- IRCAD, one folder per segment


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_ircad_writes_one_folder_per_segment_on_the_ct_slices_in_every_layout(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, layout)
    folders = write_ircad_labels(label_map(labels), patient, tmp_path / "out")
    assert [f.name for f in folders] == [name for name, _ in SEGMENTS.values()]

    files = ct_files(tmp_path / "ct" / "PATIENT_DICOM")
    for value, folder in zip(SEGMENTS, folders, strict=True):
        for path in folder.iterdir():  # pydicom alone: each slice on its CT slice, named and numbered
            ds = pydicom.dcmread(path)
            ct = files[ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID]
            np.testing.assert_allclose(pixel_to_lps(ds), pixel_to_lps(ct), atol=1e-6)
            np.testing.assert_array_equal(ds.pixel_array > 0, file_labels(ct) == value)
            assert int(ds.SeriesNumber) == value and ds.Manufacturer == "ctseg"
    back = read_ircad_labels(tmp_path / "out", patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert [(s.value, s.name) for s in back.segments] == [(v, n) for v, n, _ in EXPECTED]


def _ircad_ground_truth(ct_folder: Path, masks: dict[str, tuple[int, ...]], out: Path) -> None:
    """IRCAD-style mask folders built with pydicom from the CT files: 0/255 pixels, the CT's manufacturer."""
    for name, values in masks.items():
        folder = out / "MASKS_DICOM" / name
        folder.mkdir(parents=True)
        for path in sorted(ct_folder.iterdir()):
            ds = pydicom.dcmread(path)
            mask = np.isin(file_labels(ds), values)
            ds.PixelData = (mask * 255).astype(ds.pixel_array.dtype).tobytes()
            ds.RescaleIntercept, ds.RescaleSlope = 0, 1
            ds.SeriesInstanceUID = pydicom.uid.generate_uid()
            ds.SeriesNumber = 2  # one number for every folder, as another tool may write it
            ds.save_as(folder / path.name)


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_ircad_ground_truth_folders_open_as_one_label_map_with_their_names(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, layout)
    masks = {"liver": (1, 2), "livertumor01": (2,), "portalvein": (3,)}  # IRCAD's liver holds its tumours
    _ircad_ground_truth(tmp_path / "ct" / "PATIENT_DICOM", masks, tmp_path / "ct")
    loaded = load_label(tmp_path / "ct", patient, lambda *r: None, lambda: False)
    assert loaded.labels is not None
    assert [(s.value, s.name) for s in loaded.labels.segments] == [(1, "liver"), (2, "livertumor01"), (3, "portalvein")]
    np.testing.assert_array_equal(loaded.labels.labels, labels)  # the smaller tumour wins inside the liver
    assert any("overlap" in note for note in loaded.labels.notes)
    tumour = loaded.labels.segment("livertumor01")
    assert tumour.color == ORGANS["tumour"] and tumour.property_type == codes.SCT.Neoplasm  # by its name
    one = load_label(tmp_path / "ct" / "MASKS_DICOM" / "portalvein", patient, lambda *r: None, lambda: False)
    assert one.name == "portalvein" and one.note == ""
    np.testing.assert_array_equal(one.mask, labels == 3)


# ----------------------------------------------------------------------------- ctseg info


def _slicer_seg_nrrd(patient_dir: Path, labels: np.ndarray, layout: Layout) -> Path:
    """A .seg.nrrd written by slicerio in Slicer's own convention."""
    path = patient_dir / "Segmentation.seg.nrrd"
    slicerio.write_segmentation(
        str(path),
        {
            "voxels": np.ascontiguousarray(layout.store(labels).T),
            "ijkToLPS": layout.stored_affine(geometry(), labels.shape)[:, [2, 1, 0, 3]],
            "encoding": "gzip",
            "segments": [
                {"id": "Segment_1", "name": "Liver", "labelValue": 1, "color": [0.8, 0.4, 0.2], "layer": 0},
                {"id": "Segment_2", "name": "Tumor", "labelValue": 2, "color": [0.2, 0.9, 0.2], "layer": 0},
                {"id": "Segment_3", "name": "Portal vein", "labelValue": 3, "color": [0.0, 0.6, 0.8], "layer": 0},
            ],
        },
    )
    return path


def test_info_lists_the_label_files_beside_the_ct_by_segment_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "p", labels, NAMED_LAYOUTS["coronal"])
    write_label_file(label_map(labels), patient, tmp_path / "p" / "ctseg.seg.dcm", "seg")
    write_label_file(label_map(labels), patient, tmp_path / "p" / "rs.dcm", "rtstruct")
    (tmp_path / "p" / "more").mkdir()
    _slicer_seg_nrrd(tmp_path / "p" / "more", labels, NAMED_LAYOUTS["sagittal"])
    shutil.copy(tmp_path / "p" / "rs.dcm", tmp_path / "p" / "more" / "README")  # found by content, not name
    (tmp_path / "p" / "notes.txt").write_text("not a label")

    assert ctseg_main(["info", str(tmp_path / "p"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    listed = {Path(e["path"]).relative_to(tmp_path / "p").as_posix(): e for e in info["label_files"]}
    assert sorted(listed) == ["ctseg.seg.dcm", "more/README", "more/Segmentation.seg.nrrd", "rs.dcm"]
    assert listed["ctseg.seg.dcm"] == {
        "path": str(tmp_path / "p" / "ctseg.seg.dcm"),
        "format": "seg",
        "ground_truth": False,
        "segments": ["liver", "tumour", "portal vein"],
    }
    assert listed["more/Segmentation.seg.nrrd"]["segments"] == ["Liver", "Tumor", "Portal vein"]
    assert listed["more/Segmentation.seg.nrrd"]["ground_truth"] is True
    assert listed["rs.dcm"]["format"] == listed["more/README"]["format"] == "rtstruct"

    assert ctseg_main(["info", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert (
        "  label file   more/Segmentation.seg.nrrd (Slicer .seg.nrrd, ground truth): Liver, Tumor, Portal vein" in out
    )
    assert "  label file   rs.dcm (RTSTRUCT, written by ctseg): liver, tumour, portal vein" in out


def test_nifti_and_nrrd_labels_are_listed_only_with_a_label_description(tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "p", labels, NAMED_LAYOUTS["as stored"])
    write_label_file(label_map(labels), patient, tmp_path / "p" / "named.nii.gz", "nifti")
    image = nib.load(tmp_path / "p" / "named.nii.gz")
    nib.save(image, str(tmp_path / "p" / "plain.nii.gz"))  # the same voxels, no description
    found = find_label_files(tmp_path / "p", skip=patient.source.slice_names)
    assert found == [tmp_path / "p" / "named.nii.gz"]


# ----------------------------------------------------------------------------- other tools' label tables


def _caret_extension(names: dict[int, tuple[str, tuple[int, int, int]]]) -> nib.nifti1.Nifti1Extension:
    """TotalSegmentator's label table: a Caret XML LabelTable in a NIfTI header extension (code 0),
    as its ``nifti_ext_header.add_label_map_to_nifti`` writes it (colours 0–1)."""
    body = "".join(
        f'<Label Key="{key}" Red="{rgb[0] / 255}" Green="{rgb[1] / 255}" Blue="{rgb[2] / 255}" Alpha="1">'
        f"<![CDATA[{name}]]></Label>\n"
        for key, (name, rgb) in names.items()
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?> <CaretExtension>  <VolumeInformation Index="0">   <LabelTable>\n'
        f"{body}\n  </LabelTable>  <VolumeType><![CDATA[Label]]></VolumeType>   </VolumeInformation></CaretExtension>\n"
        "              "
    )
    return nib.nifti1.Nifti1Extension(0, xml.encode("utf-8"))


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_a_totalsegmentator_multilabel_nifti_opens_with_the_names_in_its_header(layout: Layout, tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["coronal"])
    stored = layout.store(labels)
    affine_lps = layout.stored_affine(geometry(), labels.shape)[:, [2, 1, 0, 3]]
    image = nib.Nifti1Image(np.ascontiguousarray(stored.T), np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_lps)
    names = {
        1: ("liver", (255, 0, 0)),
        2: ("liver_tumor", (0, 255, 0)),
        3: ("portal_vein_and_splenic_vein", (0, 0, 255)),
    }
    image.header.extensions.append(_caret_extension(names))
    path = tmp_path / "segmentations.nii.gz"
    nib.save(image, str(path))

    back = read_label_file(path, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert table(back) == [(v, n, c) for v, (n, c) in names.items()] and back.notes == ()
    assert back.segment("liver_tumor").property_type == codes.SCT.Neoplasm
    assert segment_names(path) == [n for n, _ in names.values()]


def test_a_slicer_colour_table_beside_a_label_map_names_its_values(tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["as stored"])
    sparse = np.select([labels == 1, labels == 2, labels == 3], [1, 7, 12], 0).astype(np.uint8)
    image = nib.Nifti1Image(np.ascontiguousarray(sparse.T), patient.geometry.affine_ras())
    nib.save(image, str(tmp_path / "labelmap.nii.gz"))
    (tmp_path / "labelmap.ctbl").write_text(
        "# Color table file /tmp/labelmap.ctbl\n# 4 values\n0 Background 0 0 0 0\n1 liver 221 130 101 255\n"
        "7 tumor 144 238 144 255\n12 portal_vein 0 151 206 255\n"
    )
    back = read_label_file(tmp_path / "labelmap.nii.gz", patient)
    assert table(back) == [
        (1, "liver", (221, 130, 101)),
        (7, "tumor", (144, 238, 144)),
        (12, "portal_vein", (0, 151, 206)),
    ]
    np.testing.assert_array_equal(back.labels, sparse)


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_a_pynrrd_label_map_in_ras_space_with_an_itk_snap_description_opens_right_way_round(
    layout: Layout, tmp_path: Path
) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["sagittal"])
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ layout.stored_affine(geometry(), labels.shape)
    header = {
        "space": "right-anterior-superior",
        "space directions": ras[:3, [2, 1, 0]].T,
        "space origin": ras[:3, 3],
        "kinds": ["domain"] * 3,
    }
    nrrd.write(str(tmp_path / "label.nrrd"), np.ascontiguousarray(layout.store(labels).T), header)
    lines = [f'{v} {r} {g} {b} 1 1 1 "{n}"' for v, (n, (r, g, b)) in SEGMENTS.items()]
    (tmp_path / "label.txt").write_text("\n".join(lines) + "\n")
    back = read_label_file(tmp_path / "label.nrrd", patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert table(back) == EXPECTED


@pytest.mark.parametrize("layout", all_layouts(), ids=lambda layout: layout.name)
def test_a_pynrrd_ct_in_ras_space_loads_right_way_round_in_every_layout(layout: Layout, tmp_path: Path) -> None:
    """NRRD's own convention as pynrrd writes it (RAS ``space``, one direction per axis, fastest first)."""
    labels = label_volume()
    hu = hu_volume(labels)
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ layout.stored_affine(geometry(), hu.shape)
    header = {"space": "right-anterior-superior", "space directions": ras[:3, [2, 1, 0]].T, "space origin": ras[:3, 3]}
    nrrd.write(str(tmp_path / "ct.nrrd"), np.ascontiguousarray(layout.store(hu).T), header)
    patient = load_patient(tmp_path / "ct.nrrd")
    np.testing.assert_array_equal(patient.hu, hu)
    np.testing.assert_allclose(patient.geometry.affine_lps(), geometry().affine_lps(), atol=1e-6)


@pytest.mark.parametrize("fmt", [f for f in LabelFormat if not f.is_folder], ids=lambda f: f.cli_name)
def test_the_editors_save_of_several_segments_writes_the_format_asked_for(fmt: LabelFormat, tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["as stored"])
    path = tmp_path / fmt.file_name("labels")
    save_label(label_map(labels), patient, SaveTarget(fmt, path, "liver"))
    assert label_file_kind(path) == {"nifti": "nifti", "seg": "seg", "rtstruct": "rtstruct"}.get(
        fmt.cli_name, "seg.nrrd"
    )
    back = read_label_file(path, patient)
    np.testing.assert_array_equal(back.labels, labels)
    assert table(back) == EXPECTED


def test_the_editors_ircad_save_of_several_segments_reads_back_with_its_values(tmp_path: Path) -> None:
    labels = label_volume()
    patient = dicom_patient(tmp_path / "ct", labels, NAMED_LAYOUTS["coronal"])
    save_label(label_map(labels), patient, SaveTarget(LabelFormat.IRCAD, tmp_path / "out", "liver_fixed"))
    back = read_ircad_labels(tmp_path / "out", patient)
    assert [(s.value, s.name) for s in back.segments] == [
        (1, "liver_fixed"),
        (2, "tumour_fixed"),
        (3, "portal vein_fixed"),
    ]
    np.testing.assert_array_equal(back.labels, labels)
