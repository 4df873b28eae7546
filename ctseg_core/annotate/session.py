"""The label being edited, without Qt: tools, strokes, fills, volume tools, undo and live Dice.

A :class:`LabelSession` is the annotator's model (napari's Labels layer plays this part): a bool
label ``[z, y, x]`` on one CT, changed only by ``editing`` functions wrapped in ``EditHistory``
steps, with ``OverlapCounts`` against reference masks for live Dice. Every change is announced
by an :class:`~ctseg_core.annotate.events.Event`, so a script, a test or the GUI (which forwards
them as Qt signals) follows it::

    session = LabelSession()
    session.set_volume(patient.hu, patient.spacing_mm)
    session.set_references({"gt": patient.masks["liver"]})
    session.set_tool(Tool.BRUSH)
    session.begin_stroke(40, (200, 210))
    session.extend_stroke((220, 230))
    session.end_stroke()                 # one undo step
    session.dice("gt", 40).volume        # live Dice, no rescan of the volume
    session.undo()

Strokes, flood fill and fill holes work in any plane: slice ``index`` along ``axis`` 0 (axial,
points (y, x)), 1 (coronal, points (z, x)) or 2 (sagittal, points (z, y)), as
:func:`~ctseg_core.annotate.editing.section` cuts it; the brush is a disc of its radius in mm in
that plane, so on thick slices a coronal disc covers fewer rows of z than columns of x::

    session.begin_stroke(250, (40, 200), axis=1)   # coronal slice y = 250, at z = 40, x = 200
    session.extend_stroke((44, 230))
    session.end_stroke()                           # one undo step, however many axial slices it crossed

Whatever the plane, the history stores the axial slices an edit changed (their before-state only),
and :attr:`label_edited`, :meth:`undo` and :meth:`redo` report those axial slices. A brush stroke
snapshots each axial slice before it first reaches it, is painted on every move and committed on
release. The volume tools run in three parts (:mod:`~ctseg_core.annotate.volume_tools`): while one
is pending the label takes no other edit (a stroke would be lost under its result); a new label or
another volume drops it, and its result is then ignored. Slices are given explicitly, counted from 0
along their axis of the canonical [z, y, x] volume.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ctseg_core.annotate import editing
from ctseg_core.annotate.events import Event
from ctseg_core.annotate.history import EditHistory
from ctseg_core.annotate.live_dice import OverlapCounts
from ctseg_core.annotate.segment_set import PRIMARY_SEGMENT, SegmentRow, SegmentSet
from ctseg_core.annotate.tools import DEFAULT_BRUSH_MM, DEFAULT_MIN_ISLAND_ML, HuLimit, Tool, clamp_brush, next_brush
from ctseg_core.annotate.volume_tools import PendingVolumeEdit, VolumeEdit, VolumeTool, volume_change
from ctseg_core.display.palette import RGB
from ctseg_core.io.segments import LabelMap, Segment, organ_key

DEFAULT_LABEL_NAME = "liver"


@dataclass(frozen=True)
class LiveDice:
    """Dice of the edited label against a reference, on one slice and over the volume (NaN: —)."""

    slice: float = math.nan
    volume: float = math.nan


@dataclass
class _Stroke:
    """A brush stroke in progress: its plane (axis) and slice, the last point (row, col), paint or erase."""

    axis: int
    index: int
    last: tuple[int, int]
    value: bool
    description: str
    layer: int


class LabelSession:
    """One label on one CT volume, the tool settings that edit it, its undo history and live Dice.

    The label is a set of named segments (:class:`~ctseg_core.annotate.segment_set.SegmentSet`);
    :attr:`label` is the bool mask of the active one, which every tool edits. One undo history spans
    every segment (each step names its segment). The liver (:data:`PRIMARY_SEGMENT`) is the segment
    :meth:`start_label` fills and the references of :meth:`set_references` score.
    """

    def __init__(self) -> None:
        self.hu: np.ndarray | None = None
        self.spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
        self.segments = SegmentSet()
        self.name = DEFAULT_LABEL_NAME
        self.history = EditHistory()
        self.tool = Tool.NAVIGATE
        self.brush_radius_mm = DEFAULT_BRUSH_MM
        self.hu_limit = HuLimit()
        #: "Remove islands" deletes 3D pieces smaller than this (mL).
        self.min_island_ml = DEFAULT_MIN_ISLAND_ML
        #: Bumped by every change of the label's voxels (edit, undo, redo, new label): saves and
        #: autosaves compare it to know whether what they wrote is still the label.
        self.revision = 0
        self._stroke: _Stroke | None = None
        self._volume_edit: PendingVolumeEdit | None = None
        self._volume_layer = 0  # the segment a pending volume tool writes
        self._table_changed = False  # segments added, removed, renamed or recoloured since the save
        self._slice_voxels = np.zeros(0, np.int64)  # active segment's voxels per slice, for the volume
        self._references: dict[str, np.ndarray] = {}  # the liver's: "gt", "prediction"
        self._truths: dict[str, np.ndarray] = {}  # ground truth of other segments, by segment name
        self._overlap: dict[tuple[str, int], OverlapCounts] = {}  # (reference, segment value)
        self.label_changed: Event[[]] = Event()  # a label was started, loaded, restored or dropped
        self.label_edited: Event[[list[int]]] = Event()  # slices whose voxels changed
        self.tool_changed: Event[[Tool]] = Event()
        self.brush_changed: Event[[float]] = Event()  # radius, mm
        self.hu_limit_changed: Event[[HuLimit]] = Event()
        self.history_changed: Event[[]] = Event()  # undo/redo availability or text, modified state
        self.dice_changed: Event[[]] = Event()
        self.step_committed: Event[[str]] = Event()  # an undoable edit was stored (its description)
        self.notice: Event[[str]] = Event()  # why a request changed nothing, for the user
        self.volume_edit_changed: Event[[]] = Event()  # a volume tool started, finished or was dropped
        self.segments_changed: Event[[]] = Event()  # a segment added, removed, renamed, recoloured, shown,
        # hidden, locked or unlocked, or another one made active

    # ---------------------------------------------------------------- volume and label

    def set_volume(self, hu: np.ndarray | None, spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        """Edit on another CT (HU ``[z, y, x]``, voxel spacing (dz, dy, dx) mm); the label, its history
        and the references of the previous one are dropped."""
        dz, dy, dx = spacing_mm
        self.hu = hu
        self.spacing_mm = (float(dz), float(dy), float(dx))
        self._references = {}
        self._truths = {}
        self.drop_label()

    @property
    def label(self) -> np.ndarray | None:
        """The active segment's bool mask [z, y, x] (what the tools edit); None without a label."""
        active = self.segments.active
        return None if active is None else self.segments.masks[active]

    @property
    def has_label(self) -> bool:
        return self.label is not None

    @property
    def is_modified(self) -> bool:
        """The label holds edits that are neither saved nor were loaded as they are."""
        return self.label is not None and (self.history.is_modified or self._table_changed)

    @property
    def unsaved_edits(self) -> int:
        if self.label is None:
            return 0
        return self.history.changes_since_save + int(self._table_changed)

    def start_label(self, mask: np.ndarray | None, name: str, description: str, modified: bool = False) -> None:
        """Edit a copy of ``mask`` (None: an empty label) under ``name``; nothing without a volume.

        With no label yet, it starts a fresh history and counts as saved, unless ``modified`` (an
        accepted prediction or a restored autosave exists nowhere else on disk). Replacing a label
        is itself an undoable step, so starting over never loses the previous label.
        """
        if self.hu is None:
            return
        if mask is not None and mask.shape != self.hu.shape:
            raise ValueError(f"label shape {mask.shape} differs from the CT's {self.hu.shape}")
        self._finish_stroke()
        self._drop_volume_edit()
        replacing = self.label is not None
        if self.label is None:
            self.segments.clear()
            self.history.clear()
            self._table_changed = False
            self._slice_voxels = np.zeros(self.hu.shape[0], np.int64)
        primary = self.segments.primary() or self.segments.add(PRIMARY_SEGMENT, self.hu.shape)
        self.segments.active = primary.value
        self.name = name
        if replacing or modified:
            self._edit(description, None, lambda label: np.copyto(label, mask if mask is not None else False))
        elif mask is not None:
            np.copyto(self.segments.masks[primary.value], mask)
        self.revision += 1
        self._count_references()
        self.label_changed.emit()
        self.history_changed.emit()
        self.segments_changed.emit()

    def start_segments(self, segments: Sequence[tuple[Segment, np.ndarray]], name: str, modified: bool = False) -> None:
        """Edit copies of ``segments`` (each with its mask: an autosave, a label file's segments) under
        ``name``, with a fresh history: counts as saved unless ``modified``."""
        if self.hu is None or not segments:
            return
        if any(mask.shape != self.hu.shape for _, mask in segments):
            raise ValueError(f"segment masks differ in shape from the CT's {self.hu.shape}")
        self._finish_stroke()
        self._drop_volume_edit()
        self.segments.load(segments)
        self.history.clear()
        self.name = name
        self._table_changed = bool(modified)
        self.revision += 1
        self._count_references()
        self.label_changed.emit()
        self.history_changed.emit()
        self.segments_changed.emit()

    def empty_active_segment(self) -> str | None:
        """Clear the active segment only, as one undoable step (the others keep their voxels); its
        name, or None when nothing was cleared (no label, a locked segment, a volume tool running).
        Without several segments this is :meth:`start_label` with an empty label, as before."""
        row = self.segments.active_row()
        if row is None or len(self.segments) < 2:
            self.start_label(None, self.name, "New empty label")
            active = self.segments.active_row()
            return None if active is None else active.name
        if self._refuse_while_busy() or self._refuse_locked():
            return None
        self._edit(f"Empty {row.name}", None, lambda label: label.fill(False))
        return row.name

    def ensure_label(self) -> bool:
        """Start an empty label if there is none (painting needs one); False without a volume."""
        if self.label is None:
            self.start_label(None, self.name, "New empty label")
        return self.label is not None

    def drop_label(self) -> None:
        """Forget the label and its history."""
        self._stroke = None
        self._drop_volume_edit()
        self.segments.clear()
        self._table_changed = False
        self.name = DEFAULT_LABEL_NAME
        self.history.clear()
        self._overlap = {}
        self.revision += 1
        self.label_changed.emit()
        self.history_changed.emit()
        self.dice_changed.emit()
        self.segments_changed.emit()

    def mark_saved(self, revision: int) -> bool:
        """The label as it was at ``revision`` is on disk: unmodified, if nothing changed since."""
        if self.label is None or revision != self.revision:
            return False
        self.history.mark_saved()
        self._table_changed = False
        self.history_changed.emit()
        return True

    # ---------------------------------------------------------------- tool settings

    def set_tool(self, tool: Tool) -> None:
        if tool != self.tool:
            self._finish_stroke()
            self.tool = tool
            self.tool_changed.emit(tool)

    def set_brush_radius(self, radius_mm: float) -> None:
        """Brush radius in mm, clamped to the brush sizes offered."""
        radius_mm = clamp_brush(radius_mm)
        if radius_mm != self.brush_radius_mm:
            self.brush_radius_mm = radius_mm
            self.brush_changed.emit(radius_mm)

    def step_brush(self, steps: int) -> None:
        """Next larger (``steps`` > 0) or smaller brush size."""
        self.set_brush_radius(next_brush(self.brush_radius_mm, steps))

    def set_hu_limit(self, *, enabled: bool | None = None, lo: int | None = None, hi: int | None = None) -> None:
        """Change the intensity masking, e.g. ``set_hu_limit(enabled=True, lo=0)`` (HU)."""
        limit = self.hu_limit
        limit = replace(
            limit,
            enabled=limit.enabled if enabled is None else bool(enabled),
            lo=limit.lo if lo is None else int(lo),
            hi=limit.hi if hi is None else int(hi),
        )
        if limit != self.hu_limit:
            self.hu_limit = limit
            self.hu_limit_changed.emit(limit)

    def set_min_island_ml(self, min_ml: float) -> None:
        self.min_island_ml = float(min_ml)

    # ---------------------------------------------------------------- brush strokes

    @property
    def stroking(self) -> bool:
        return self._stroke is not None

    def begin_stroke(self, index: int, point: tuple[int, int], axis: int = 0, erase: bool = False) -> None:
        """Press with the brush or eraser at (row, col) of slice ``index`` along ``axis``: a first dab.

        Axis 0 is axial (``index`` z, ``point`` (y, x)), 1 coronal (y; (z, x)), 2 sagittal (x; (z, y)).
        ``erase`` makes the brush's stroke an eraser stroke (ITK-SNAP's right button).
        """
        if not self.tool.paints or self._refuse_while_busy() or not self.ensure_label() or self._refuse_locked():
            return
        self._finish_stroke()
        assert self.label is not None and self.segments.active is not None
        editing.section(self.label, axis, index)  # a plane or slice outside the volume fails here, on press
        value = self.tool is Tool.BRUSH and not erase
        description = "Brush stroke" if value else "Eraser stroke"
        layer = self.segments.active
        self.history.record(self.label, [], description, layer)  # each axial slice joins before the brush reaches it
        self._stroke = _Stroke(axis, index, point, value, description, layer)
        self._paint([point])

    def extend_stroke(self, point: tuple[int, int]) -> None:
        """Move while painting: the segment from the previous point (same plane and slice), with no gaps."""
        if self._stroke is not None and point != self._stroke.last:
            self._paint([self._stroke.last, point])
            self._stroke.last = point

    def end_stroke(self) -> None:
        """Release: the stroke becomes one undoable step (none if it changed nothing)."""
        self._finish_stroke()

    def _paint(self, points: Sequence[tuple[int, int]]) -> None:
        stroke = self._stroke
        assert stroke is not None
        label = self.segments.masks[stroke.layer]
        hu, hu_range = (self.hu, self.hu_limit.range) if self.hu_limit.enabled else (None, None)
        spacing = editing.section_spacing(self.spacing_mm, stroke.axis)
        if stroke.axis == 0:
            slices = [stroke.index]
        else:  # the section's rows are axial slices: record those the disc can reach, before painting
            rows = editing.stroke_rows(points, self.brush_radius_mm, spacing)
            slices = list(range(max(rows.start, 0), min(rows.stop, label.shape[0])))
            if not slices:
                return  # wholly above or below the volume
        self.history.include(label, slices, editing.axial_box(label.shape, stroke.axis, stroke.index))
        editing.paint_stroke(
            label, stroke.index, points, self.brush_radius_mm, spacing, stroke.value, hu, hu_range, axis=stroke.axis
        )
        self._changed(slices, revise=False, layer=stroke.layer)

    def _finish_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        if self.history.commit(self.segments.masks[stroke.layer]):
            self.revision += 1
            self._committed(stroke.description)

    # ---------------------------------------------------------------- one-shot tools

    def flood_fill(self, index: int, seed: tuple[int, int], axis: int = 0) -> int:
        """Fill the 4-connected region in the HU range holding the seed (row, col), in the 2-D slice
        ``index`` along ``axis`` (0 axial, 1 coronal, 2 sagittal, as for strokes); voxels added."""
        if self._refuse_while_busy() or not self.ensure_label() or self._refuse_locked():
            return 0
        hu, hu_range = self.hu, self.hu_limit.range
        assert hu is not None
        hu_plane = editing.section(hu, axis, index)
        added = self._edit_section(
            "Flood fill", axis, index, lambda plane: editing.flood_fill_section(plane, seed, hu_plane, hu_range)
        )
        if not added:
            self.notice.emit(self._why_no_fill(hu_plane, seed, hu_range))
        return added

    @staticmethod
    def _why_no_fill(hu_plane: np.ndarray, seed: tuple[int, int], hu_range: tuple[float, float]) -> str:
        (row, column), (lo, hi) = seed, hu_range
        if not (0 <= row < hu_plane.shape[0] and 0 <= column < hu_plane.shape[1]):
            return "Flood fill: click inside the image"
        seed_hu = int(hu_plane[row, column])
        if not lo <= seed_hu <= hi:
            return f"Flood fill changed nothing: the seed is {seed_hu} HU, outside {lo:g} … {hi:g} HU"
        return "Flood fill changed nothing: that region is already in the label"

    def fill_holes(self, index: int, axis: int = 0) -> int:
        """Fill the holes of the label in slice ``index`` along ``axis`` (vessels inside the liver;
        0 axial, 1 coronal, 2 sagittal); voxels added."""
        if self.label is None or self._refuse_while_busy() or self._refuse_locked():
            return 0
        return self._edit_section("Fill holes", axis, index, editing.fill_holes_section)

    # ---------------------------------------------------------------- volume tools

    @property
    def volume_edit(self) -> PendingVolumeEdit | None:
        """The volume tool under way, if any: until it lands, the label takes no other edit."""
        return self._volume_edit

    def begin_volume_edit(self, tool: VolumeTool, min_island_ml: float | None = None) -> PendingVolumeEdit | None:
        """Start ``tool`` on a copy of the label; None without a label or while another one runs.

        Remove islands deletes pieces under ``min_island_ml`` (default: :attr:`min_island_ml`).
        Run the returned edit's :meth:`~PendingVolumeEdit.run` (on any thread), then hand its result
        to :meth:`finish_volume_edit`, or call :meth:`cancel_volume_edit`.
        """
        if self.label is None or self._refuse_while_busy() or self._refuse_locked():
            return None
        self._finish_stroke()
        assert self.segments.active is not None
        self._volume_layer = self.segments.active
        min_ml = self.min_island_ml if min_island_ml is None else min_island_ml
        self._volume_edit = PendingVolumeEdit(tool, self.label.copy(), volume_change(tool, self.spacing_mm, min_ml))
        self.volume_edit_changed.emit()
        return self._volume_edit

    def finish_volume_edit(self, pending: PendingVolumeEdit, edit: VolumeEdit) -> list[int] | None:
        """Write a volume tool's result as one undoable step; the slices changed.

        None, and nothing written, if ``pending`` is no longer the edit under way (a new label or
        another volume came meanwhile): its result belongs to a label that is gone.
        """
        layer = self._volume_layer
        if pending is not self._volume_edit or layer not in self.segments.masks:
            return None
        self._volume_edit = None
        self.volume_edit_changed.emit()
        slices = edit.changed
        if slices:
            label = self.segments.masks[layer]
            self.history.record(label, slices, pending.tool.value, layer)
            label[slices] = edit.label[slices]
            changed = self.history.commit(label)
            if changed:
                self._changed(changed, layer=layer)
                self._committed(pending.tool.value)
        return slices

    def cancel_volume_edit(self, pending: PendingVolumeEdit) -> None:
        """Forget ``pending`` (cancelled or failed): the label stays as it was and takes edits again."""
        if pending is self._volume_edit:
            self._drop_volume_edit()

    def _drop_volume_edit(self) -> None:
        if self._volume_edit is not None:
            self._volume_edit = None
            self.volume_edit_changed.emit()

    def _refuse_while_busy(self) -> bool:
        """True (and a notice saying why) while a volume tool is pending."""
        pending = self._volume_edit
        if pending is None:
            return False
        self.notice.emit(f"{pending.tool.value} is still running: the label takes other edits once it is done")
        return True

    def _refuse_locked(self) -> bool:
        """True (and a notice saying why) while the active segment is locked."""
        row = self.segments.active_row()
        if row is None or not row.locked:
            return False
        self.notice.emit(f"The segment “{row.name}” is locked: unlock it in the segment table to edit it")
        return True

    # ---------------------------------------------------------------- undo / redo

    def undo(self) -> list[int] | None:
        """Undo the newest step; the slices restored, or None if nothing was undone."""
        self._finish_stroke()
        if self.label is None or self._refuse_while_busy():
            return None
        layer = self.history.undo_layer
        if layer is None:
            return None
        return self._restored(self.history.undo(self._layer_mask(layer)), layer)

    def redo(self) -> list[int] | None:
        """Redo the newest undone step; the slices changed, or None if nothing was redone."""
        self._finish_stroke()
        if self.label is None or self._refuse_while_busy():
            return None
        layer = self.history.redo_layer
        if layer is None:
            return None
        return self._restored(self.history.redo(self._layer_mask(layer)), layer)

    def _layer_mask(self, layer: int) -> np.ndarray:
        """The mask undo or redo writes; a removed segment comes back to the table for it."""
        if self.segments.restore(layer):
            self._count_references()
            self.segments_changed.emit()
        return self.segments.masks[layer]

    def _restored(self, slices: list[int] | None, layer: int) -> list[int] | None:
        if slices is not None:
            self._changed(slices, layer=layer)
            self.history_changed.emit()
        return slices

    # ---------------------------------------------------------------- bookkeeping

    def _edit(self, description: str, slices: Sequence[int] | None, change: Callable[[np.ndarray], Any]) -> Any:
        """Run a core edit of the label as one undoable step; its result. The label is rolled back if it raises."""
        self._finish_stroke()
        label, layer = self.label, self.segments.active
        assert label is not None and layer is not None
        self.history.record(label, slices, description, layer)
        try:
            result = change(label)
        except BaseException:
            self.history.abort(label)
            raise
        changed = self.history.commit(label)
        if changed:
            self._changed(changed)
            self._committed(description)
        return result

    def _edit_section(self, description: str, axis: int, index: int, change: Callable[[np.ndarray], int]) -> int:
        """Run a one-plane edit on a copy of its section, then write it back as one undoable step that
        records only the axial slices it changed (a coronal fill crosses many); ``change``'s result."""
        self._finish_stroke()
        label = self.label
        assert label is not None
        plane = editing.section(label, axis, index)
        edited = plane.copy()
        result = change(edited)
        slices = editing.axial_slices(edited != plane, axis, index)
        if slices:
            self.history.record(label, [], description, self.segments.active or 0)
            self.history.include(label, slices, editing.axial_box(label.shape, axis, index))
            plane[...] = edited
            changed = self.history.commit(label)
            self._changed(changed)
            self._committed(description)
        return result

    def _changed(self, slices: list[int], revise: bool = True, layer: int | None = None) -> None:
        """Voxels of ``slices`` of segment ``layer`` (default: the active one) changed: recount them
        and say so.

        A stroke in progress revises nothing until it is committed (a save taken mid-stroke must
        not count as holding it).
        """
        if revise:
            self.revision += 1
        layer = self.segments.active if layer is None else layer
        assert layer is not None
        mask = self.segments.masks[layer]
        if layer == self.segments.active:
            for z in slices:
                self._slice_voxels[z] = np.count_nonzero(mask[z])
        for (_, value), counts in self._overlap.items():
            if value == layer:
                counts.update(mask, slices)
        self.label_edited.emit(slices)
        self.dice_changed.emit()

    def _committed(self, description: str) -> None:
        self.history_changed.emit()
        self.step_committed.emit(description)

    # ---------------------------------------------------------------- live Dice and volume

    def set_references(
        self, references: Mapping[str, np.ndarray | None], truths: Mapping[str, np.ndarray] | None = None
    ) -> None:
        """The masks live Dice compares the liver segment with, by name (e.g. ``"gt"``,
        ``"prediction"``); None or a mask of another shape is left out. ``truths``, when given,
        replaces the other segments' ground truth too (:meth:`set_segment_truths`), in one recount."""
        self._references = {key: mask for key, mask in references.items() if mask is not None}
        if truths is not None:
            self._truths = dict(truths)
        self._count_references()

    def set_segment_truths(self, truths: Mapping[str, np.ndarray]) -> None:
        """Ground truth of other segments by segment name (a tumour, a vessel tree): each segment of
        that name (else of that organ: "Tumour" and "livertumor") gets a live Dice against it, under the
        reference ``"gt"``."""
        self._truths = dict(truths)
        self._count_references()

    def _segment_references(self, row: SegmentRow) -> dict[str, np.ndarray]:
        primary = self.segments.primary()
        if primary is not None and row.value == primary.value:
            return self._references
        truth = self._truths.get(row.name)
        organ = organ_key(row.name)
        if truth is None and organ is not None:  # a file's "Tumour" against IRCAD's "livertumor"
            truth = next((mask for name, mask in self._truths.items() if organ_key(name) == organ), None)
        return {} if truth is None else {"gt": truth}

    def _count_references(self) -> None:
        """Recount every slice of every segment against its references (a new label or new references)."""
        label = self.label
        self._overlap = {}
        if label is not None:
            self._slice_voxels = np.count_nonzero(label.reshape(label.shape[0], -1), axis=1).astype(np.int64)
            for row in self.segments.rows:
                mask = self.segments.masks[row.value]
                for key, reference in self._segment_references(row).items():
                    if reference.shape == mask.shape:
                        self._overlap[key, row.value] = OverlapCounts(mask, reference)
        self.dice_changed.emit()

    def dice(self, reference: str, z: int, segment: str | None = None) -> LiveDice:
        """Live Dice of segment ``segment`` (default: the active one) against the reference named
        ``reference``: on slice ``z`` and over the volume (NaN where that segment has no such reference)."""
        row = self.segments.active_row() if segment is None else self.segments.find(segment)
        counts = None if row is None else self._overlap.get((reference, row.value))
        if counts is None:
            return LiveDice()
        return LiveDice(counts.slice_dice(z), counts.volume_dice())

    def volume_ml(self) -> float:
        """Volume of the label in mL (NaN without one)."""
        if self.label is None:
            return math.nan
        dz, dy, dx = self.spacing_mm
        return float(self._slice_voxels.sum()) * dz * dy * dx / 1000.0

    # ---------------------------------------------------------------- the segment table

    def set_active_segment(self, value: int) -> None:
        """Make segment ``value`` the one the tools edit (a stroke under way is committed first)."""
        if value == self.segments.active or self.label is None:
            return
        self.segments.row(value)  # KeyError for an unknown segment
        self._finish_stroke()
        self.segments.active = value
        label = self.segments.masks[value]
        self._slice_voxels = np.count_nonzero(label.reshape(label.shape[0], -1), axis=1).astype(np.int64)
        self.label_changed.emit()
        self.dice_changed.emit()
        self.segments_changed.emit()

    def step_segment(self, steps: int) -> None:
        """The next (``steps`` > 0) or previous segment of the table becomes active, wrapping round."""
        if self.segments.active is None or not self.segments.rows:
            return
        rows = self.segments.rows
        index = (self.segments.index(self.segments.active) + steps) % len(rows)
        self.set_active_segment(rows[index].value)

    def add_segment(self, name: str, mask: np.ndarray | None = None, color: RGB | None = None) -> SegmentRow | None:
        """A new segment (a unique name from ``name``), active; ``mask`` (e.g. a ground-truth organ)
        fills it as one undoable step. None without a CT."""
        if not self.ensure_label() or self.hu is None:
            return None
        self._finish_stroke()
        row = self.segments.add(name, self.hu.shape, color)
        self._table_edited()
        if mask is not None:
            self._edit(f"Fill {row.name}", None, lambda label: np.copyto(label, mask))
        self._count_references()
        self.label_changed.emit()
        return row

    def remove_segment(self, value: int) -> None:
        """Take a segment out of the table; its voxels are cleared as an undoable step, whose undo
        brings the segment back. The last segment cannot go (the label would be gone)."""
        if len(self.segments) < 2:
            self.notice.emit("The label keeps at least one segment")
            return
        self._finish_stroke()
        self.segments.row(value)
        mask = self.segments.masks[value]
        name = self.segments.row(value).name
        self.history.record(mask, None, f"Remove {name}", value)
        mask[...] = False
        changed = self.history.commit(mask)
        self.segments.remove(value)
        self._table_edited()
        if changed:
            self.revision += 1
            self._committed(f"Remove {name}")
        self._count_references()
        self.label_changed.emit()

    def rename_segment(self, value: int, name: str) -> None:
        """Rename a segment (ValueError for an empty or taken name)."""
        self.segments.rename(value, name)
        self._table_edited()
        self._count_references()  # the ground truth it is scored against goes by name

    def recolour_segment(self, value: int, color: RGB) -> None:
        self.segments.recolour(value, color)
        self._table_edited()

    def set_segment_visible(self, value: int, visible: bool) -> None:
        """Show or hide a segment in the views (display only: no edit, nothing to save)."""
        self.segments.set_visible(value, visible)
        self.segments_changed.emit()

    def set_segment_locked(self, value: int, locked: bool) -> None:
        """Lock a segment: no tool changes it until it is unlocked."""
        self.segments.set_locked(value, locked)
        self.segments_changed.emit()

    def _table_edited(self) -> None:
        """Names, colours or the set of segments changed: that is unsaved work too."""
        self._table_changed = True
        self.revision += 1
        self.segments_changed.emit()
        self.history_changed.emit()

    def label_map(self) -> LabelMap:
        """Every segment as one label map with its names, colours and values, for the writers."""
        return self.segments.label_map()
