"""Named segments: one integer label map on the canonical grid and the table that names its values.

Every format ctseg reads or writes with several labels (DICOM SEG segments, RTSTRUCT ROIs, Slicer
``.seg.nrrd`` segments, NIfTI with an ITK-SNAP label description) passes through :class:`LabelMap`:
``labels`` holds one value per voxel on the patient's canonical [z, y, x] grid (0 is background) and
``segments`` says what each value is called, how it is drawn and, for DICOM, what it is (a coded
concept). One value per voxel is what Slicer's and ITK-SNAP's label maps hold and what the annotator
edits; formats that let segments overlap (SEG, RTSTRUCT, layered ``.seg.nrrd``) are resolved by
:meth:`LabelMap.from_masks`, which keeps each voxel's smallest segment (a tumour stays visible inside
its liver) and says so in ``notes``.

Names are matched to organs loosely (``"livertumor01"``, ``"Liver tumour"`` and ``"tumor"`` are all a
tumour) for their default colour (:data:`ctseg_core.display.palette.ORGANS`) and DICOM code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from ctseg_core.display.palette import ORGANS, RGB, SEGMENT_SPARE

#: Organ key for names once lower-cased and stripped of digits, spaces, "_" and "-".
_SYNONYMS: dict[str, str] = {
    "liver": "liver",
    "livertumor": "tumour",
    "livertumour": "tumour",
    "livertumors": "tumour",
    "livertumours": "tumour",
    "tumor": "tumour",
    "tumour": "tumour",
    "tumors": "tumour",
    "tumours": "tumour",
    "lesion": "tumour",
    "lesions": "tumour",
    "liverlesion": "tumour",
    "mass": "tumour",
    "neoplasm": "tumour",
    "liverkyst": "cyst",
    "livercyst": "cyst",
    "cyst": "cyst",
    "kyst": "cyst",
    "portalvein": "portal vein",
    "portalveinandsplenicvein": "portal vein",
    "venoussystem": "venous system",
    "hepaticvein": "venous system",
    "hepaticveins": "venous system",
    "artery": "artery",
    "hepaticartery": "artery",
    "vessel": "vessels",
    "vessels": "vessels",
    "livervessels": "vessels",
    "hepaticvessel": "vessels",
    "hepaticvessels": "vessels",
    "inferiorvenacava": "inferior vena cava",
    "ivc": "inferior vena cava",
    "aorta": "aorta",
    "kidney": "kidney",
    "kidneys": "kidney",
    "spleen": "spleen",
    "gallbladder": "gallbladder",
    "biliarytree": "biliary tree",
    "pancreas": "pancreas",
    "stomach": "stomach",
    "adrenalgland": "adrenal gland",
    "surrenalgland": "adrenal gland",
    "lung": "lung",
    "lungs": "lung",
    "heart": "heart",
    "bone": "bone",
    "bones": "bone",
    "skin": "skin",
}

#: DICOM segmented property (category, type) per organ key (SNOMED CT, DICOM CID 7150/7151).
_CODES: dict[str, tuple[Code, Code]] = {
    "liver": (codes.SCT.Organ, codes.SCT.Liver),
    "tumour": (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
    "cyst": (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Cyst),
    "portal vein": (codes.SCT.AnatomicalStructure, codes.SCT.PortalVein),
    "venous system": (codes.SCT.AnatomicalStructure, codes.SCT.HepaticVein),
    "artery": (codes.SCT.AnatomicalStructure, codes.SCT.Artery),
    "vessels": (codes.SCT.AnatomicalStructure, codes.SCT.BloodVessel),
    "inferior vena cava": (codes.SCT.AnatomicalStructure, codes.SCT.InferiorVenaCava),
    "aorta": (codes.SCT.AnatomicalStructure, codes.SCT.Aorta),
    "kidney": (codes.SCT.Organ, codes.SCT.Kidney),
    "spleen": (codes.SCT.Organ, codes.SCT.Spleen),
    "gallbladder": (codes.SCT.Organ, codes.SCT.Gallbladder),
    "pancreas": (codes.SCT.Organ, codes.SCT.Pancreas),
    "stomach": (codes.SCT.Organ, codes.SCT.Stomach),
    "adrenal gland": (codes.SCT.Organ, codes.SCT.AdrenalGland),
    "lung": (codes.SCT.Organ, codes.SCT.Lung),
    "heart": (codes.SCT.Organ, codes.SCT.Heart),
    "bone": (codes.SCT.Tissue, codes.SCT.Bone),
    "skin": (codes.SCT.Organ, codes.SCT.Skin),
}
#: The concept of a segment ctseg knows nothing about: generic tissue.
GENERIC_CODE: tuple[Code, Code] = (codes.SCT.Tissue, codes.SCT.Tissue)


#: Words naming a side, dropped before a name is looked up ("Kidney_R", "adrenal_gland_left").
_SIDES = {"left", "right", "l", "r", "lt", "rt"}


def organ_key(name: str) -> str | None:
    """The organ a segment name stands for (a key of the colour and code tables), or None."""
    words = [w for w in re.split(r"[\d\s_\-.]+", name.lower()) if w]
    squeezed = "".join(words)
    sideless = "".join(w for w in words if w not in _SIDES)
    for side in ("left", "right"):  # IRCAD's "leftkidney", "rightlung"
        sideless = sideless.removeprefix(side).removesuffix(side) or sideless
    return _SYNONYMS.get(squeezed) or _SYNONYMS.get(sideless)


def spare_color(value: int) -> RGB:
    """A colour for a segment with no organ colour: ITK-SNAP's default for that label value."""
    return SEGMENT_SPARE[(max(value, 1) - 1) % len(SEGMENT_SPARE)]


