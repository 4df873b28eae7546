"""Sagittal slices read from a copy in sagittal order, so a crosshair move does not wait on memory.

A sagittal slice of a [z, y, x] volume holds one voxel per row of every axial slice: each one is a
separate cache line (a 512² × 100 int16 CT reads ≈ 3 MB for 100 kB of slice), and the sagittal view
of the 1×3 layout cost ≈ 2.3 ms of a ≈ 10 ms crosshair move (CT, ground truth, prediction), three
times the coronal view. For the volumes that do not change while they are shown — the CT, the
ground truth, the prediction, the uncertainty; a new one is a new array — a copy in [x, z reversed,
y] order is made on a background thread the first time one of them is shown sagittally (numpy's
copy releases the GIL), and its slices are contiguous. Until the copy is ready, and for the label
being edited (changed in place), the strided view is used: the pixels are the same either way.
The copies cost memory, so they are made only while their total stays under :data:`BUDGET_BYTES`.
"""

from __future__ import annotations

import queue
import threading
import weakref
from functools import partial

import numpy as np

from ctseg_core.display.planes import Plane

#: Most bytes held in sagittal copies at once (a 512² × 300 CT with its masks needs ≈ 0.4 GB).
BUDGET_BYTES = 1 << 30


class SagittalCopies:
    """Contiguous sagittal-order copies of read-only volumes, made on demand on a background thread."""

    def __init__(self, budget_bytes: int = BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._lock = threading.Lock()
        # id(volume) -> (weak reference to the volume, its copy or None while it is made, the copy's bytes)
        self._copies: dict[int, tuple[weakref.ref[np.ndarray], np.ndarray | None, int]] = {}
        # Keys of volumes that died. A weakref callback runs on whichever thread frees the volume,
        # even inside the garbage collector while this thread holds the lock, so it only queues.
        self._dead: queue.SimpleQueue[int] = queue.SimpleQueue()

    def image(self, volume: np.ndarray, index: int) -> np.ndarray:
        """``Plane.SAGITTAL.image(volume, index)``, from the copy once it exists."""
        key = id(volume)
        with self._lock:
            self._drop_dead()
            entry = self._copies.get(key)
            if entry is not None and entry[0]() is volume:
                copy = entry[1]
                return copy[index] if copy is not None else Plane.SAGITTAL.image(volume, index)
            if sum(entry[2] for entry in self._copies.values()) + volume.nbytes <= self.budget_bytes:
                self._copies[key] = (weakref.ref(volume, partial(_queue_key, self._dead, key)), None, volume.nbytes)
                threading.Thread(
                    target=self._make, args=(key, volume), name=f"sagittal copy {key}", daemon=True
                ).start()
        return Plane.SAGITTAL.image(volume, index)

    def wait(self, timeout_s: float = 10.0) -> None:
        """Until every copy started is made (tests and benchmarks: the display never waits)."""
        for thread in threading.enumerate():
            if thread.name.startswith("sagittal copy"):
                thread.join(timeout_s)

    def held(self) -> int:
        """Number of copies made and held."""
        with self._lock:
            self._drop_dead()
            return sum(copy is not None for _, copy, _bytes in self._copies.values())

    def _make(self, key: int, volume: np.ndarray) -> None:
        copy = np.ascontiguousarray(np.moveaxis(volume, 2, 0)[:, ::-1, :])
        copy.flags.writeable = False
        with self._lock:
            entry = self._copies.get(key)
            if entry is not None and entry[0]() is volume:
                self._copies[key] = (entry[0], copy, entry[2])

    def _drop_dead(self) -> None:
        """Forget the copies of volumes that died (called with the lock held)."""
        while not self._dead.empty():
            key = self._dead.get_nowait()
            entry = self._copies.get(key)
            if entry is not None and entry[0]() is None:  # not a new volume that reused the id
                del self._copies[key]


def _queue_key(dead: queue.SimpleQueue[int], key: int, _reference: object) -> None:
    """A weakref callback: note that the volume ``key`` died (no lock: see ``SagittalCopies._dead``)."""
    dead.put(key)


#: The copies the plane views share (the three views of a window show the same volumes).
SHARED = SagittalCopies()


def screen_slice(plane: Plane, volume: np.ndarray, index: int) -> np.ndarray:
    """The slice ``index`` of a read-only [z, y, x] volume in screen order, as :meth:`Plane.image`."""
    return SHARED.image(volume, index) if plane is Plane.SAGITTAL else plane.image(volume, index)
