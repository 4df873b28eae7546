"""The annotator's state: the label being edited, the tool, the brush, its undo history, live Dice.

One QObject beside :class:`~ctseg_gui.state.ViewerState` (which says what patient and slice are
shown); widgets and the slice view follow its signals. Every change to the label is a call into
``ctseg_core.annotate.editing`` wrapped in an :class:`~ctseg_core.annotate.history.EditHistory` step: a brush stroke
is recorded on press for its slice, painted on every mouse move and committed on release.

The volume tools (interpolation, islands, largest piece: up to ≈ 0.7 s on a big scan) run in three
parts so that the slow middle one can run on a worker: :meth:`EditorState.begin_volume_edit`
copies the label on the GUI thread, :func:`ctseg_gui.tasks.edit_volume` runs the core function
on that copy anywhere, and :meth:`EditorState.finish_volume_edit`, back on the GUI thread,
records an undo step for the slices that changed and writes them. While one is pending the label
takes no other edit (a stroke would be lost under the result); a new label or another patient
drops it, and its result is then ignored.

Live Dice: see :mod:`ctseg_core.annotate.live_dice` (per-slice counts, updated for the changed slices only).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from ctseg_core.annotate import editing
from ctseg_core.annotate.history import EditHistory
from ctseg_core.annotate.live_dice import OverlapCounts
from ctseg_core.progress import CancelCheck, ProgressCallback, never_cancel, no_progress

from .state import ViewerState
from .tasks import VolumeEdit, edit_volume

DEFAULT_LABEL_NAME = "liver"
DEFAULT_BRUSH_MM = 5.0
DEFAULT_MIN_ISLAND_ML = 1.0
#: Brush radii the ``[`` and ``]`` keys step through (mm).
BRUSH_STEPS_MM = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)
MIN_BRUSH_MM, MAX_BRUSH_MM = BRUSH_STEPS_MM[0], BRUSH_STEPS_MM[-1]


class Tool(enum.Enum):
    """What a left click on the image does; the value is the label shown to the user."""

    NAVIGATE = "Navigate"
    BRUSH = "Brush"
    ERASER = "Eraser"
    FLOOD = "Flood fill"

    @property
    def paints(self) -> bool:
        """Brush and eraser: left drag paints a stroke (and the view does not pan)."""
        return self in (Tool.BRUSH, Tool.ERASER)

    @property
    def edits(self) -> bool:
        return self is not Tool.NAVIGATE


class VolumeTool(enum.Enum):
    """A tool that may change any slice; the value names its undo step."""

    INTERPOLATE = "Interpolate"
    REMOVE_ISLANDS = "Remove small islands"
    KEEP_LARGEST = "Keep largest component"

    @property
    def stage(self) -> str:
        """What the status bar says while it runs."""
        return {VolumeTool.INTERPOLATE: "interpolating", VolumeTool.REMOVE_ISLANDS: "removing islands",
                VolumeTool.KEEP_LARGEST: "keeping the largest piece"}[self]


@dataclass(frozen=True, eq=False)
class PendingVolumeEdit:
    """A volume tool started on the label: a copy of the label then, and the core edit to run on it
    (settings such as the island size are bound at the start)."""

    tool: VolumeTool
    before: np.ndarray
    change: Callable[[np.ndarray], Any]

    def run(self, progress: ProgressCallback = no_progress, should_cancel: CancelCheck = never_cancel) -> VolumeEdit:
        """The slow part, on any thread: the core edit applied to a copy of ``before``."""
        return edit_volume(self.before, self.change, progress, should_cancel, self.tool.stage)


@dataclass(frozen=True)
class HuLimit:
    """Intensity masking (3D Slicer's "masking by intensity"): only voxels in [lo, hi] HU change.

    The brush obeys it when ``enabled``; flood fill always fills the connected region in [lo, hi].
    """

    enabled: bool = False
    lo: int = -100
    hi: int = 300

    @property
    def range(self) -> tuple[float, float]:
        return (float(min(self.lo, self.hi)), float(max(self.lo, self.hi)))


@dataclass(frozen=True)
class LiveDice:
    """Dice of the edited label against a reference, on the slice shown and over the volume (NaN: —)."""

    slice: float = math.nan
    volume: float = math.nan


@dataclass
class _Stroke:
    """A brush stroke in progress: its slice, the last mouse point (row, col) and paint or erase."""

    z: int
    last_yx: tuple[int, int]
    value: bool
    description: str


class EditorState(QObject):
    """The label being edited on the viewer's patient, the tools that change it, and its history."""

    labelChanged = Signal()  # a label was started, loaded, restored or dropped
    labelEdited = Signal(object)  # list[int]: slices whose voxels changed
    toolChanged = Signal(object)  # Tool
    brushChanged = Signal(float)  # radius, mm
    huLimitChanged = Signal(object)  # HuLimit
    historyChanged = Signal()  # undo/redo availability or text, modified flag
    diceChanged = Signal()
    stepCommitted = Signal(str)  # an undoable edit was stored (its description)
    notice = Signal(str)  # why a click changed nothing, for the status bar
    volumeEditChanged = Signal()  # a volume tool started, finished or was dropped

    def __init__(self, viewer: ViewerState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.label: np.ndarray | None = None
        self.name = DEFAULT_LABEL_NAME
        self.history = EditHistory()
        self.tool = Tool.NAVIGATE
        self.brush_radius_mm = DEFAULT_BRUSH_MM
        self.hu_limit = HuLimit()
        #: "Remove islands" deletes 3D pieces smaller than this (mL).
        self.min_island_ml = DEFAULT_MIN_ISLAND_ML
        #: Bumped by every change of the label's voxels (edit, undo, redo, new label): saves
        #: and autosaves compare it to know whether what they wrote is still what is shown.
        self.revision = 0
        self._stroke: _Stroke | None = None
        self._volume_edit: PendingVolumeEdit | None = None
        self._slice_voxels = np.zeros(0, np.int64)  # label voxels per slice, for the volume readout
        self._overlap: dict[str, OverlapCounts] = {}
        viewer.patientChanged.connect(self.drop_label)
        viewer.masksChanged.connect(self._count_references)
        viewer.sliceChanged.connect(self.diceChanged)

    # ---------------------------------------------------------------- label

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

    @property
    def volume_edit(self) -> PendingVolumeEdit | None:
        """The volume tool running on a worker, if any: until it lands, the label takes no other edit."""
        return self._volume_edit

    def _refuse_while_busy(self) -> bool:
        """True (and a notice saying why) while a volume tool is pending."""
        pending = self._volume_edit
        if pending is None:
            return False
        self.notice.emit(f"{pending.tool.value} is still running: the label takes other edits once it is done")
        return True

    def start_label(self, mask: np.ndarray | None, name: str, description: str, modified: bool = False) -> None:
        """Edit a copy of ``mask`` (None: an empty label) under ``name``.

        With no label yet, it starts a fresh history and counts as saved, unless ``modified``
        (an accepted prediction or a restored autosave exists nowhere else on disk). Replacing a
        label is itself an undoable step, so starting over never loses the previous label.
        """
        patient = self.viewer.patient
        if patient is None:
            return
        if mask is not None and mask.shape != patient.shape:
            raise ValueError(f"label shape {mask.shape} differs from the CT's {patient.shape}")
        self._finish_stroke()
        self._drop_volume_edit()
        replacing = self.label is not None
        if not replacing:
            self.label = np.zeros(patient.shape, bool)
            self._slice_voxels = np.zeros(patient.shape[0], np.int64)
            self.history.clear()
        self.name = name
        if replacing or modified:
            self._edit(description, None, lambda label: np.copyto(label, mask if mask is not None else False))
        elif mask is not None:
            np.copyto(self.label, mask)
        self.revision += 1
        self._count_references()
        self.labelChanged.emit()
        self.historyChanged.emit()

    def ensure_label(self) -> bool:
        """Start an empty label if there is none (painting needs one); False without a patient."""
        if self.label is None:
            self.start_label(None, self.name, "New empty label")
        return self.label is not None

    def drop_label(self) -> None:
        """Forget the label and its history (another patient was opened)."""
        self._stroke = None
        self._drop_volume_edit()
        self.label = None
        self.name = DEFAULT_LABEL_NAME
        self.history.clear()
        self._overlap = {}
        self.revision += 1
        self.labelChanged.emit()
        self.historyChanged.emit()
        self.diceChanged.emit()

    def mark_saved(self, revision: int) -> bool:
        """The label as it was at ``revision`` is on disk: unmodified, if nothing changed since."""
        if self.label is None or revision != self.revision:
            return False
        self.history.mark_saved()
        self.historyChanged.emit()
        return True

    # ---------------------------------------------------------------- tool settings

    def set_tool(self, tool: Tool) -> None:
        if tool != self.tool:
            self._finish_stroke()
            self.tool = tool
            self.toolChanged.emit(tool)

    def set_brush_radius(self, radius_mm: float) -> None:
        radius_mm = round(min(max(float(radius_mm), MIN_BRUSH_MM), MAX_BRUSH_MM), 1)
        if radius_mm != self.brush_radius_mm:
            self.brush_radius_mm = radius_mm
            self.brushChanged.emit(radius_mm)

    def step_brush(self, steps: int) -> None:
        """Next larger (``steps`` > 0) or smaller brush of :data:`BRUSH_STEPS_MM`."""
        radius = self.brush_radius_mm
        if steps > 0:
            radius = next((r for r in BRUSH_STEPS_MM if r > radius + 1e-6), MAX_BRUSH_MM)
        elif steps < 0:
            radius = next((r for r in reversed(BRUSH_STEPS_MM) if r < radius - 1e-6), MIN_BRUSH_MM)
        self.set_brush_radius(radius)

    def set_hu_limit(self, **changes: object) -> None:
        """Change the intensity masking, e.g. ``set_hu_limit(enabled=True, lo=0)``."""
        limit = replace(self.hu_limit, **changes)
        if limit != self.hu_limit:
            self.hu_limit = limit
            self.huLimitChanged.emit(limit)

    # ---------------------------------------------------------------- brush strokes

    @property
    def stroking(self) -> bool:
        return self._stroke is not None

    def begin_stroke(self, point_yx: tuple[int, int]) -> None:
        """Mouse press with the brush or eraser at (row, col) of the slice shown: paint a first dab."""
        if not self.tool.paints or self._refuse_while_busy() or not self.ensure_label():
            return
        self._finish_stroke()
        z, value = self.viewer.slice_index, self.tool is Tool.BRUSH
        description = "Brush stroke" if value else "Eraser stroke"
        self.history.record(self.label, [z], description)
        self._stroke = _Stroke(z, point_yx, value, description)
        self._paint([point_yx])

    def extend_stroke(self, point_yx: tuple[int, int]) -> None:
        """Mouse move while painting: the segment from the previous point, with no gaps."""
        if self._stroke is not None and point_yx != self._stroke.last_yx:
            self._paint([self._stroke.last_yx, point_yx])
            self._stroke.last_yx = point_yx

    def end_stroke(self) -> None:
        """Mouse release: the stroke becomes one undoable step (none if it changed nothing)."""
        self._finish_stroke()

    def _paint(self, points: Sequence[tuple[int, int]]) -> None:
        assert self._stroke is not None and self.label is not None
        hu, hu_range = self._hu_constraint()
        z = self._stroke.z
        editing.paint_stroke(
            self.label, z, points, self.brush_radius_mm, self._spacing_yx(), self._stroke.value, hu, hu_range)
        self._changed([z], revise=False)

    def _finish_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        assert self.label is not None
        if self.history.commit(self.label):
            self.revision += 1
            self._committed(stroke.description)

    def _hu_constraint(self) -> tuple[np.ndarray | None, tuple[float, float] | None]:
        if not self.hu_limit.enabled:
            return None, None
        assert self.viewer.patient is not None
        return self.viewer.patient.hu, self.hu_limit.range

    # ---------------------------------------------------------------- click and one-shot tools

    def flood_fill(self, seed_yx: tuple[int, int]) -> int:
        """Fill the 4-connected region in the HU range holding the seed, on the slice shown; voxels added."""
        if self._refuse_while_busy() or not self.ensure_label():
            return 0
        patient = self.viewer.patient
        assert patient is not None
        z = self.viewer.slice_index
        lo, hi = self.hu_limit.range
        added = self._edit(
            "Flood fill", [z], lambda label: editing.flood_fill_2d(label, z, seed_yx, patient.hu, (lo, hi)))
        if not added:
            self.notice.emit(self._why_no_fill(z, seed_yx, (lo, hi)))
        return added

    def _why_no_fill(self, z: int, seed_yx: tuple[int, int], hu_range: tuple[float, float]) -> str:
        assert self.viewer.patient is not None
        hu = self.viewer.patient.hu
        (row, column), (lo, hi) = seed_yx, hu_range
        if not (0 <= row < hu.shape[1] and 0 <= column < hu.shape[2]):
            return "Flood fill: click inside the image"
        seed_hu = int(hu[z, row, column])
        if not lo <= seed_hu <= hi:
            return f"Flood fill changed nothing: the seed is {seed_hu} HU, outside {lo:g} … {hi:g} HU"
        return "Flood fill changed nothing: that region is already in the label"

    def fill_holes(self) -> int:
        """Fill the holes of the label on the slice shown (vessels inside the liver); voxels added."""
        if self.label is None or self._refuse_while_busy():
            return 0
        z = self.viewer.slice_index
        return self._edit("Fill holes", [z], lambda label: editing.fill_holes_2d(label, z))

    # ---------------------------------------------------------------- volume tools

    def _volume_change(self, tool: VolumeTool, min_island_ml: float) -> Callable[[np.ndarray], Any]:
        """The core edit ``tool`` runs, with the patient's spacing and the island size bound."""
        if tool is VolumeTool.INTERPOLATE:
            spacing = self._spacing_yx()
            return lambda label: editing.interpolate_all(label, spacing)
        if tool is VolumeTool.REMOVE_ISLANDS:
            dz, dy, dx = self._patient_spacing()
            min_voxels = max(1, math.ceil(min_island_ml * 1000.0 / (dz * dy * dx)))
            return lambda label: editing.remove_small_islands(label, min_voxels)
        return editing.keep_largest_component

    def begin_volume_edit(self, tool: VolumeTool, min_island_ml: float | None = None) -> PendingVolumeEdit | None:
        """Start ``tool`` on a copy of the label (GUI thread); None without a label or while another runs.

        Remove islands deletes pieces under ``min_island_ml`` (default: :attr:`min_island_ml`).

        Run the returned edit's :meth:`~PendingVolumeEdit.run` (on a worker), then hand its result
        to :meth:`finish_volume_edit`, or call :meth:`cancel_volume_edit`.
        """
        if self.label is None or self._refuse_while_busy():
            return None
        self._finish_stroke()
        min_ml = self.min_island_ml if min_island_ml is None else min_island_ml
        self._volume_edit = PendingVolumeEdit(tool, self.label.copy(), self._volume_change(tool, min_ml))
        self.volumeEditChanged.emit()
        return self._volume_edit

    def finish_volume_edit(self, pending: PendingVolumeEdit, edit: VolumeEdit) -> list[int] | None:
        """Write a volume tool's result as one undoable step (GUI thread); the slices changed.

        None, and nothing written, if ``pending`` is no longer the edit under way (a new label or
        another patient came meanwhile): its result belongs to a label that is gone.
        """
        if pending is not self._volume_edit or self.label is None:
            return None
        self._volume_edit = None
        self.volumeEditChanged.emit()
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
            self.volumeEditChanged.emit()

    def run_volume_edit(self, tool: VolumeTool, min_island_ml: float | None = None) -> Any:
        """Begin, run and finish ``tool`` here and now (scripts, benchmarks); the core function's result."""
        pending = self.begin_volume_edit(tool, min_island_ml)
        if pending is None:
            return []
        try:
            edit = pending.run()
        except BaseException:
            self.cancel_volume_edit(pending)
            raise
        self.finish_volume_edit(pending, edit)
        return edit.result

    def interpolate(self) -> list[int]:
        """Shape-based interpolation of every gap between annotated slices, on this thread; slices filled."""
        return self.run_volume_edit(VolumeTool.INTERPOLATE)

    def remove_small_islands(self, min_ml: float) -> list[int]:
        """Delete 3D pieces smaller than ``min_ml`` millilitres, on this thread; slices changed."""
        return self.run_volume_edit(VolumeTool.REMOVE_ISLANDS, min_ml)

    def keep_largest_component(self) -> list[int]:
        """Keep the largest 3D piece, on this thread; slices changed."""
        return self.run_volume_edit(VolumeTool.KEEP_LARGEST)

    def _edit(self, description: str, slices: Sequence[int] | None, change: Callable[[np.ndarray], object]) -> Any:
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

    # ---------------------------------------------------------------- undo / redo

    def undo(self) -> list[int] | None:
        self._finish_stroke()
        if self.label is None or self._refuse_while_busy():
            return None
        return self._restored(self.history.undo(self.label))

    def redo(self) -> list[int] | None:
        self._finish_stroke()
        if self.label is None or self._refuse_while_busy():
            return None
        return self._restored(self.history.redo(self.label))

    def _restored(self, slices: list[int] | None) -> list[int] | None:
        if slices is not None:
            self._changed(slices)
            self.historyChanged.emit()
        return slices

    # ---------------------------------------------------------------- bookkeeping and Dice

    def _changed(self, slices: list[int], revise: bool = True) -> None:
        """Voxels of ``slices`` changed: recount them, redraw, update Dice.

        A stroke in progress revises nothing until it is committed (a save taken mid-stroke
        must not count as holding it).
        """
        if revise:
            self.revision += 1
        assert self.label is not None
        for z in slices:
            self._slice_voxels[z] = np.count_nonzero(self.label[z])
        for counts in self._overlap.values():
            counts.update(self.label, slices)
        self.labelEdited.emit(slices)
        self.diceChanged.emit()

    def _committed(self, description: str) -> None:
        self.historyChanged.emit()
        self.stepCommitted.emit(description)

    def _count_references(self) -> None:
        """Recount every slice against the ground truth and the prediction (new label or new masks)."""
        viewer, label = self.viewer, self.label
        self._overlap = {}
        if label is not None:
            self._slice_voxels = np.count_nonzero(label.reshape(label.shape[0], -1), axis=1).astype(np.int64)
            for key, reference in (("gt", viewer.gt), ("prediction", viewer.prediction)):
                if reference is not None and reference.shape == label.shape:
                    self._overlap[key] = OverlapCounts(label, reference)
        self.diceChanged.emit()

    def dice(self, reference: str) -> LiveDice:
        """Live Dice against ``"gt"`` or ``"prediction"``: the slice shown and the volume."""
        counts = self._overlap.get(reference)
        if counts is None or self.label is None:
            return LiveDice()
        return LiveDice(counts.slice_dice(self.label, self.viewer.slice_index), counts.volume_dice())

    def volume_ml(self) -> float:
        if self.label is None:
            return math.nan
        dz, dy, dx = self._patient_spacing()
        return float(self._slice_voxels.sum()) * dz * dy * dx / 1000.0

    def _patient_spacing(self) -> tuple[float, float, float]:
        assert self.viewer.patient is not None
        return self.viewer.patient.spacing_mm

    def _spacing_yx(self) -> tuple[float, float]:
        _, dy, dx = self._patient_spacing()
        return (dy, dx)
