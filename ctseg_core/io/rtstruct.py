"""DICOM RT Structure Sets: a label map written as one ROI of closed planar contours per segment,
and any RTSTRUCT on the CT read back as a label map, rasterised onto the CT grid.

Written with pydicom and scikit-image, not rt-utils. rt-utils (what TotalSegmentator uses) expects a
folder of single-frame slices it sorts itself, indexes its mask ``[row, column, slice]`` and reads
masks back ``[column, row, slice]`` (right for square slices only), scales both pixel axes by the row
spacing, and needs OpenCV, whose wheel brings its own Qt plugins and sets Qt's environment on import —
a hazard in ctseg's Qt process. highdicom has no RTSTRUCT; plastimatch and dcmrtstruct2nii are
command-line tools or read only. Writing the structure set by hand takes ctseg's exact stored-slice
geometry (each CT slice's position, including tilted and uneven stacks, and Enhanced CT frames) and
needs nothing beyond ctseg's own dependencies. rt-utils serves the tests as an independent reader
and writer.

Contours (:mod:`ctseg_core.io.contours`) are drawn on each stored CT slice around every island and
hole, a quarter pixel outside the boundary pixels' centres, and reference that slice's SOP instance
(and frame). They read back voxel for voxel in ctseg, rt-utils and pixel-centre readers alike.

Reading maps every contour point into the canonical grid's voxel coordinates, finds the grid plane it
lies in (any of the three axes: RTSTRUCTs on sagittal or coronal series read too) and fills it with the
even-odd rule, so holes drawn as inner contours stay holes. Overlapping ROIs (a tumour inside its liver)
are kept as separate masks by :func:`read_rtstruct_masks` and resolved in the label map of
:func:`read_rtstruct` (smaller ROI wins, with a note).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.coding import Code
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from ctseg_core._version import __version__
from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.geometry import nearest_slice
from ctseg_core.io.atomic import atomic_path
from ctseg_core.io.contours import fill_contours, mask_contours
from ctseg_core.io.patient import Patient
from ctseg_core.io.seg import ALGORITHM_TYPES, complete_source_datasets, read_source_datasets
from ctseg_core.io.segments import LabelMap, Segment, default_segment, unique_names

RTSTRUCT_SOP_CLASS = UID("1.2.840.10008.5.1.4.1.1.481.3")
#: Series number of the RTSTRUCT series ctseg writes (its SEG series is 300).
RTSTRUCT_SERIES_NUMBER = 301
#: The SOP class RTSTRUCTs conventionally give the study they reference (Detached Study Management).
_STUDY_REFERENCE_CLASS = "1.2.840.10008.3.1.2.3.1"
_CONTOUR_DATA = 0x30060050
#: A contour whose points spread more than this (voxels) off one grid plane is not on a CT slice.
_PLANE_TOLERANCE = 0.05
#: Patient-module and study attributes copied from the CT.
_COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)


# ----------------------------------------------------------------------------- writing


def _slice_references(patient: Patient, sources: list[Dataset]) -> list[Dataset]:
    """One Contour Image item per stored slice: SOP class and instance, and frame for Enhanced CT."""
    grid = patient.source
    references = []
    for k in range(grid.shape[0]):
        item = Dataset()
        item.ReferencedSOPClassUID = sources[0 if grid.is_multiframe else k].SOPClassUID
        item.ReferencedSOPInstanceUID = grid.sop_instance_uids[k]
        if grid.is_multiframe:
            item.ReferencedFrameNumber = int(grid.frame_numbers[k])  # type: ignore[arg-type]  # multi-frame: every slice has one
        references.append(item)
    return references


def _slice_origins(patient: Patient) -> np.ndarray:
    """(n, 3) LPS position of pixel (0, 0) of each stored slice: measured where known."""
    grid = patient.source
    if grid.positions_lps is not None:
        return np.asarray(grid.positions_lps, dtype=np.float64)
    return np.array([grid.geometry.slice_position_mm(k) for k in range(grid.shape[0])])


def _contour_data(points: np.ndarray) -> RawDataElement:
    """Contour Data as an encoded element: decimal strings of 10 significant digits (within DS's 16
    characters). Encoded here because pydicom validates each of the (many) values one by one."""
    text = "\\".join(f"{value:.10g}" for value in points.ravel()).encode("ascii")
    if len(text) % 2:
        text += b" "
    return RawDataElement(Tag(_CONTOUR_DATA), "DS", len(text), text, 0, False, True)


def _contour_points(item: Dataset) -> np.ndarray:
    """(n, 3) Contour Data of a contour item, parsed straight from the file's bytes where it can be."""
    element = item.get_item(_CONTOUR_DATA)
    if element is not None and element.is_raw and element.VR in ("DS", None):
        text = bytes(element.value).strip(b" \x00")
        values = np.array(text.split(b"\\"), dtype=np.float64) if text else np.zeros(0)
    else:
        values = np.asarray([float(v) for v in item.ContourData], dtype=np.float64)
    return values.reshape(-1, 3)


