"""Undo and redo of mask edits, with memory bounded by what each edit changed.

A step keeps, for each slice it changed, the before and after states of the smallest box holding the
change, bit-packed and zlib-compressed: a brush stroke costs a few hundred bytes, a whole-slice edit a
few kB, and never a copy of the volume. Undo and redo write those exact states back.

Use: ``record(label, slices, description)`` before an edit (``slices=None`` when the edit may touch any
slice: a packed snapshot of the volume is kept until commit), ``commit(label)`` after it; a step that
changed nothing is dropped. An edit whose reach grows as it goes (a brush stroke in a coronal or
sagittal view crosses more axial slices with every mouse move) calls ``include(label, slices)``
before it changes further slices, so only the slices it reaches are ever snapshotted; with a
``box`` (the row or column of each axial slice a coronal or sagittal section crosses) only that part
of each slice is kept and compared, so a stroke across a hundred slices commits in milliseconds.
``with history.step(label, "paint", [z]): ...`` records and commits, and rolls the edit back if it
raises.
"""

from __future__ import annotations

import contextlib
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

#: Bookkeeping bytes per stored slice change, counted in ``nbytes`` beside the compressed data.
_CHANGE_OVERHEAD = 64
_NO_FORK = 2**62


def _compress(crop: np.ndarray) -> bytes:
    return zlib.compress(np.packbits(crop).tobytes(), 1)


def _decompress(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(zlib.decompress(data), dtype=np.uint8), count=shape[0] * shape[1])
    return bits.reshape(shape).view(bool)


@dataclass(frozen=True)
class SliceChange:
    """The before and after states of the changed box ``[y0:y1, x0:x1]`` of slice ``z``."""

    z: int
    box: tuple[int, int, int, int]
    before: bytes
    after: bytes

    @property
    def nbytes(self) -> int:
        return len(self.before) + len(self.after) + _CHANGE_OVERHEAD

    def write(self, label: np.ndarray, after: bool) -> None:
        y0, y1, x0, x1 = self.box
        label[self.z, y0:y1, x0:x1] = _decompress(self.after if after else self.before, (y1 - y0, x1 - x0))


def _slice_change(z: int, before: np.ndarray, after: np.ndarray, origin: tuple[int, int] = (0, 0)) -> SliceChange:
    """The change of slice ``z`` between two states of a region of it whose top left is ``origin``."""
    diff = before ^ after
    rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    oy, ox = origin
    return SliceChange(
        z, (y0 + oy, y1 + oy, x0 + ox, x1 + ox), _compress(before[y0:y1, x0:x1]), _compress(after[y0:y1, x0:x1])
    )


@dataclass(frozen=True)
class EditStep:
    """One undoable edit: what the user did and the slices it changed."""

    description: str
    changes: tuple[SliceChange, ...]
    #: which label volume the step applies to (the segment's value; 0 for a lone label)
    layer: int = 0

    @property
    def slices(self) -> list[int]:
        return sorted(change.z for change in self.changes)

    @property
    def nbytes(self) -> int:
        return sum(change.nbytes for change in self.changes)

    def apply(self, label: np.ndarray, after: bool) -> list[int]:
        for change in self.changes:
            change.write(label, after)
        return self.slices


Box = tuple[int, int, int, int]  # (y0, y1, x0, x1) of an axial slice


@dataclass
class _Pending:
    description: str
    layer: int
    shape: tuple[int, ...]
    slices: list[np.ndarray]  # chunks of slice indices snapshotted whole, in the order recorded
    before: list[np.ndarray]  # per chunk: uint8 [len(chunk), packed bytes per slice]
    crops: dict[int, tuple[Box, np.ndarray]]  # slice → (box, its before-state): the edit changes only that box
    recorded: set[int]  # every index in ``slices`` and ``crops``

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """(slice indices, their packed before-states), one row per slice."""
        if len(self.slices) == 1:
            return self.slices[0], self.before[0]
        return np.concatenate(self.slices), np.concatenate(self.before)


def _pack(label: np.ndarray, slices: np.ndarray) -> np.ndarray:
    return np.packbits(label[slices].reshape(len(slices), label.shape[1] * label.shape[2]), axis=1)