@dataclass(frozen=True)
class Segment:
    """One named value of a label map.

    ``value`` is the voxel value (> 0); ``color`` 0–255 RGB; ``category`` and ``property_type`` the
    DICOM segmented property concepts (SEG writes them; None means "take the organ's, else tissue").
    """

    value: int
    name: str
    color: RGB
    category: Code | None = None
    property_type: Code | None = None

    def concept(self) -> tuple[Code, Code]:
        """The (category, type) a DICOM writer gives this segment."""
        if self.category is not None and self.property_type is not None:
            return self.category, self.property_type
        return _CODES.get(organ_key(self.name) or "", GENERIC_CODE)


def default_segment(
    name: str, value: int, color: RGB | None = None, category: Code | None = None, kind: Code | None = None
) -> Segment:
    """A segment named ``name``: the file's colour and coded concept where it gives them, else its
    organ's where the name is an organ's (a file giving only the type keeps the organ's category, else
    tissue). Every reader builds its segments here."""
    key = organ_key(name)
    chosen = color if color is not None else ORGANS.get(key or "", spare_color(value))
    organ_category, organ_kind = _CODES.get(key or "", (None, None))
    if kind is not None and category is None:
        category = organ_category or GENERIC_CODE[0]
    if kind is None:
        category, kind = organ_category, organ_kind
    return Segment(int(value), name, (int(chosen[0]), int(chosen[1]), int(chosen[2])), category, kind)


def unique_names(names: Sequence[str], values: Sequence[int]) -> list[str]:
    """Names made unique: a repeated name gets its value in brackets ("tumour (3)")."""
    return [name if names.count(name) == 1 else f"{name} ({value})" for name, value in zip(names, values, strict=True)]


#: Voxels counted at a time: ``np.bincount`` makes an int64 copy of what it counts (8 bytes a voxel).
_COUNT_CHUNK = 1 << 20


def present_values(labels: np.ndarray) -> list[int]:
    """The values that occur in an integer array, ascending (0 included when present).

    Counted in chunks, so a CT-sized label map costs a few MB here, not 8 bytes a voxel (the peak
    memory of a segmentation stays under 4× its HU volume).
    """
    flat = np.asarray(labels).ravel()
    if flat.size == 0:
        return []
    top = int(flat.max())
    if flat.dtype.kind in "ui" and int(flat.min()) >= 0 and top <= 1 << 20:
        counts = np.zeros(top + 1, dtype=np.int64)  # counting is several times faster than sorting
        for start in range(0, flat.size, _COUNT_CHUNK):
            counts += np.bincount(flat[start : start + _COUNT_CHUNK], minlength=top + 1)
        return [int(v) for v in np.flatnonzero(counts)]
    return [int(v) for v in np.unique(flat)]


