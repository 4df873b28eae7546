"""From the records of a unit's files to its series: size, spacing, orientation, and whether the
model is offered it (a CT volume) or not (MR, a localizer, a dose page, a SEG…, and why)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ctseg_core.cohort.headers import InstanceRecord
from ctseg_core.io.file_kinds import nifti_stem

T = TypeVar("T")
#: A CT series needs at least this many images to be a volume the model is offered.
MIN_SLICES = 2
#: Secondary Capture storage classes: screens and dose pages saved as images, not scans.
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
_OBJECT_KINDS = {
    "SEG": "a segmentation (SEG)",
    "RTSTRUCT": "contours (RTSTRUCT)",
    "SR": "a structured report (e.g. a dose report)",
    "RTDOSE": "a dose grid (RTDOSE)",
    "RTPLAN": "a treatment plan (RTPLAN)",
    "KO": "a key-object selection",
    "PR": "a presentation state",
    "REG": "a registration",
    "DOC": "a document",
}


@dataclass(frozen=True)
class SeriesFacts:
    """One series as the cohort lists it."""

    series_uid: str
    format: str  # dicom | nifti
    modality: str
    patient_id: str
    patient_name: str
    study_uid: str
    study_date: str
    study_description: str
    series_number: int | None
    description: str
    image_type: str
    sop_class_uid: str
    slices: int
    rows: int | None
    columns: int | None
    spacing_mm: tuple[float | None, float | None, float | None]
    orientation: str
    not_segmentable: str  # "" when the model is offered this series
    members: tuple[InstanceRecord, ...] = field(default=(), repr=False)

    @property
    def segmentable(self) -> bool:
        return not self.not_segmentable

    @property
    def is_image(self) -> bool:
        return self.format == "nifti" or any(m.is_image for m in self.members)

    @property
    def files(self) -> int:
        return len(self.members) if self.format == "dicom" else 1

    def middle_member(self) -> InstanceRecord | None:
        """The image in the middle of the stack (by position, else instance number): the thumbnail's."""
        images = [m for m in self.members if m.is_image and "LOCALIZER" not in m.image_type]
        images = images or [m for m in self.members if m.is_image]
        if not images:
            return None
        normal = _normal(images[0].orientation)
        images.sort(key=lambda m: (_along(m, normal), m.instance_number or 0, m.entry))
        return images[len(images) // 2]


def dicom_series(records: list[InstanceRecord]) -> list[SeriesFacts]:
    """The series of a unit's DICOM records, in (patient, study, series number, UID) order."""
    groups: dict[str, list[InstanceRecord]] = defaultdict(list)
    for record in records:
        groups[record.series_uid].append(record)
    series = [_facts(uid, members) for uid, members in groups.items()]
    return sorted(series, key=lambda s: (s.patient_id, s.study_uid, s.series_number or 0, s.series_uid))


def _facts(uid: str, members: list[InstanceRecord]) -> SeriesFacts:
    first = members[0]
    images = [m for m in members if m.is_image]
    scans = [m for m in images if "LOCALIZER" not in m.image_type] or images
    rows, columns = _most_common([(m.rows, m.columns) for m in scans]) if scans else (None, None)
    return SeriesFacts(
        series_uid=uid,
        format="dicom",
        modality=first.modality,
        patient_id=first.patient_id,
        patient_name=first.patient_name,
        study_uid=first.study_uid,
        study_date=first.study_date,
        study_description=first.study_description,
        series_number=first.series_number,
        description=first.series_description,
        image_type="\\".join(first.image_type),
        sop_class_uid=first.sop_class_uid,
        slices=sum(m.frames for m in scans),
        rows=rows,
        columns=columns,
        spacing_mm=_spacing(scans),
        orientation=_orientation_label(_normal(scans[0].orientation) if scans else None),
        not_segmentable=_why_not_segmentable(first, images, scans),
        members=tuple(sorted(members, key=lambda m: m.entry)),
    )


def _why_not_segmentable(first: InstanceRecord, images: list[InstanceRecord], scans: list[InstanceRecord]) -> str:
    """Why the model is not offered a series ("" when it is)."""
    if not images:
        return _OBJECT_KINDS.get(first.modality, f"a {first.modality or 'DICOM'} object without an image")
    if first.modality != "CT":
        return f"{first.modality or 'no modality'}, not CT"
    if all("LOCALIZER" in m.image_type for m in scans):
        return "a localizer (scout) image"
    if first.sop_class_uid.startswith(_SECONDARY_CAPTURE) or "SCREEN SAVE" in first.image_type:
        return "a secondary capture (a screen or a dose page), not a scan"
    if sum(m.frames for m in scans) < MIN_SLICES:
        return "a single image, not a volume"
    return ""


def _most_common(values: list[T]) -> T:
    return Counter(values).most_common(1)[0][0]


def _normal(orientation: tuple[float, ...] | None) -> np.ndarray | None:
    if orientation is None:
        return None
    normal = np.cross(np.asarray(orientation[:3]), np.asarray(orientation[3:6]))
    length = float(np.linalg.norm(normal))
    return normal / length if length > 1e-6 else None


def _along(member: InstanceRecord, normal: np.ndarray | None) -> float:
    if member.position is None or normal is None:
        return 0.0
    return float(np.dot(member.position, normal))


def _spacing(scans: list[InstanceRecord]) -> tuple[float | None, float | None, float | None]:
    """(slice, row, column) spacing in mm: between positions along the normal, else from the header."""
    if not scans:
        return (None, None, None)
    spacings = [m.pixel_spacing for m in scans if m.pixel_spacing]
    row, column = _most_common(spacings) if spacings else (None, None)
    normal = _normal(scans[0].orientation)
    positions = sorted({round(_along(m, normal), 3) for m in scans if m.position is not None})
    if normal is not None and len(positions) > 1:
        dz: float | None = round(float(np.median(np.diff(positions))), 4)
    else:
        dz = scans[0].spacing_between_slices or scans[0].slice_thickness
    return (dz, row, column)


def _orientation_label(normal: np.ndarray | None) -> str:
    """axial, coronal or sagittal by the slice normal's patient axis; oblique when it is off all three."""
    if normal is None:
        return ""
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) < 0.95:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def nifti_series(path: Path, unit: Path) -> SeriesFacts:
    """The one series of a NIfTI CT, from its header (a file nibabel cannot read: recorded, not offered)."""
    name = unit.name if unit != path else nifti_stem(path)
    shape: tuple[int, ...] = ()
    zooms: tuple[float, ...] = ()
    label, problem = "", ""
    try:
        import nibabel as nib

        image: Any = nib.load(str(path))  # nibabel's image classes have no common typed base
        shape, zooms = tuple(int(n) for n in image.shape), tuple(float(z) for z in image.header.get_zooms())
        label = _orientation_label(_nifti_slice_normal(np.asarray(image.affine, dtype=np.float64)))
    except Exception as error:  # nibabel raises many types for a bad file
        problem = f"not a readable NIfTI file ({error.__class__.__name__}: {error})"
    if not problem and (len(shape) < 3 or (len(shape) == 4 and shape[3] != 1) or len(shape) > 4):
        problem = f"not a 3D volume (shape {shape})"
    volume = len(shape) >= 3
    return SeriesFacts(
        series_uid="",
        format="nifti",
        modality="CT",
        patient_id=name,
        patient_name="",
        study_uid="",
        study_date="",
        study_description="",
        series_number=None,
        description="NIfTI volume",
        image_type="",
        sop_class_uid="",
        slices=shape[2] if volume else 0,
        rows=shape[1] if volume else None,
        columns=shape[0] if volume else None,
        spacing_mm=(zooms[2], zooms[1], zooms[0]) if len(zooms) >= 3 else (None, None, None),
        orientation=label,
        not_segmentable=problem or ("a single image, not a volume" if volume and shape[2] < MIN_SLICES else ""),
    )


def _nifti_slice_normal(affine_ras: np.ndarray) -> np.ndarray | None:
    """The direction of the third array axis (the stack of slices), in LPS."""
    column = affine_ras[:3, 2] * np.array([-1.0, -1.0, 1.0])
    length = float(np.linalg.norm(column))
    return column / length if length > 1e-9 else None
