"""The segments of the label being edited: named, coloured, shown or hidden, locked or not, each a mask.

The annotator edits a label map of named segments (liver, tumours, vessels …), as Slicer's Segment
Editor does. Each segment keeps its own bool ``[z, y, x]`` mask, so every editing tool, the undo
history and live Dice work on one bool volume at a time, unchanged; segments may overlap (Slicer's
"allow overlap"), and :meth:`SegmentSet.label_map` flattens them into one
:class:`~ctseg_core.io.segments.LabelMap` for the writers, where the smaller segment wins a shared
voxel (a tumour stays visible inside its liver) and a note says so.

A removed segment's mask is kept aside (:meth:`SegmentSet.restore`), so undoing an edit of it brings
it back. No Qt here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ctseg_core.display.palette import RGB
from ctseg_core.io.segments import LabelMap, Segment, default_segment, organ_key

#: The segment the model predicts and "start from" fills: the liver.
PRIMARY_SEGMENT = "liver"


@dataclass(frozen=True)
class SegmentRow:
    """One row of the segment table: the segment (value, name, colour) and how the editor treats it."""

    segment: Segment
    visible: bool = True
    locked: bool = False

    @property
    def value(self) -> int:
        return self.segment.value

    @property
    def name(self) -> str:
        return self.segment.name

    @property
    def color(self) -> RGB:
        return self.segment.color


class SegmentSet:
    """The segments in table order, their masks by value, and which one the tools edit (``active``)."""

    def __init__(self) -> None:
        self.rows: list[SegmentRow] = []
        self.masks: dict[int, np.ndarray] = {}
        self.active: int | None = None
        self._removed: dict[int, SegmentRow] = {}

    def clear(self) -> None:
        self.rows, self.masks, self.active, self._removed = [], {}, None, {}

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def names(self) -> list[str]:
        return [row.name for row in self.rows]

    def row(self, value: int) -> SegmentRow:
        """The row of segment ``value`` (KeyError if none)."""
        for row in self.rows:
            if row.value == value:
                return row
        raise KeyError(f"no segment with value {value}")

    def find(self, name: str) -> SegmentRow | None:
        """The row named ``name``, or None."""
        return next((row for row in self.rows if row.name == name), None)

    def primary(self) -> SegmentRow | None:
        """The liver segment, which the prediction and "start from" fill: the one named
        :data:`PRIMARY_SEGMENT`, else the first whose name means liver (a file's "Liver"); None if none."""
        exact = self.find(PRIMARY_SEGMENT)
        return exact or next((row for row in self.rows if organ_key(row.name) == PRIMARY_SEGMENT), None)

    def index(self, value: int) -> int:
        return [row.value for row in self.rows].index(value)

    def active_row(self) -> SegmentRow | None:
        return None if self.active is None else self.row(self.active)

    def unique_name(self, base: str) -> str:
        """``base``, or ``base 2``, ``base 3`` … when taken."""
        taken, name, n = set(self.names), base, 1
        while name in taken:
            n += 1
            name = f"{base} {n}"
        return name

    def add(self, name: str, shape: tuple[int, ...], color: RGB | None = None) -> SegmentRow:
        """A new empty segment named ``name`` (made unique) with the next free value; it becomes active."""
        used = [row.value for row in self.rows] + list(self._removed)
        value = max(used, default=0) + 1
        row = SegmentRow(default_segment(self.unique_name(name.strip() or "segment"), value, color))
        self.rows.append(row)
        self.masks[value] = np.zeros(shape, bool)
        self.active = value
        return row

    def remove(self, value: int) -> None:
        """Take the segment out of the table; its mask is kept aside for undo (:meth:`restore`)."""
        row = self.row(value)
        self.rows.remove(row)
        self._removed[value] = row
        if self.active == value:
            self.active = self.rows[0].value if self.rows else None

    def restore(self, value: int) -> bool:
        """Put a removed segment back at the end of the table (undo reached it); False if not removed."""
        row = self._removed.pop(value, None)
        if row is None:
            return False
        if self.find(row.name) is not None:
            row = replace(row, segment=replace(row.segment, name=self.unique_name(row.name)))
        self.rows.append(row)
        return True

    def _replace(self, value: int, row: SegmentRow) -> None:
        self.rows[self.index(value)] = row

    def rename(self, value: int, name: str) -> None:
        """Rename a segment; ValueError for an empty name or one another segment has."""
        name = name.strip()
        if not name:
            raise ValueError("a segment needs a name")
        other = self.find(name)
        if other is not None and other.value != value:
            raise ValueError(f"another segment is already called “{name}”")
        row = self.row(value)
        self._replace(value, replace(row, segment=replace(row.segment, name=name)))

    def recolour(self, value: int, color: RGB) -> None:
        row = self.row(value)
        rgb = (int(color[0]), int(color[1]), int(color[2]))
        self._replace(value, replace(row, segment=replace(row.segment, color=rgb)))

    def set_visible(self, value: int, visible: bool) -> None:
        self._replace(value, replace(self.row(value), visible=bool(visible)))

    def set_locked(self, value: int, locked: bool) -> None:
        self._replace(value, replace(self.row(value), locked=bool(locked)))

    def label_map(self) -> LabelMap:
        """Every segment as one label map with names, colours and values (smaller wins where they overlap)."""
        if not self.rows:
            raise ValueError("no segments: nothing to write")
        masks = {row.name: self.masks[row.value] for row in self.rows}
        return LabelMap.from_masks(masks, [row.segment for row in self.rows])

    def pairs(self) -> list[tuple[Segment, np.ndarray]]:
        """Each segment with its mask, in table order (what an autosave keeps)."""
        return [(row.segment, self.masks[row.value]) for row in self.rows]

    def load(self, segments: Sequence[tuple[Segment, np.ndarray]]) -> None:
        """Replace every segment by copies of ``segments`` (all shown, none locked); the first is active."""
        self.clear()
        for segment, mask in segments:
            self.rows.append(SegmentRow(segment))
            self.masks[segment.value] = np.array(mask, dtype=bool)
        self.active = self.rows[0].value if self.rows else None


def label_map_segments(label_map: LabelMap) -> list[tuple[Segment, np.ndarray]]:
    """A label map's segments with their masks (:meth:`SegmentSet.load` takes them)."""
    return [(segment, np.asarray(label_map.labels == segment.value)) for segment in label_map.segments]