def _contour_items(mask: np.ndarray, patient: Patient, references: list[Dataset]) -> list[Dataset]:
    """Closed planar contours of a stored-grid mask, one per island and hole of each slice."""
    geometry = patient.source.geometry
    _, dy, dx = geometry.spacing_mm
    column_step = np.asarray(geometry.column_direction) * dy  # one row down
    row_step = np.asarray(geometry.row_direction) * dx  # one column right
    origins = _slice_origins(patient)
    items: list[Dataset] = []
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        for polygon in mask_contours(mask[k]):
            points = origins[k] + polygon[:, :1] * column_step + polygon[:, 1:] * row_step
            item = Dataset()
            item.ContourImageSequence = [references[k]]
            item.ContourGeometricType = "CLOSED_PLANAR"
            item.NumberOfContourPoints = len(points)
            item.ContourNumber = len(items) + 1
            item[_CONTOUR_DATA] = _contour_data(points)
            item.set_original_encoding(False, True, "iso8859")  # write the encoded element as it is
            items.append(item)
    return items


def _code_item(code: Code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


def _base_dataset(source: Dataset, label: str) -> Dataset:
    """The RT Structure Set's patient, study, series, equipment and SOP common attributes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTSTRUCT_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RTSTRUCT_SOP_CLASS
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for keyword in _COPIED:
        setattr(ds, keyword, source.get(keyword, ""))
    now = datetime.datetime.now()
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = RTSTRUCT_SERIES_NUMBER
    ds.SeriesDescription = f"ctseg {label}"
    ds.OperatorsName = ""
    ds.Manufacturer = "ctseg"
    ds.ManufacturerModelName = "ctseg"
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = 1
    ds.StructureSetLabel = label[:16]
    ds.StructureSetDate = ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.StructureSetTime = ds.InstanceCreationTime = now.strftime("%H%M%S")
    return ds


def _frame_of_reference(source: Dataset, references: list[Dataset]) -> Dataset:
    """The Referenced Frame of Reference item: the CT's frame, study, series and every slice."""
    series = Dataset()
    series.SeriesInstanceUID = source.SeriesInstanceUID
    unique = {(r.ReferencedSOPInstanceUID, r.get("ReferencedFrameNumber")): r for r in references}
    series.ContourImageSequence = list(unique.values())
    study = Dataset()
    study.ReferencedSOPClassUID = _STUDY_REFERENCE_CLASS
    study.ReferencedSOPInstanceUID = source.StudyInstanceUID
    study.RTReferencedSeriesSequence = [series]
    frame = Dataset()
    frame.FrameOfReferenceUID = source.FrameOfReferenceUID
    frame.RTReferencedStudySequence = [study]
    return frame


def _roi_items(segment: Segment, number: int, frame_uid: str, algorithm_type: str) -> tuple[Dataset, Dataset]:
    """The Structure Set ROI and RT ROI Observations items of one segment (ROI ``number``)."""
    roi = Dataset()
    roi.ROINumber = number
    roi.ReferencedFrameOfReferenceUID = frame_uid
    roi.ROIName = segment.name
    roi.ROIGenerationAlgorithm = algorithm_type
    observation = Dataset()
    observation.ObservationNumber = number
    observation.ReferencedROINumber = number
    category, kind = segment.concept()
    observation.RTROIInterpretedType = "ORGAN" if category.value == "91772007" else ""
    observation.ROIInterpreter = ""
    observation.RTROIIdentificationCodeSequence = [_code_item(kind)]
    return roi, observation


def write_rtstruct(
    label_map: LabelMap,
    patient: Patient,
    path: str | Path,
    source_datasets: list[Dataset] | None = None,
    algorithm_type: str = "MANUAL",
    label: str = "segments",
) -> Path:
    """Write ``label_map`` as an RT Structure Set referencing the patient's CT series, atomically.

    One ROI per segment (numbered by :meth:`LabelMap.numbered`, as SEG numbers its segments; display
    colour = segment colour), one closed planar
    contour per island and hole on each CT slice it covers. ``algorithm_type`` fills ROI Generation
    Algorithm. The CT must be a DICOM series (``source_datasets`` from
    :func:`ctseg_core.io.seg.read_source_datasets` saves re-reading its headers).
    """
    if algorithm_type not in ALGORITHM_TYPES:
        raise ValueError(f"algorithm_type must be one of {ALGORITHM_TYPES}, got {algorithm_type!r}")
    if label_map.shape != patient.shape:
        raise MaskMismatchError(path, f"label map is {label_map.shape}, CT is {patient.shape}: grids must match")
    sources = source_datasets or read_source_datasets(patient, purpose="RTSTRUCT", allow_tilt=True)
    sources = complete_source_datasets(sources, patient)
    references = _slice_references(patient, sources)
    ds = _base_dataset(sources[0], label)
    frame_uid = str(sources[0].FrameOfReferenceUID)
    ds.ReferencedFrameOfReferenceSequence = [_frame_of_reference(sources[0], references)]
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = [], [], []
    for number, segment in label_map.numbered():
        stored = patient.source.to_source(label_map.labels == segment.value, mask=True)
        roi, observation = _roi_items(segment, number, frame_uid, algorithm_type)
        contour = Dataset()
        contour.ReferencedROINumber = number
        contour.ROIDisplayColor = list(segment.color)
        contour.ContourSequence = _contour_items(stored, patient, references)
        ds.StructureSetROISequence.append(roi)
        ds.ROIContourSequence.append(contour)
        ds.RTROIObservationsSequence.append(observation)
    path = Path(path)
    with atomic_path(path, suffix=".dcm") as temporary:
        ds.save_as(temporary, enforce_file_format=True)
    return path


# ----------------------------------------------------------------------------- reading


def is_rtstruct(path: str | Path) -> bool:
    """Whether ``path`` is a DICOM RT Structure Set (header only)."""
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=["SOPClassUID", "Modality"])
    except (OSError, InvalidDicomError, ValueError, TypeError):
        return False
    return str(ds.get("SOPClassUID", "")) == RTSTRUCT_SOP_CLASS or ds.get("Modality") == "RTSTRUCT"


