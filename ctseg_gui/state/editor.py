"""The annotator's state as Qt signals: a thin QObject over the core's :class:`LabelSession`.

The label, its tools, undo history and live Dice live in ``ctseg_core.annotate.session`` (no Qt).
:class:`EditorState` ties that session to the :class:`~ctseg_gui.state.ViewerState`: a new patient
gives the session its CT, new masks become its references, and the crosshair says which slice of
a plane a stroke or a fill applies to: a view passes its plane (axial, coronal or sagittal) and the
point in that plane's own (unflipped) order, and every plane's edit lands in the one undo history.
Fill holes (a key, no pointer) works in the :attr:`~EditorState.active_plane`, the plane of the
view last focused. The slice Dice is the axial slice shown. Each session event is re-emitted as the
Qt signal of the same meaning, so widgets connect to signals as everywhere else in the GUI.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QObject, Signal

from ctseg_core.annotate.history import EditHistory
from ctseg_core.annotate.segment_set import SegmentRow, SegmentSet
from ctseg_core.annotate.session import LabelSession, LiveDice
from ctseg_core.annotate.tools import HuLimit, Tool
from ctseg_core.annotate.volume_tools import PendingVolumeEdit, VolumeEdit, VolumeTool
from ctseg_core.display.palette import RGB
from ctseg_core.display.planes import Plane
from ctseg_core.io.segments import LabelMap, Segment
from ctseg_gui.state.bindings import Bindings
from ctseg_gui.state.viewer import ViewerState


class EditorState(QObject):
    """The label being edited on the viewer's patient: the session's state, read through, and its events."""

    labelChanged = Signal()  # a label was started, loaded, restored or dropped
    labelEdited = Signal(object)  # list[int]: axial slices whose voxels changed (an edit in any plane)
    toolChanged = Signal(object)  # Tool
    brushChanged = Signal(float)  # radius, mm
    huLimitChanged = Signal(object)  # HuLimit
    historyChanged = Signal()  # undo/redo availability or text, modified flag
    diceChanged = Signal()
    stepCommitted = Signal(str)  # an undoable edit was stored (its description)
    notice = Signal(str)  # why a click changed nothing, for the status bar
    volumeEditChanged = Signal()  # a volume tool started, finished or was dropped
    segmentsChanged = Signal()  # the segment table changed: rows, names, colours, shown, locked, active

    def __init__(self, viewer: ViewerState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        #: The plane of the view last focused or edited in: fill holes applies to its slice.
        self.active_plane = Plane.AXIAL
        self.session = session = LabelSession()
        #: The mouse and key profile the views follow (a preference, kept here beside the tools).
        self.bindings = Bindings(self)
        session.label_changed.connect(self.labelChanged.emit)
        session.label_edited.connect(self.labelEdited.emit)
        session.tool_changed.connect(self.toolChanged.emit)
        session.brush_changed.connect(self.brushChanged.emit)
        session.hu_limit_changed.connect(self.huLimitChanged.emit)
        session.history_changed.connect(self.historyChanged.emit)
        session.dice_changed.connect(self.diceChanged.emit)
        session.step_committed.connect(self.stepCommitted.emit)
        session.notice.connect(self.notice.emit)
        session.volume_edit_changed.connect(self.volumeEditChanged.emit)
        session.segments_changed.connect(self.segmentsChanged.emit)
        viewer.patientChanged.connect(self._on_patient_changed)
        viewer.masksChanged.connect(self._on_masks_changed)
        viewer.sliceChanged.connect(self.diceChanged)  # the slice Dice is the slice shown

    def _on_patient_changed(self) -> None:
        patient = self.viewer.patient
        if patient is None:
            self.session.set_volume(None)
        else:
            self.session.set_volume(patient.hu, patient.spacing_mm)

    def _on_masks_changed(self) -> None:
        references = {"gt": self.viewer.gt, "prediction": self.viewer.prediction}
        self.session.set_references(references, self.ground_truth_segments())

    def ground_truth_segments(self) -> dict[str, np.ndarray]:
        """The patient's ground-truth masks read so far, by name: segments of those names get a live Dice."""
        patient = self.viewer.patient
        return {} if patient is None else dict(patient.masks)

    # ---------------------------------------------------------------- the session's state

    @property
    def label(self) -> np.ndarray | None:
        return self.session.label

    @property
    def name(self) -> str:
        return self.session.name

    @name.setter
    def name(self, name: str) -> None:
        self.session.name = name

    @property
    def history(self) -> EditHistory:
        return self.session.history

    @property
    def revision(self) -> int:
        return self.session.revision

    @property
    def tool(self) -> Tool:
        return self.session.tool

    @property
    def brush_radius_mm(self) -> float:
        return self.session.brush_radius_mm

    @property
    def hu_limit(self) -> HuLimit:
        return self.session.hu_limit

    @property
    def min_island_ml(self) -> float:
        return self.session.min_island_ml

    @property
    def has_label(self) -> bool:
        return self.session.has_label

    @property
    def is_modified(self) -> bool:
        return self.session.is_modified

    @property
    def unsaved_edits(self) -> int:
        return self.session.unsaved_edits

    @property
    def stroking(self) -> bool:
        return self.session.stroking

    @property
    def volume_edit(self) -> PendingVolumeEdit | None:
        return self.session.volume_edit

    @property
    def segments(self) -> SegmentSet:
        """The segment table (read it; change it through the methods below, which say so)."""
        return self.session.segments

    def label_map(self) -> LabelMap:
        return self.session.label_map()

    # ---------------------------------------------------------------- edits, on the slice shown

    def start_label(self, mask: np.ndarray | None, name: str, description: str, modified: bool = False) -> None:
        self.session.start_label(mask, name, description, modified)

    def mark_saved(self, revision: int) -> bool:
        return self.session.mark_saved(revision)

    def set_tool(self, tool: Tool) -> None:
        self.session.set_tool(tool)

    def set_brush_radius(self, radius_mm: float) -> None:
        self.session.set_brush_radius(radius_mm)

    def step_brush(self, steps: int) -> None:
        self.session.step_brush(steps)

    def set_hu_limit(self, *, enabled: bool | None = None, lo: int | None = None, hi: int | None = None) -> None:
        self.session.set_hu_limit(enabled=enabled, lo=lo, hi=hi)

    def set_min_island_ml(self, min_ml: float) -> None:
        self.session.set_min_island_ml(min_ml)

    def set_active_plane(self, plane: Plane) -> None:
        self.active_plane = plane

    def begin_stroke(self, point: tuple[int, int], plane: Plane = Plane.AXIAL, erase: bool = False) -> None:
        """Press with the brush or eraser at ``point`` of the slice of ``plane`` the crosshair is on:
        (y, x) axial, (z, x) coronal, (z, y) sagittal (``editing.section``'s order, not the screen's);
        ``erase``: an eraser stroke whatever the tool (a profile's erase button)."""
        self.active_plane = plane
        self.session.begin_stroke(self.viewer.plane_index(plane), point, axis=plane.axis, erase=erase)

    def extend_stroke(self, point: tuple[int, int]) -> None:
        """Move while painting, in the plane and slice the stroke began on."""
        self.session.extend_stroke(point)

    def end_stroke(self) -> None:
        self.session.end_stroke()

    def flood_fill(self, seed: tuple[int, int], plane: Plane = Plane.AXIAL) -> int:
        """Flood fill from ``seed`` (as for :meth:`begin_stroke`) in the slice of ``plane`` shown; voxels added."""
        self.active_plane = plane
        return self.session.flood_fill(self.viewer.plane_index(plane), seed, axis=plane.axis)

    def fill_holes(self, plane: Plane | None = None) -> int:
        """Fill the label's holes in the slice shown of ``plane`` (default: the active plane); voxels added."""
        plane = self.active_plane if plane is None else plane
        return self.session.fill_holes(self.viewer.plane_index(plane), axis=plane.axis)

    def active_slice_text(self) -> str:
        """The active plane's slice shown, for the status bar: "slice 7" (axial) or "coronal slice 201"."""
        plane = self.active_plane
        number = self.viewer.plane_index(plane) + 1
        return f"slice {number}" if plane is Plane.AXIAL else f"{plane.value} slice {number}"

    def begin_volume_edit(self, tool: VolumeTool, min_island_ml: float | None = None) -> PendingVolumeEdit | None:
        return self.session.begin_volume_edit(tool, min_island_ml)

    def finish_volume_edit(self, pending: PendingVolumeEdit, edit: VolumeEdit) -> list[int] | None:
        return self.session.finish_volume_edit(pending, edit)

    def cancel_volume_edit(self, pending: PendingVolumeEdit) -> None:
        self.session.cancel_volume_edit(pending)

    def start_segments(self, segments: Sequence[tuple[Segment, np.ndarray]], name: str, modified: bool = False) -> None:
        self.session.start_segments(segments, name, modified)

    def empty_active_segment(self) -> str | None:
        """Clear the active segment only (an empty label when there is one segment); its name, or None."""
        return self.session.empty_active_segment()

    def set_active_segment(self, value: int) -> None:
        self.session.set_active_segment(value)

    def step_segment(self, steps: int) -> None:
        self.session.step_segment(steps)

    def add_segment(self, name: str, mask: np.ndarray | None = None, color: RGB | None = None) -> SegmentRow | None:
        return self.session.add_segment(name, mask, color)

    def remove_segment(self, value: int) -> None:
        self.session.remove_segment(value)

    def rename_segment(self, value: int, name: str) -> None:
        self.session.rename_segment(value, name)

    def recolour_segment(self, value: int, color: RGB) -> None:
        self.session.recolour_segment(value, color)

    def set_segment_visible(self, value: int, visible: bool) -> None:
        self.session.set_segment_visible(value, visible)

    def set_segment_locked(self, value: int, locked: bool) -> None:
        self.session.set_segment_locked(value, locked)

    def undo(self) -> list[int] | None:
        return self.session.undo()

    def redo(self) -> list[int] | None:
        return self.session.redo()

    def dice(self, reference: str, segment: str | None = None) -> LiveDice:
        """Live Dice of ``segment`` (default: the active one) against ``"gt"`` or ``"prediction"``:
        the slice shown and the volume."""
        return self.session.dice(reference, self.viewer.slice_index, segment)

    def volume_ml(self) -> float:
        return self.session.volume_ml()