def label_dtype(max_value: int) -> np.dtype:
    """The smallest unsigned integer type that holds ``max_value``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"label value {max_value} is too large")


@dataclass
class LabelMap:
    """A label map on the canonical [z, y, x] grid and the segments its values stand for.

    ``labels`` is an unsigned integer array, 0 the background; every non-zero value in it has a
    segment. Segments with no voxel are allowed (an empty tumour segment is still a segment).
    ``notes`` holds what a reader had to say about the file (overlaps resolved, no label table …).
    """

    labels: np.ndarray
    segments: tuple[Segment, ...]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self.segments = tuple(self.segments)
        if self.labels.ndim != 3 or self.labels.dtype.kind not in "ui":
            raise ValueError(f"labels must be a 3D integer array, got {self.labels.dtype} {self.labels.shape}")
        values = [s.value for s in self.segments]
        names = [s.name for s in self.segments]
        if any(v <= 0 for v in values) or len(set(values)) != len(values):
            raise ValueError(f"segment values must be positive and unique, got {values}")
        if len(set(names)) != len(names):
            raise ValueError(f"segment names must be unique, got {names}")
        unknown = sorted(set(present_values(self.labels)) - set(values) - {0})
        if unknown:
            raise ValueError(f"label values {unknown} have no segment")

    @property
    def shape(self) -> tuple[int, int, int]:
        depth, rows, columns = self.labels.shape
        return (depth, rows, columns)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    def segment(self, name: str) -> Segment:
        """The segment called ``name`` (KeyError if none)."""
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise KeyError(f"no segment named {name!r}; segments: {', '.join(self.names) or 'none'}")

    def mask(self, name: str) -> np.ndarray:
        """The bool [z, y, x] mask of segment ``name``."""
        return np.asarray(self.labels == self.segment(name).value)

    def masks(self) -> dict[str, np.ndarray]:
        """Every segment's mask, by name, in table order."""
        return {s.name: np.asarray(self.labels == s.value) for s in self.segments}

    def copy(self) -> LabelMap:
        """A copy whose voxels can be edited without touching this one's (segments are immutable)."""
        return LabelMap(self.labels.copy(), self.segments, self.notes)

    def numbered(self) -> list[tuple[int, Segment]]:
        """The segments in value order with the number a DICOM object gives each (SEG segment number,
        RTSTRUCT ROI number): 1, 2, … — the label values themselves when they run 1 to N, as ctseg's
        label maps do. SEG requires numbers from 1 without gaps; RTSTRUCT uses the same so that a
        SEG and an RTSTRUCT of one label map number their segments alike."""
        return list(enumerate(sorted(self.segments, key=lambda s: s.value), start=1))

    @classmethod
    def from_masks(
        cls, masks: Mapping[str, np.ndarray], segments: Sequence[Segment] | None = None, notes: Sequence[str] = ()
    ) -> LabelMap:
        """One label map from bool masks (same shape), with ``segments`` in the masks' order or, when
        None, default segments numbered 1, 2, … . Where masks overlap the smallest wins, and a note
        says which segments overlapped by how many voxels."""
        names = list(masks)
        if segments is None:
            segments = [default_segment(name, value) for value, name in enumerate(names, start=1)]
        if len(segments) != len(names):
            raise ValueError(f"{len(names)} masks but {len(segments)} segments")
        if not names:
            raise ValueError("no masks: a label map needs a shape")
        arrays = [np.asarray(masks[name], dtype=bool) for name in names]
        shape = arrays[0].shape
        if any(a.shape != shape for a in arrays):
            raise ValueError(f"masks differ in shape: {[a.shape for a in arrays]}")
        dtype = label_dtype(max(s.value for s in segments))
        labels = np.zeros(shape, dtype=dtype)
        sizes = [int(np.count_nonzero(a)) for a in arrays]
        for index in sorted(range(len(arrays)), key=lambda i: -sizes[i]):
            labels[arrays[index]] = segments[index].value
        overlap_notes = _overlaps(names, arrays, sizes)
        return cls(labels, tuple(segments), tuple(notes) + tuple(overlap_notes))

    @classmethod
    def from_mask(cls, mask: np.ndarray, name: str = "liver") -> LabelMap:
        """A label map of one segment (value 1) from a bool mask."""
        return cls.from_masks({name: mask})


def _overlaps(names: list[str], arrays: list[np.ndarray], sizes: list[int]) -> list[str]:
    """One note naming the overlapping pairs, when any voxel is in two masks."""
    if sum(sizes) == 0 or len(arrays) < 2:
        return []
    coverage = np.zeros(arrays[0].shape, dtype=np.uint16)
    for array in arrays:
        coverage += array
    if coverage.max() < 2:
        return []
    pairs = []
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            shared = int(np.count_nonzero(arrays[i] & arrays[j]))
            if shared:
                pairs.append(f"{names[i]} and {names[j]} share {shared} voxels")
    return ["segments overlap (" + "; ".join(pairs) + "): the label map gives each shared voxel to the smaller segment"]
