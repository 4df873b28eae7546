"""DICOM SEG: masks saved as one Segmentation object that references its CT, read back onto the CT grid.

Encoding is left to highdicom (BINARY segmentation, one segment per mask), so PACS viewers, 3D Slicer
and OHIF place the mask on the scan. highdicom needs the CT headers (geometry, patient, study and the
SOP Instance UIDs the frames reference) but not their pixels, so only tags are read.

Reading pairs each SEG frame with a CT slice by the SOP Instance UID it references; a SEG made on
another copy of the series (other UIDs, e.g. a re-export) is paired by position instead, and a SEG on
another grid is refused, never resampled.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from ctseg_core._version import __version__
from ctseg_core.errors import CtsegError, MaskMismatchError
from ctseg_core.geometry import nearest_slice
from ctseg_core.io.atomic import atomic_path
from ctseg_core.io.patient import Patient
from ctseg_core.io.segments import LabelMap, Segment, default_segment, unique_names

if TYPE_CHECKING:  # highdicom loads only when a SEG is written or read
    import highdicom as hd

#: Series number of the SEG series ctseg writes (CT series are usually numbered below 100).
SEG_SERIES_NUMBER = 300
ALGORITHM_TYPES = ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC")

# ----------------------------------------------------------------------------- source CT headers


def _zip_member(name: str) -> tuple[Path, str]:
    """Split ``archive.zip!member`` (a slice name from a zip source) at the "!" after an existing file."""
    for index, char in enumerate(name):
        if char == "!" and os.path.isfile(name[:index]):
            return Path(name[:index]), name[index + 1 :]
    raise CtsegError(name, "source CT slice not found: the file was moved or deleted since loading")


@contextlib.contextmanager
def _opener() -> Iterator[Callable[[str], BinaryIO]]:
    """A function opening a slice name (file path or zip member), keeping each archive open once."""
    archives: dict[Path, zipfile.ZipFile] = {}

    def open_slice(name: str) -> BinaryIO:
        if os.path.isfile(name):
            return open(name, "rb")
        archive, member = _zip_member(name)
        if archive not in archives:
            archives[archive] = zipfile.ZipFile(archive)
        return io.BytesIO(archives[archive].read(member))

    try:
        yield open_slice
    finally:
        for handle in archives.values():
            handle.close()


def read_source_datasets(patient: Patient, *, purpose: str = "DICOM SEG", allow_tilt: bool = False) -> list[Dataset]:
    """The CT slices' headers (no pixel data), in the stored slice order, for highdicom.

    Refuses patients that were not loaded from DICOM and slices whose files changed since loading;
    gantry-tilted stacks unless ``allow_tilt`` (RTSTRUCT contours follow the tilted slices; SEG frames
    cannot). ``purpose`` names the object being written in messages.
    A multi-frame (Enhanced CT) source gives its one dataset.
    """
    grid = patient.source
    if grid.kind != "dicom" or not grid.sop_instance_uids or len(grid.slice_names) != grid.shape[0]:
        raise CtsegError(
            patient.source_path,
            f"{purpose} needs the CT as a DICOM series; save this patient as NIfTI instead",
        )
    if not allow_tilt:
        refuse_tilted(patient, purpose)
    names = [n.rsplit(" [frame ", 1)[0] for n in grid.slice_names]
    uids = list(grid.sop_instance_uids)
    if grid.is_multiframe:
        if len(set(uids)) != 1:
            raise CtsegError(patient.source_path, "DICOM SEG of a series of several multi-frame files is not supported")
        names, uids = names[:1], uids[:1]
    datasets = []
    with _opener() as open_slice:
        for name, uid in zip(names, uids, strict=False):
            try:
                with open_slice(name) as fh:
                    ds = pydicom.dcmread(fh, stop_before_pixels=True)
            except (OSError, KeyError, zipfile.BadZipFile, InvalidDicomError) as exc:
                raise CtsegError(name, f"cannot read the source CT slice for DICOM SEG ({exc})") from exc
            if str(ds.get("SOPInstanceUID", "")) != uid:
                raise CtsegError(name, "source CT slice changed since loading (other SOP Instance UID)")
            datasets.append(ds)
    return datasets  # type: ignore[return-value]  # FileDataset is a Dataset; the list type is invariant


def refuse_tilted(patient: Patient, purpose: str = "DICOM SEG") -> None:
    """CtsegError for a gantry-tilted stack: SEG frames cannot follow tilted slices (RTSTRUCT can)."""
    if patient.source.is_tilted:
        raise CtsegError(
            patient.source_path,
            f"{purpose} of a gantry-tilted series is not supported (its frames would need the tilted "
            "grid); save as an IRCAD mask folder or RTSTRUCT, which follow the source slices",
        )


#: Type 2 attributes (present, possibly empty) the SEG copies from its source; anonymised CT and
#: 3D-IRCADb-01 lack several, and the standard allows them empty.
_TYPE2_FROM_SOURCE = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def complete_source_datasets(datasets: list[Dataset], patient: Patient) -> list[Dataset]:
    """Copies of the CT headers with what a SEG needs filled in where the CT lacks it.

    Missing type 2 attributes become empty (allowed by the standard). A missing FrameOfReferenceUID
    (IRCAD, some anonymisers) becomes one UID derived from the series UID, the same for every save of
    this series, so its SEGs share a frame of reference; a missing SliceThickness becomes the slice
    spacing measured from the positions. Nothing is changed on disk.
    """
    import copy

    frame_uid = None
    completed = []
    for ds in datasets:
        missing = [k for k in _TYPE2_FROM_SOURCE if k not in ds]
        needs_frame = not str(ds.get("FrameOfReferenceUID", "") or "")
        needs_thickness = "SliceThickness" not in ds and "SharedFunctionalGroupsSequence" not in ds
        if not (missing or needs_frame or needs_thickness):
            completed.append(ds)
            continue
        ds = copy.deepcopy(ds)
        for keyword in missing:
            setattr(ds, keyword, "")
        if needs_frame:
            if frame_uid is None:
                frame_uid = pydicom.uid.generate_uid(
                    entropy_srcs=["ctseg-frame-of-reference", patient.series_uid or str(patient.source_path)]
                )
            ds.FrameOfReferenceUID = frame_uid
        if needs_thickness:
            ds.SliceThickness = float(patient.source.geometry.spacing_mm[0])
        completed.append(ds)
    return completed


# ----------------------------------------------------------------------------- writing


def _segment_description(
    segment: Segment, number: int, algorithm_type: str, algorithm_name: str
) -> hd.seg.SegmentDescription:
    import highdicom as hd

    if algorithm_type not in ALGORITHM_TYPES:
        raise ValueError(f"algorithm_type must be one of {ALGORITHM_TYPES}, got {algorithm_type!r}")
    identification = None
    if algorithm_type != "MANUAL":
        identification = hd.AlgorithmIdentificationSequence(
            name=algorithm_name, family=codes.cid7162.ArtificialIntelligence, version=__version__
        )
    category, kind = segment.concept()
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=segment.name,
        segmented_property_category=category,
        segmented_property_type=kind,
        algorithm_type=algorithm_type,
        algorithm_identification=identification,
        display_color=hd.color.CIELabColor.from_rgb(*segment.color),
    )


def write_dicom_seg(
    mask: np.ndarray,
    patient: Patient,
    path: str | Path,
    name: str = "liver",
    source_datasets: list[Dataset] | None = None,
    algorithm_type: str = "MANUAL",
    algorithm_name: str = "ctseg liver U-Net",
) -> Path:
    """Write ``mask`` (bool [z, y, x] on the patient's grid) as a BINARY DICOM SEG, atomically.

    The SEG joins the CT's study and frame of reference and references each CT slice, so viewers
    overlay it on the scan. ``algorithm_type``: "MANUAL" for masks drawn or corrected by hand,
    "AUTOMATIC" (with ``algorithm_name``) for the model's output. Empty slices are omitted; an
    entirely empty mask is written with every frame (a SEG must hold at least one) and reads back empty.
    ``source_datasets`` (from :func:`read_source_datasets`) saves re-reading headers on repeated saves.
    """
    mask = np.asarray(mask)
    if mask.shape != patient.shape:
        raise MaskMismatchError(path, f"mask is {mask.shape}, CT is {patient.shape}: grids must match")
    return write_dicom_seg_labels(
        LabelMap.from_mask(mask.astype(bool, copy=False), name),
        patient,
        path,
        source_datasets=source_datasets,
        algorithm_type=algorithm_type,
        algorithm_name=algorithm_name,
    )


def _stored_labels(numbered: np.ndarray, count: int, patient: Patient) -> np.ndarray:
    """Canonical segment numbers on the stored grid (a tilted stack's slices shifted back per segment)."""
    if not patient.source.is_tilted:
        return patient.source.reorientation.to_source(numbered)
    stored = np.zeros(patient.source.shape, dtype=numbered.dtype)
    for number in range(1, count + 1):
        stored[patient.source.to_source(numbered == number, mask=True)] = number
    return stored


def write_dicom_seg_labels(
    label_map: LabelMap,
    patient: Patient,
    path: str | Path,
    source_datasets: list[Dataset] | None = None,
    algorithm_type: str = "MANUAL",
    algorithm_name: str = "ctseg liver U-Net",
) -> Path:
    """Write a label map as one BINARY DICOM SEG with a segment per table entry, atomically.

    Each segment carries its name (Segment Label), its colour (Recommended Display CIELab Value) and
    its coded concept. Segments are numbered by :meth:`LabelMap.numbered` (the label values when
    those run 1 to N; other values are renumbered in order).
    """
    import highdicom as hd

    if label_map.shape != patient.shape:
        raise MaskMismatchError(path, f"label map is {label_map.shape}, CT is {patient.shape}: grids must match")
    if not label_map.segments:
        raise CtsegError(path, "a DICOM SEG needs at least one segment")
    refuse_tilted(patient)  # also when given headers read for an RTSTRUCT
    sources = source_datasets if source_datasets is not None else read_source_datasets(patient)
    sources = complete_source_datasets(sources, patient)
    ordered = label_map.numbered()
    numbered = np.zeros(label_map.shape, dtype=np.uint16 if len(ordered) > 255 else np.uint8)
    for number, segment in ordered:
        numbered[label_map.labels == segment.value] = number
    stored = _in_frame_order(_stored_labels(numbered, len(ordered), patient), patient)
    descriptions = [
        _segment_description(segment, number, algorithm_type, algorithm_name) for number, segment in ordered
    ]
    segmentation = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.ascontiguousarray(stored),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="ctseg",
        manufacturer_model_name="ctseg",
        software_versions=__version__,
        device_serial_number="none",
        omit_empty_frames=bool(stored.any()),
    )
    segmentation.SeriesDescription = ("ctseg " + ", ".join(s.name for _, s in ordered))[:64]  # LO: 64 characters
    path = Path(path)
    with atomic_path(path, suffix=".dcm") as temporary:
        segmentation.save_as(temporary)
    return path


def _in_frame_order(stored: np.ndarray, patient: Patient) -> np.ndarray:
    """Stored planes in a multi-frame source's frame order (a single-frame series keeps its slice order).

    highdicom pairs the i-th plane with frame i+1 of a multi-frame source: frame order, not position order.
    """
    if not patient.source.is_multiframe:
        return stored
    frames = np.zeros_like(stored)
    for k, number in enumerate(patient.source.frame_numbers):
        frames[int(number) - 1] = stored[k]  # type: ignore[arg-type]  # every slice has a frame here
    return frames


# ----------------------------------------------------------------------------- reading


def _read_segmentation(path: Path) -> hd.seg.Segmentation:
    import highdicom as hd

    try:
        return hd.seg.segread(path)
    except FileNotFoundError as exc:
        raise CtsegError(path, "file does not exist") from exc
    except Exception as exc:  # pydicom and highdicom raise many types for bad files
        raise CtsegError(path, f"not a readable DICOM SEG ({exc.__class__.__name__}: {exc})") from exc


def _binary(values: np.ndarray, segmentation: hd.seg.Segmentation) -> np.ndarray:
    """Segment membership: fractional SEGs (rescaled to 0–1) at 0.5, others where > 0."""
    import highdicom as hd

    if segmentation.segmentation_type == hd.seg.SegmentationTypeValues.FRACTIONAL:
        return values >= 0.5
    return values > 0


def _referenced_uids(segmentation: hd.seg.Segmentation) -> set[str]:
    return {sop_uid for _, _, sop_uid in segmentation.get_source_image_uids()}


def _by_instance(segmentation: hd.seg.Segmentation, patient: Patient, numbers: list[int], path: Path) -> np.ndarray:
    """[stored slice, row, column, segment] values for SEGs whose frames reference this patient's CT slices."""
    grid = patient.source
    try:
        if grid.is_multiframe:
            by_frame = segmentation.get_pixels_by_source_frame(
                grid.sop_instance_uids[0],
                sorted(int(n) for n in grid.frame_numbers if n is not None),
                segment_numbers=numbers,
                assert_missing_frames_are_empty=True,
            )
            return by_frame[[int(n) - 1 for n in grid.frame_numbers if n is not None]]
        return segmentation.get_pixels_by_source_instance(
            grid.sop_instance_uids, segment_numbers=numbers, assert_missing_frames_are_empty=True
        )
    except (ValueError, RuntimeError) as exc:
        raise MaskMismatchError(path, f"SEG frames cannot be placed on the CT slices ({exc})") from exc


def _check_in_plane(affine: np.ndarray, patient: Patient, path: Path) -> None:
    """The SEG volume's rows and columns must run along the stored CT's, with the same pixel size."""
    geometry = patient.source.geometry
    expected = (
        np.asarray(geometry.column_direction) * geometry.spacing_mm[1],
        np.asarray(geometry.row_direction) * geometry.spacing_mm[2],
    )
    for axis, wanted in zip((1, 2), expected, strict=False):
        if not np.allclose(affine[:3, axis], wanted, atol=1e-3 * max(1.0, float(np.abs(wanted).max()))):
            raise MaskMismatchError(path, "SEG pixel grid differs from the CT's (orientation or pixel size)")


def _slice_index(position: np.ndarray, patient: Patient, along_normal: np.ndarray, path: Path) -> int:
    """Stored CT slice whose plane holds ``position`` (LPS mm), with the same in-plane origin."""
    geometry = patient.source.geometry
    normal, origin = geometry.normal, np.asarray(geometry.origin_mm)
    along = float(np.dot(normal, position))
    nearest = nearest_slice(along_normal, along, geometry.spacing_mm[0])
    in_plane = (position - normal * along) - (origin - normal * float(np.dot(normal, origin)))
    shift = float(np.linalg.norm(in_plane))
    if nearest is None:
        raise MaskMismatchError(path, f"SEG frame at {along:.3f} mm along the normal matches no CT slice")
    if shift > max(0.01, 0.1 * min(geometry.spacing_mm[1:])):
        raise MaskMismatchError(path, f"SEG grid is shifted by {shift:.2f} mm in-plane from the CT's")
    return nearest


def _by_position(segmentation: hd.seg.Segmentation, patient: Patient, numbers: list[int], path: Path) -> np.ndarray:
    """[stored slice, row, column, segment] values placed by frame position, for SEGs referencing other copies."""
    try:
        volume = segmentation.get_volume(segment_numbers=numbers)
    except (ValueError, RuntimeError) as exc:
        raise MaskMismatchError(path, f"SEG frames do not form a volume on the CT grid ({exc})") from exc
    _check_in_plane(volume.affine, patient, path)
    grid = patient.source
    along_normal = grid.positions_along_normal()
    if along_normal is None:
        origin_along = float(np.dot(grid.geometry.normal, grid.geometry.origin_mm))
        along_normal = origin_along + grid.geometry.spacing_mm[0] * np.arange(grid.shape[0], dtype=np.float64)
    values = np.zeros((*grid.shape, len(numbers)), dtype=volume.array.dtype)
    for i in range(volume.spatial_shape[0]):
        position = (volume.affine @ np.array([i, 0.0, 0.0, 1.0]))[:3]
        values[_slice_index(position, patient, along_normal, path)] = volume.array[i]
    return values


def _segment_masks(path: Path, patient: Patient) -> tuple[hd.seg.Segmentation, list[int], list[np.ndarray]]:
    """The SEG, its segment numbers and each segment's bool mask on the canonical grid."""
    segmentation = _read_segmentation(path)
    if (int(segmentation.Rows), int(segmentation.Columns)) != patient.source.shape[1:]:
        rows, columns = patient.source.shape[1:]
        raise MaskMismatchError(
            path, f"SEG frames are {segmentation.Rows}×{segmentation.Columns}, CT is {rows}×{columns}"
        )
    numbers = [int(n) for n in segmentation.get_segment_numbers()]
    if not numbers:
        return segmentation, [], []
    referenced = _referenced_uids(segmentation)
    if referenced and referenced <= set(patient.source.sop_instance_uids):
        values = _by_instance(segmentation, patient, numbers, path)
    else:
        values = _by_position(segmentation, patient, numbers, path)
    masks = _binary(values, segmentation)
    return segmentation, numbers, [patient.source.to_canonical(masks[..., i], mask=True) for i in range(len(numbers))]


def _segment(segmentation: hd.seg.Segmentation, number: int, name: str) -> Segment:
    """A ctseg segment from a SEG segment description: label, display colour and coded concept."""
    import highdicom as hd

    description = segmentation.get_segment_description(number)
    colour = None
    if "RecommendedDisplayCIELabValue" in description:
        lab = [int(v) for v in description.RecommendedDisplayCIELabValue]
        colour = hd.color.CIELabColor.from_dicom_value(lab).to_rgb()
    try:
        category = _as_code(description.segmented_property_category)
        kind = _as_code(description.segmented_property_type)
    except (AttributeError, IndexError, KeyError):
        return default_segment(name, number, colour)
    return default_segment(name, number, colour, category, kind)


def _as_code(concept: hd.sr.CodedConcept) -> Code:
    """A highdicom coded concept (a dataset) as the plain code the segment table holds."""
    return Code(value=concept.value, scheme_designator=concept.scheme_designator, meaning=concept.meaning)


def read_dicom_seg(path: str | Path, patient: Patient) -> dict[str, np.ndarray]:
    """Each segment of a DICOM SEG as a bool [z, y, x] mask on the patient's grid, keyed by its label.

    Frames pair with CT slices by referenced SOP Instance UID when every referenced instance belongs
    to this CT, else by position. Raises :class:`MaskMismatchError` when the SEG is on another grid.
    """
    segmentation, numbers, masks = _segment_masks(Path(path), patient)
    labels = _labels(segmentation, numbers)
    return dict(zip(labels, masks, strict=True))


def read_dicom_seg_labels(path: str | Path, patient: Patient) -> LabelMap:
    """A DICOM SEG as a label map on the patient's grid: one segment per SEG segment (value = segment
    number) with its label, colour and coded concept; overlapping segments are resolved by
    :meth:`LabelMap.from_masks` (smaller wins, with a note)."""
    segmentation, numbers, masks = _segment_masks(Path(path), patient)
    if not numbers:
        return LabelMap(np.zeros(patient.shape, dtype=np.uint8), ())
    names = _labels(segmentation, numbers)
    segments = [_segment(segmentation, number, name) for number, name in zip(numbers, names, strict=True)]
    return LabelMap.from_masks(dict(zip(names, masks, strict=True)), segments)


def _labels(segmentation: hd.seg.Segmentation, numbers: list[int]) -> list[str]:
    labels = [str(segmentation.get_segment_description(n).SegmentLabel) for n in numbers]
    return unique_names(labels, numbers)
