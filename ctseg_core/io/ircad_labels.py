"""A label map of named segments in the 3D-IRCADb layout: one mask folder per segment,
``MASKS_DICOM/<segment name>/image_K``, and such folders read back as one label map.

IRCAD's own ground truth is one binary folder per organ (``liver``, ``livertumor01``, ``portalvein``…),
so a multi-label map is written the same way, each folder by :func:`ctseg_core.io.masks.write_ircad_mask`
(atomic, refusing to replace ground truth). A folder holds a name and a mask but no colour: ctseg
writes the segment's label value as the slices' SeriesNumber and reads it back from folders it wrote;
colours follow the organ the name stands for (:func:`ctseg_core.io.segments.default_segment`), and
other folders are numbered 1, 2, … in name order. Overlapping folders (IRCAD's liver holds its
tumours) become one label map where the smaller segment wins, with a note.

A label saved under a name (``ctseg segment``'s ``liver_pred``, the viewer's ``liver_edited``) is
written by one rule, :func:`ircad_folder_names`: the first segment's folder is that name, and every
other segment's folder is its own name with the ending the name adds to the first segment's
(``liver_edited`` → ``tumour_edited``; ``liver`` → ``tumour``; a name not starting with the first
segment's, ``fixed``, → ``tumour_fixed``). So a save named after its first segment writes the plain
``<segment>`` folders and reads back with the same names, and a save next to ground truth
(``liver_edited``) writes beside IRCAD's organ folders, never over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ctseg_core.errors import CtsegError
from ctseg_core.geometry import natural_sort_key
from ctseg_core.io.masks import (
    CTSEG_MANUFACTURER,
    read_mask_folder,
    refuse_to_replace_ground_truth,
    validate_label_name,
    write_ircad_mask,
)
from ctseg_core.io.patient import Patient
from ctseg_core.io.segments import LabelMap, Segment, default_segment
from ctseg_core.progress import CancelCheck, ProgressCallback

MASKS_FOLDER = "MASKS_DICOM"


def ircad_folder_names(name: str, segment_names: Sequence[str]) -> list[str]:
    """The mask folder of each segment when a label of ``segment_names`` is saved under ``name`` (the
    module's rule): ``name`` for the first (the only one of a single label), ``<segment><ending>``
    for the others, where the ending is what ``name`` adds to the first segment's name after "_"
    (or ``_<name>``). Always distinct, since the segment names are."""
    if len(segment_names) < 2:
        return [name]
    first = segment_names[0]
    ending = name[len(first) :] if name == first or name.startswith(f"{first}_") else f"_{name}"
    return [name, *(f"{segment}{ending}" for segment in segment_names[1:])]


def named_as_folders(label_map: LabelMap, name: str) -> LabelMap:
    """``label_map`` with each segment renamed to its mask folder under ``name``
    (:func:`ircad_folder_names`): what an IRCAD save of it writes."""
    if not label_map.segments:
        return label_map
    folders = ircad_folder_names(name, label_map.names)
    if folders == label_map.names:  # already so (a single label under its name): no second pass
        return label_map
    segments = tuple(replace(s, name=f) for s, f in zip(label_map.segments, folders, strict=True))
    return LabelMap(label_map.labels, segments, label_map.notes)


def check_ircad_names(label_map: LabelMap, out_dir: Path, replace_ground_truth: bool = False) -> None:
    """Every segment name is a usable mask folder name and, unless ``replace_ground_truth``, none
    would replace ground truth (InvalidLabelNameError, GroundTruthProtectedError): checked before
    the first folder is written."""
    for segment in label_map.segments:
        validate_label_name(segment.name, where=out_dir / MASKS_FOLDER)
    if not replace_ground_truth:
        for segment in label_map.segments:
            refuse_to_replace_ground_truth(out_dir, segment.name)


def write_ircad_labels(
    label_map: LabelMap,
    patient: Patient,
    out_dir: str | Path,
    should_cancel: CancelCheck | None = None,
    progress: ProgressCallback | None = None,
    replace_ground_truth: bool = False,
) -> list[Path]:
    """Write each segment as ``out_dir/MASKS_DICOM/<name>/image_K`` (its value as SeriesNumber), in
    table order; the folders written. Each folder appears atomically; names and ground truth are
    checked for all segments first (:func:`check_ircad_names`)."""
    out_dir = Path(out_dir)
    if not label_map.segments:
        raise CtsegError(out_dir, "the label map has no segment: there is no mask folder to write")
    check_ircad_names(label_map, out_dir, replace_ground_truth)
    written = []
    count = len(label_map.segments)
    for index, segment in enumerate(label_map.segments):

        def report(done: int, total: int, stage: str, index: int = index) -> None:
            if progress is not None:
                progress(index * total + done, count * total, stage)

        written.append(
            write_ircad_mask(
                label_map.labels == segment.value,
                patient,
                out_dir,
                segment.name,
                should_cancel=should_cancel,
                progress=report,
                replace_ground_truth=replace_ground_truth,
                series_number=segment.value,
            )
        )
    return written


def mask_folders(folder: str | Path) -> list[Path]:
    """The mask folders a folder stands for, in name order: its ``MASKS_DICOM``'s sub-folders (a
    patient folder), its own sub-folders (a ``MASKS_DICOM`` folder), or itself (one mask folder)."""
    folder = Path(folder)
    if (folder / MASKS_FOLDER).is_dir():
        folder = folder / MASKS_FOLDER
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError as exc:
        raise CtsegError(folder, f"cannot list the folder ({exc.strerror or exc})") from exc
    subfolders = sorted((p for p in entries if p.is_dir()), key=lambda p: natural_sort_key(p.name))
    if subfolders and not any(p.is_file() for p in entries):
        return subfolders
    return [folder]


def _written_value(folder: Path) -> int | None:
    """The label value ctseg wrote into a mask folder's SeriesNumber; None for anyone else's."""
    import pydicom

    files = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: natural_sort_key(p.name))
    if not files:
        return None
    try:
        ds = pydicom.dcmread(files[0], stop_before_pixels=True, specific_tags=["Manufacturer", "SeriesNumber"])
    except Exception:  # not DICOM or unreadable: the mask reader says why
        return None
    if str(ds.get("Manufacturer", "")) != CTSEG_MANUFACTURER or ds.get("SeriesNumber") in (None, ""):
        return None
    return int(ds.SeriesNumber)


def _segments(folders: list[Path]) -> list[Segment]:
    """One segment per folder: value from SeriesNumber where ctseg wrote them all distinct, else 1, 2, …"""
    values = [_written_value(f) for f in folders]
    known = [v for v in values if v is not None]
    if len(known) != len(values) or len(set(known)) != len(known) or min(known, default=1) < 1:
        values = list(range(1, len(folders) + 1))
    return [default_segment(f.name, int(v)) for f, v in zip(folders, values, strict=True)]  # type: ignore[arg-type]


def read_ircad_labels(
    folder: str | Path,
    patient: Patient,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> LabelMap:
    """IRCAD mask folders as one label map on the patient's grid, a segment per folder named after it
    (:func:`mask_folders` says which folders; values as the module says)."""
    folders = mask_folders(folder)
    segments = _segments(folders)
    masks = {f.name: read_mask_folder(f, patient, progress, should_cancel) for f in folders}
    by_value = sorted(range(len(segments)), key=lambda i: segments[i].value)
    ordered = {folders[i].name: masks[folders[i].name] for i in by_value}
    return LabelMap.from_masks(ordered, [segments[i] for i in by_value])