class EditHistory:
    """Bounded undo/redo of edits on one bool label volume ``[z, y, x]``.

    Keeps at most ``max_steps`` steps and, beyond the newest step, at most ``max_bytes`` of stored
    changes; the oldest steps go first. Tracks how far the label is from its last save, for the
    window's "modified" marker.
    """

    def __init__(self, max_steps: int = 200, max_bytes: int = 256 * 2**20) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be ≥ 1, got {max_steps}")
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._undo: deque[EditStep] = deque()
        self._redo: list[EditStep] = []
        self._pending: _Pending | None = None
        self._nbytes = 0
        self._depth = 0  # edits applied since the history began (dropped steps included)
        self._saved_depth = 0
        self._fork = _NO_FORK  # depth where the saved state's branch left the current line

    # ------------------------------------------------------------------ recording

    def record(self, label: np.ndarray, slices: Sequence[int] | None, description: str, layer: int = 0) -> None:
        """Snapshot ``slices`` (all slices when None) before an edit named ``description`` of the
        label volume ``layer`` (a segment's value: one history serves several segments, and
        :attr:`undo_layer` says which volume the next undo writes)."""
        if self._pending is not None:
            raise RuntimeError(f"edit {self._pending.description!r} is still open: commit or abort it first")
        if label.ndim != 3 or label.dtype != bool:
            raise ValueError(f"label must be a bool [z, y, x] volume, got {label.dtype} {label.shape}")
        indices = np.arange(label.shape[0]) if slices is None else np.unique(np.asarray(slices, dtype=np.int64))
        self._pending = _Pending(
            description, layer, label.shape, [indices], [_pack(label, indices)], {}, {int(z) for z in indices}
        )

    def include(self, label: np.ndarray, slices: Sequence[int], box: Box | None = None) -> None:
        """Snapshot ``slices`` too, before the open edit changes them; slices already recorded are kept
        as first recorded (their state before the edit began).

        With ``box`` = (y0, y1, x0, x1) only ``label[z, y0:y1, x0:x1]`` is kept for each of them: the
        edit promises to change nothing else there (a coronal section crosses an axial slice in one
        row, a sagittal one in one column).
        """
        pending = self._pending
        if pending is None:
            raise RuntimeError("no open edit: call record() first")
        if label.shape != pending.shape:
            raise ValueError(f"label shape {label.shape} differs from the recorded {pending.shape}")
        new = sorted({int(z) for z in slices} - pending.recorded)
        if not new:
            return
        if new[0] < 0 or new[-1] >= label.shape[0]:
            raise IndexError(f"slices {new} reach outside the label's {label.shape[0]} slices")
        if box is None:
            indices = np.asarray(new, dtype=np.int64)
            pending.slices.append(indices)
            pending.before.append(_pack(label, indices))
        else:
            y0, y1, x0, x1 = box
            if not (0 <= y0 < y1 <= label.shape[1] and 0 <= x0 < x1 <= label.shape[2]):
                raise ValueError(f"box {box} is not inside the label's {label.shape[1:]} slices")
            for z in new:
                pending.crops[z] = (box, label[z, y0:y1, x0:x1].copy())
        pending.recorded.update(new)

    def commit(self, label: np.ndarray) -> list[int]:
        """Store the open edit as a step; the slices it changed (empty, and no step, if none changed)."""
        pending = self._take_pending(label)
        indices, packed = pending.snapshot()
        changes: dict[int, SliceChange] = {}
        for i in np.flatnonzero(np.any(_pack(label, indices) != packed, axis=1)):
            z = int(indices[i])
            changes[z] = _slice_change(z, self._unpack(packed[i], label.shape[1:]), label[z])
        for z, ((y0, y1, x0, x1), before) in pending.crops.items():
            after = label[z, y0:y1, x0:x1]
            if not np.array_equal(before, after):
                changes[z] = _slice_change(z, before, after, (y0, x0))
        if not changes:
            return []
        slices = sorted(changes)  # steps list their slices in order
        self._push(EditStep(pending.description, tuple(changes[z] for z in slices), pending.layer))
        return slices

    def abort(self, label: np.ndarray) -> None:
        """Put the snapshotted slices back as they were before the open edit, and forget it."""
        pending = self._take_pending(label)
        indices, packed = pending.snapshot()
        for row, z in zip(packed, indices, strict=True):
            label[z] = self._unpack(row, label.shape[1:])
        for z, ((y0, y1, x0, x1), before) in pending.crops.items():
            label[z, y0:y1, x0:x1] = before

    @contextlib.contextmanager
    def step(self, label: np.ndarray, description: str, slices: Sequence[int] | None = None) -> Iterator[None]:
        """Record, run the block, commit; if the block raises, the label is restored and nothing is stored."""
        self.record(label, slices, description)
        try:
            yield
        except BaseException:
            self.abort(label)
            raise
        self.commit(label)

    def _take_pending(self, label: np.ndarray) -> _Pending:
        pending = self._pending
        if pending is None:
            raise RuntimeError("no open edit: call record() first")
        if label.shape != pending.shape:
            raise ValueError(f"label shape {label.shape} differs from the recorded {pending.shape}")
        self._pending = None
        return pending

    @staticmethod
    def _unpack(row: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.unpackbits(row, count=shape[0] * shape[1]).reshape(shape).view(bool)

    def _push(self, step: EditStep) -> None:
        if self._saved_depth > self._depth:
            self._fork = min(self._fork, self._depth)  # the saved state was on the redo line, now cut off
        self._nbytes -= sum(s.nbytes for s in self._redo)
        self._redo.clear()
        self._undo.append(step)
        self._nbytes += step.nbytes
        self._depth += 1
        while len(self._undo) > self.max_steps or (self._nbytes > self.max_bytes and len(self._undo) > 1):
            self._nbytes -= self._undo.popleft().nbytes

    # ------------------------------------------------------------------ undo / redo

    def undo(self, label: np.ndarray) -> list[int] | None:
        """Restore the label before the newest step; the slices restored, or None if nothing to undo."""
        self._check_idle()
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        self._depth -= 1
        return step.apply(label, after=False)

    def redo(self, label: np.ndarray) -> list[int] | None:
        """Re-apply the newest undone step; the slices changed, or None if nothing to redo."""
        self._check_idle()
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        self._depth += 1
        return step.apply(label, after=True)

    def _check_idle(self) -> None:
        if self._pending is not None:
            raise RuntimeError(f"edit {self._pending.description!r} is still open: commit or abort it first")

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_layer(self) -> int | None:
        """The label volume (segment value) "Undo" would write, or None."""
        return self._undo[-1].layer if self._undo else None

    @property
    def redo_layer(self) -> int | None:
        return self._redo[-1].layer if self._redo else None

    @property
    def undo_description(self) -> str | None:
        """What "Undo" would undo, for the menu text."""
        return self._undo[-1].description if self._undo else None

    @property
    def redo_description(self) -> str | None:
        return self._redo[-1].description if self._redo else None

    @property
    def nbytes(self) -> int:
        """Bytes held by stored steps (undo and redo)."""
        return self._nbytes

    def clear(self) -> None:
        """Forget every step (another label or patient was loaded); the current state counts as saved."""
        self._undo.clear()
        self._redo.clear()
        self._pending = None
        self._nbytes = 0
        self._depth = self._saved_depth = 0
        self._fork = _NO_FORK

    # ------------------------------------------------------------------ saved state

    def mark_saved(self) -> None:
        """The label as it is now has been written to disk."""
        self._saved_depth = self._depth
        self._fork = _NO_FORK

    @property
    def changes_since_save(self) -> int:
        """Undo/redo steps between the label now and as last saved (0: unmodified).

        Undoing back to the saved state counts as unmodified again. If the saved state was cut off by a
        new edit after undos, the count is the length of the path through their common ancestor.
        """
        common = min(self._depth, self._saved_depth, self._fork)
        return self._depth + self._saved_depth - 2 * common

    @property
    def is_modified(self) -> bool:
        return self.changes_since_save != 0
