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
from ctseg_core.annotate.tools import DEFAULT_BRUSH_MM, DEFAULT_MIN_ISLAND_ML, HuLimit, Tool, clamp_brush, next_brush
from ctseg_core.annotate.volume_tools import PendingVolumeEdit, VolumeEdit, VolumeTool, volume_change

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


class LabelSession:
    """One label on one CT volume, the tool settings that edit it, its undo history and live Dice."""

    def __init__(self) -> None:
        self.hu: np.ndarray | None = None
        self.spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
        self.label: np.ndarray | None = None
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
        self._slice_voxels = np.zeros(0, np.int64)  # label voxels per slice, for the volume
        self._references: dict[str, np.ndarray] = {}
        self._overlap: dict[str, OverlapCounts] = {}
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

    # ---------------------------------------------------------------- volume and label

    def set_volume(self, hu: np.ndarray | None, spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        """Edit on another CT (HU ``[z, y, x]``, voxel spacing (dz, dy, dx) mm); the label, its history
        and the references of the previous one are dropped."""
        dz, dy, dx = spacing_mm
        self.hu = hu
        self.spacing_mm = (float(dz), float(dy), float(dx))
        self._references = {}
        self.drop_label()

    @property
    def has_label(self) -> bool:
        return self.label is not None

    @property
    def is_modified(self) -> bool:
        """The label holds edits that are neither saved nor were loaded as they are."""
        return self.label is not None and self.history.is_modified

    @property
    def unsaved_edits(self) -> int:
        return self.history.changes_since_save if self.label is not None else 0

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
            self.label = np.zeros(self.hu.shape, bool)
            self._slice_voxels = np.zeros(self.hu.shape[0], np.int64)
            self.history.clear()
        self.name = name
        if replacing or modified:
            self._edit(description, None, lambda label: np.copyto(label, mask if mask is not None else False))
        elif mask is not None:
            np.copyto(self.label, mask)
        self.revision += 1
        self._count_references()
        self.label_changed.emit()
        self.history_changed.emit()

    def ensure_label(self) -> bool:
        """Start an empty label if there is none (painting needs one); False without a volume."""
        if self.label is None:
            self.start_label(None, self.name, "New empty label")
        return self.label is not None

    def drop_label(self) -> None:
        """Forget the label and its history."""
        self._stroke = None
        self._drop_volume_edit()
        self.label = None
        self.name = DEFAULT_LABEL_NAME
        self.history.clear()
        self._overlap = {}
        self.revision += 1
        self.label_changed.emit()
        self.history_changed.emit()
        self.dice_changed.emit()

    def mark_saved(self, revision: int) -> bool:
        """The label as it was at ``revision`` is on disk: unmodified, if nothing changed since."""
        if self.label is None or revision != self.revision:
            return False
        self.history.mark_saved()
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

    def begin_stroke(self, index: int, point: tuple[int, int], axis: int = 0) -> None:
        """Press with the brush or eraser at (row, col) of slice ``index`` along ``axis``: a first dab.

        Axis 0 is axial (``index`` z, ``point`` (y, x)), 1 coronal (y; (z, x)), 2 sagittal (x; (z, y)).
        """
        if not self.tool.paints or self._refuse_while_busy() or not self.ensure_label():
            return
        self._finish_stroke()
        assert self.label is not None
        editing.section(self.label, axis, index)  # a plane or slice outside the volume fails here, on press
        value = self.tool is Tool.BRUSH
        description = "Brush stroke" if value else "Eraser stroke"
        self.history.record(self.label, [], description)  # each axial slice joins before the brush reaches it
        self._stroke = _Stroke(axis, index, point, value, description)
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
        stroke, label = self._stroke, self.label
        assert stroke is not None and label is not None
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
        self._changed(slices, revise=False)

    def _finish_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        assert self.label is not None
        if self.history.commit(self.label):
            self.revision += 1
            self._committed(stroke.description)

    # ---------------------------------------------------------------- one-shot tools

    def flood_fill(self, index: int, seed: tuple[int, int], axis: int = 0) -> int:
        """Fill the 4-connected region in the HU range holding the seed (row, col), in the 2-D slice
        ``index`` along ``axis`` (0 axial, 1 coronal, 2 sagittal, as for strokes); voxels added."""
        if self._refuse_while_busy() or not self.ensure_label():
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
        if self.label is None or self._refuse_while_busy():
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
        if self.label is None or self._refuse_while_busy():
            return None
        self._finish_stroke()
        min_ml = self.min_island_ml if min_island_ml is None else min_island_ml
        self._volume_edit = PendingVolumeEdit(tool, self.label.copy(), volume_change(tool, self.spacing_mm, min_ml))
        self.volume_edit_changed.emit()
        return self._volume_edit

    def finish_volume_edit(self, pending: PendingVolumeEdit, edit: VolumeEdit) -> list[int] | None:
        """Write a volume tool's result as one undoable step; the slices changed.

        None, and nothing written, if ``pending`` is no longer the edit under way (a new label or
        another volume came meanwhile): its result belongs to a label that is gone.
        """
        if pending is not self._volume_edit or self.label is None:
            return None
        self._volume_edit = None
        self.volume_edit_changed.emit()
        slices = edit.changed
        if slices:
            label = self.label
            self.history.record(label, slices, pending.tool.value)
            label[slices] = edit.label[slices]
            changed = self.history.commit(label)
            if changed:
                self._changed(changed)
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

    # ---------------------------------------------------------------- undo / redo

    def undo(self) -> list[int] | None:
        """Undo the newest step; the slices restored, or None if nothing was undone."""
        self._finish_stroke()
        if self.label is None or self._refuse_while_busy():
            return None
        return self._restored(self.history.undo(self.label))

    def redo(self) -> list[int] | None:
        """Redo the newest undone step; the slices changed, or None if nothing was redone."""
        self._finish_stroke()
        if self.label is None or self._refuse_while_busy():
            return None
        return self._restored(self.history.redo(self.label))

    def _restored(self, slices: list[int] | None) -> list[int] | None:
        if slices is not None:
            self._changed(slices)
            self.history_changed.emit()
        return slices

    # ---------------------------------------------------------------- bookkeeping

    def _edit(self, description: str, slices: Sequence[int] | None, change: Callable[[np.ndarray], Any]) -> Any:
        """Run a core edit of the label as one undoable step; its result. The label is rolled back if it raises."""
        self._finish_stroke()
        assert self.label is not None
        self.history.record(self.label, slices, description)
        try:
            result = change(self.label)
        except BaseException:
            self.history.abort(self.label)
            raise
        changed = self.history.commit(self.label)
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
            self.history.record(label, [], description)
            self.history.include(label, slices, editing.axial_box(label.shape, axis, index))
            plane[...] = edited
            changed = self.history.commit(label)
            self._changed(changed)
            self._committed(description)
        return result

    def _changed(self, slices: list[int], revise: bool = True) -> None:
        """Voxels of ``slices`` changed: recount them and say so.

        A stroke in progress revises nothing until it is committed (a save taken mid-stroke must
        not count as holding it).
        """
        if revise:
            self.revision += 1
        assert self.label is not None
        for z in slices:
            self._slice_voxels[z] = np.count_nonzero(self.label[z])
        for counts in self._overlap.values():
            counts.update(self.label, slices)
        self.label_edited.emit(slices)
        self.dice_changed.emit()

    def _committed(self, description: str) -> None:
        self.history_changed.emit()
        self.step_committed.emit(description)

    # ---------------------------------------------------------------- live Dice and volume

    def set_references(self, references: Mapping[str, np.ndarray | None]) -> None:
        """The masks live Dice compares the label with, by name (e.g. ``"gt"``, ``"prediction"``);
        None or a mask of another shape is left out."""
        self._references = {key: mask for key, mask in references.items() if mask is not None}
        self._count_references()

    def _count_references(self) -> None:
        """Recount every slice against every reference (a new label or new references)."""
        label = self.label
        self._overlap = {}
        if label is not None:
            self._slice_voxels = np.count_nonzero(label.reshape(label.shape[0], -1), axis=1).astype(np.int64)
            for key, reference in self._references.items():
                if reference.shape == label.shape:
                    self._overlap[key] = OverlapCounts(label, reference)
        self.dice_changed.emit()

    def dice(self, reference: str, z: int) -> LiveDice:
        """Live Dice against the reference named ``reference``: on slice ``z`` and over the volume."""
        counts = self._overlap.get(reference)
        if counts is None or self.label is None:
            return LiveDice()
        return LiveDice(counts.slice_dice(z), counts.volume_dice())

    def volume_ml(self) -> float:
        """Volume of the label in mL (NaN without one)."""
        if self.label is None:
            return math.nan
        dz, dy, dx = self.spacing_mm
        return float(self._slice_voxels.sum()) * dz * dy * dx / 1000.0