def _read(path: Path) -> Dataset:
    try:
        ds = pydicom.dcmread(str(path))
    except FileNotFoundError as exc:
        raise CtsegError(path, "file does not exist") from exc
    except (OSError, InvalidDicomError, ValueError, TypeError) as exc:
        raise CtsegError(path, f"not a readable DICOM file ({exc.__class__.__name__}: {exc})") from exc
    if "StructureSetROISequence" not in ds:
        raise CtsegError(path, "not an RT Structure Set (no Structure Set ROI Sequence)")
    return ds


def rtstruct_roi_names(path: str | Path) -> list[str]:
    """The ROI names of an RTSTRUCT, in file order (for listings; nothing is rasterised)."""
    return [str(roi.get("ROIName", "")) for roi in _read(Path(path)).StructureSetROISequence]


def _check_frame_of_reference(ds: Dataset, patient: Patient, path: Path) -> None:
    frames = {str(f.get("FrameOfReferenceUID", "")) for f in ds.get("ReferencedFrameOfReferenceSequence", [])}
    frames.discard("")
    if patient.frame_of_reference_uid and frames and patient.frame_of_reference_uid not in frames:
        raise MaskMismatchError(
            path, "RTSTRUCT is in another frame of reference than the CT: its contours are not on this scan"
        )


def _segments(ds: Dataset) -> tuple[list[Segment], list[int], list[str]]:
    """The ROIs as segments (value = ROI number, renumbered when not positive and unique), the
    ROI numbers they came from, and notes."""
    rois = list(ds.StructureSetROISequence)
    numbers = [int(roi.get("ROINumber", index + 1)) for index, roi in enumerate(rois)]
    notes = []
    values = numbers
    if any(n <= 0 for n in numbers) or len(set(numbers)) != len(numbers):
        values = list(range(1, len(rois) + 1))
        notes.append(f"ROI numbers {numbers} are not positive and unique: segments numbered 1 to {len(rois)}")
    colours = {
        int(c.get("ReferencedROINumber", -1)): c.get("ROIDisplayColor") for c in ds.get("ROIContourSequence", [])
    }
    codes = {}
    for observation in ds.get("RTROIObservationsSequence", []):
        items = observation.get("RTROIIdentificationCodeSequence") or []
        if items:
            item = items[0]
            codes[int(observation.ReferencedROINumber)] = Code(
                item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning
            )
    names = unique_names(
        [str(roi.get("ROIName", "") or f"ROI {n}") for roi, n in zip(rois, numbers, strict=True)], values
    )
    segments = []
    for name, number, value in zip(names, numbers, values, strict=True):
        colour = colours.get(number)
        rgb = tuple(int(c) for c in colour)[:3] if colour is not None and len(colour) >= 3 else None
        segments.append(default_segment(name, value, rgb, kind=codes.get(number)))  # type: ignore[arg-type]  # RGB
    return segments, numbers, notes


