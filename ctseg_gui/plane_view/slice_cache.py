"""Every slice of one plane, windowed and overlaid ahead of time: a crosshair move then only looks them up.

A plane view draws one gather from the composite table (:func:`~ctseg_gui.plane_view.overlay_tables.composite`) whose
index packs the windowed CT grey level (bits 0–7) and the ground-truth / prediction code (bits 8–11:
fill and outline). Making that index for a slice — the grey-level gather, the code image and its
outlines, the packing — was ≈ 2.5 ms of a ≈ 10 ms crosshair move in the 1×3 layout (three views,
measured). The CT, the window and the two masks change rarely, and each change replaces the array
(the window is a value), so a background thread makes the index of every slice of the plane once
they have stood still for :data:`SETTLE_S` (a window drag does not start a build per move), and the
view reads slice ``k`` from it. Until it is ready, and after any change, the view computes the slice
itself: the pixels are the same either way (tested). The edited label and the uncertainty are not
in it; they are added on each draw.

The outline bits are always set: a style without outlines has a colour table that ignores them.
A plane's volume costs 2 bytes a voxel; above :data:`BUDGET_BYTES` none is made.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import Window, apply_window
from ctseg_gui.plane_view.image import ALL_HU, windowed
from ctseg_gui.plane_view.overlay_tables import base_index, code_image
from ctseg_gui.plane_view.sagittal_copies import screen_slice

log = logging.getLogger(__name__)
_ONE_BUILD_AT_A_TIME = threading.Lock()

#: Seconds the CT, window and masks must stay unchanged before a build starts.
SETTLE_S = 0.3
#: Most bytes of one plane's indices (a 512² × 600 scan needs 315 MB).
BUDGET_BYTES = 384 << 20


@dataclass(frozen=True, eq=False)
class Sources:
    """What a plane's base indices are made of: the CT, the window, the ground truth and the prediction."""

    hu: np.ndarray
    window: Window
    gt: np.ndarray | None
    prediction: np.ndarray | None

    def same_as(self, other: Sources) -> bool:
        return (
            self.hu is other.hu
            and self.window == other.window
            and self.gt is other.gt
            and self.prediction is other.prediction
        )


def slice_base(plane: Plane, sources: Sources, index: int, grey_table: np.ndarray) -> np.ndarray:
    """uint16 (rows, columns): grey | overlay code << 8 of slice ``index`` (outline bits set)."""
    hu = screen_slice(plane, sources.hu, index)
    gt = None if sources.gt is None else screen_slice(plane, sources.gt, index)
    prediction = None if sources.prediction is None else screen_slice(plane, sources.prediction, index)
    code = code_image(gt, prediction, (int(hu.shape[0]), int(hu.shape[1])), outlines=True)
    return base_index(windowed(grey_table, hu), code)


class SliceCache:
    """The base indices of every slice of one plane, made on a background thread; see the module docstring."""

    def __init__(self, plane: Plane, budget_bytes: int = BUDGET_BYTES, settle_s: float = SETTLE_S) -> None:
        self.plane = plane
        self.budget_bytes = budget_bytes
        self.settle_s = settle_s
        self._lock = threading.Condition()
        self._wanted: Sources | None = None  # what the view shows now
        self._wanted_since = 0.0
        self._built: Sources | None = None  # what ``_volume`` was made of
        self._volume: np.ndarray | None = None
        self._failed: Sources | None = None  # the build from these raised: not tried again
        self._thread: threading.Thread | None = None  # ends once the build is made or no longer wanted

    def slice(self, sources: Sources, index: int) -> np.ndarray | None:
        """Slice ``index``'s base indices (read-only) if made from ``sources``; else None, and a build is due."""
        with self._lock:
            if self._built is not None and self._volume is not None and self._built.same_as(sources):
                return self._volume[index]
            if self._failed is not None and self._failed.same_as(sources):
                return None  # not again for the same sources
            if self._wanted is None or not self._wanted.same_as(sources):
                self._wanted, self._wanted_since = sources, time.monotonic()
                self._built, self._volume = None, None  # its memory goes now, not after the next build
                self._start()
                self._lock.notify_all()
        return None

    def clear(self) -> None:
        """Want nothing and hold nothing (a hidden view, a new patient): the memory goes now."""
        with self._lock:
            self._wanted = self._built = self._volume = self._failed = None
            self._lock.notify_all()

    def ready(self) -> bool:
        with self._lock:
            return self._volume is not None

    def wait(self, timeout_s: float = 20.0) -> bool:
        """Until the wanted build is made (tests and benchmarks; the display never waits)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._wanted is not None and self._volume is None and self._fits(self._wanted):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return self._volume is not None

    def _fits(self, sources: Sources) -> bool:
        return 2 * sources.hu.size <= self.budget_bytes

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=f"{self.plane.value} indices", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                sources = self._wanted
                if sources is None or self._volume is not None or not self._fits(sources):
                    self._thread = None
                    self._lock.notify_all()
                    return
                settle = self._wanted_since + self.settle_s - time.monotonic()
                if settle > 0:  # not yet still: wait (a newer request restarts the wait)
                    self._lock.wait(settle)
                    continue
            try:
                with _ONE_BUILD_AT_A_TIME:  # the views' builds share the GIL with the GUI thread: one at a time
                    volume = self._build(sources)
            except Exception:  # e.g. no memory for the volume: the view goes on computing its slices
                log.exception("%s: the slices made ahead failed", self.plane.value)
                with self._lock:
                    self._failed = sources
                    if self._wanted is not None and self._wanted.same_as(sources):
                        self._wanted = None
                    self._thread = None
                    self._lock.notify_all()
                return
            with self._lock:
                if volume is not None and self._wanted is not None and self._wanted.same_as(sources):
                    volume.flags.writeable = False
                    self._built, self._volume = sources, volume
                    self._lock.notify_all()

    def _build(self, sources: Sources) -> np.ndarray | None:
        """Every slice's base indices, or None as soon as the view wants something else."""
        grey_table = apply_window(ALL_HU, sources.window)
        shape = sources.hu.shape
        rows, columns = self.plane.image_shape(shape)
        volume = np.empty((self.plane.depth(shape), rows, columns), np.uint16)
        for k in range(volume.shape[0]):
            wanted = self._wanted  # read without the lock: a stale read only costs one slice
            if wanted is None or not wanted.same_as(sources):
                return None
            volume[k] = slice_base(self.plane, sources, k, grey_table)
            time.sleep(0)  # let the GUI thread take the GIL between slices
        return volume
