"""Shared arrays: what one side writes the other reads, and the owner's release leaves no segment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ctseg_core.engine.shared_array import NAME_PREFIX, SharedArray

SHM = Path("/dev/shm")


def own_segments() -> list[str]:
    """This process's segments still in /dev/shm."""
    return sorted(p.name for p in SHM.glob(f"{NAME_PREFIX}{os.getpid()}_*"))


def test_copy_attach_and_release_leave_nothing() -> None:
    volume = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    shared = SharedArray.copy_of(volume)
    assert own_segments() == [shared.ref.name]
    seen = SharedArray.attach(shared.ref)
    np.testing.assert_array_equal(seen.array, volume)
    seen.array[0, 0, 0] = -7  # the same memory, not a copy
    assert shared.array[0, 0, 0] == -7
    seen.release()
    assert own_segments() == [shared.ref.name]  # an attached view never unlinks
    shared.release()
    shared.release()  # twice is harmless
    assert own_segments() == []


def test_empty_segments_of_any_dtype_and_size() -> None:
    for shape, dtype in (((0, 5, 5), np.bool_), ((3, 2, 2), np.float32), ((1, 1, 1), np.uint8)):
        with SharedArray.empty(shape, dtype) as shared:
            assert shared.array.shape == shape
            assert shared.array.dtype == np.dtype(dtype)
            assert not shared.array.any()
    assert own_segments() == []


def test_a_killed_owner_leaves_no_segment() -> None:
    """The client killed outright (SIGKILL): multiprocessing's resource tracker unlinks its segments."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from ctseg_core.engine import SharedArray; "
            "a = SharedArray.empty((64,), 'u1'); print(a.ref.name, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert owner.stdout is not None
    name = owner.stdout.readline().strip()
    assert (SHM / name).exists()
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 10
    while (SHM / name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (SHM / name).exists()