def _plane_index(voxels: np.ndarray, points: np.ndarray, patient: Patient) -> tuple[int, int] | None:
    """(canonical axis, index) of the grid plane a contour lies in, or None when it lies between
    slices or outside the CT. Along the stored slice axis measured slice positions decide."""
    spread = np.ptp(voxels, axis=0)
    flat = [a for a in range(3) if spread[a] <= _PLANE_TOLERANCE]
    if not flat:
        return None
    grid = patient.source
    stored_target, flip = grid.reorientation.ornt[0]
    axis = stored_target if stored_target in flat else flat[0]  # a point or a line: the CT's own slices
    measured = grid.positions_along_normal()
    if axis == stored_target and measured is not None:
        along = float(np.mean(points @ grid.geometry.normal))
        k = nearest_slice(measured, along, grid.geometry.spacing_mm[0])
        if k is None:
            return None
        return axis, (k if flip > 0 else grid.shape[0] - 1 - k)
    coordinate = float(np.mean(voxels[:, axis]))
    index = round(coordinate)
    if abs(coordinate - index) > 0.1 or not 0 <= index < patient.shape[axis]:
        return None
    return axis, index


def _roi_mask(contours: Sequence[Dataset], patient: Patient) -> tuple[np.ndarray, int, int]:
    """The bool canonical mask a ROI's contours enclose, how many closed planar contours it had and
    how many of them lay on no CT slice."""
    inverse = np.linalg.inv(patient.geometry.affine_zyx())
    planes: dict[tuple[int, int], list[np.ndarray]] = {}
    closed = unplaced = 0
    for item in contours:
        if str(item.get("ContourGeometricType", "CLOSED_PLANAR")).upper() != "CLOSED_PLANAR":
            continue
        closed += 1
        points = _contour_points(item)
        voxels = (inverse[:3, :3] @ points.T).T + inverse[:3, 3]
        place = _plane_index(voxels, points, patient)
        if place is None:
            unplaced += 1
            continue
        planes.setdefault(place, []).append(np.delete(voxels, place[0], axis=1))
    mask = np.zeros(patient.shape, dtype=bool)
    for (axis, index), polygons in planes.items():
        plane_shape = tuple(n for a, n in enumerate(patient.shape) if a != axis)
        where: list[slice | int] = [slice(None)] * 3
        where[axis] = index
        mask[tuple(where)] |= fill_contours(polygons, plane_shape)  # type: ignore[arg-type]  # two sizes
    return mask, closed, unplaced


def _masks(path: Path, patient: Patient) -> tuple[list[Segment], dict[str, np.ndarray], list[str]]:
    ds = _read(path)
    _check_frame_of_reference(ds, patient, path)
    segments, numbers, notes = _segments(ds)
    contours = {
        int(c.get("ReferencedROINumber", -1)): c.get("ContourSequence", []) for c in ds.get("ROIContourSequence", [])
    }
    masks: dict[str, np.ndarray] = {}
    closed_total = unplaced_total = 0
    for segment, number in zip(segments, numbers, strict=True):
        mask, closed, unplaced = _roi_mask(contours.get(number, []), patient)
        masks[segment.name] = mask
        closed_total += closed
        unplaced_total += unplaced
        if unplaced:
            notes.append(f"{unplaced} of {closed} contours of ROI {segment.name!r} lie on no CT slice: left out")
    if closed_total and unplaced_total == closed_total:
        raise MaskMismatchError(path, "no RTSTRUCT contour lies on a slice of this CT: it was drawn on another grid")
    return segments, masks, notes


def read_rtstruct_masks(path: str | Path, patient: Patient) -> dict[str, np.ndarray]:
    """Each ROI of an RTSTRUCT as a bool [z, y, x] mask on the patient's grid, keyed by its (unique)
    name; overlapping ROIs stay overlapping."""
    _, masks, _ = _masks(Path(path), patient)
    return masks


def read_rtstruct(path: str | Path, patient: Patient) -> LabelMap:
    """An RTSTRUCT as a label map on the patient's grid: one segment per ROI (value = ROI number,
    name, display colour, identification code). Raises :class:`MaskMismatchError` when it is in
    another frame of reference or none of its contours lies on a CT slice."""
    segments, masks, notes = _masks(Path(path), patient)
    if not segments:
        return LabelMap(np.zeros(patient.shape, dtype=np.uint8), (), tuple(notes))
    return LabelMap.from_masks(masks, segments, notes)
