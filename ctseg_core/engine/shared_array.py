"""An ndarray in a named shared-memory segment, so volumes and masks cross processes without pickling.

The process that creates a segment owns it and unlinks it (:meth:`SharedArray.release`); the other
side only attaches and closes. The client creates every segment of a request (inputs and outputs,
whose shapes it knows), so a child that dies mid-request leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from multiprocessing import shared_memory
from types import TracebackType

import numpy as np

#: Every segment's name starts so (then the creating process's id), to find leaks in /dev/shm.
NAME_PREFIX = "ctseg_"


@dataclass(frozen=True)
class SharedArrayRef:
    """What the other process needs to attach: the segment's name, the shape and the dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str


class SharedArray:
    """A shared-memory segment seen as an ndarray (``.array``); a context manager that releases it."""

    def __init__(self, memory: shared_memory.SharedMemory, shape: tuple[int, ...], dtype: np.dtype, owner: bool):
        self._memory: shared_memory.SharedMemory | None = memory
        self.owner = owner
        self.ref = SharedArrayRef(memory.name, tuple(int(n) for n in shape), np.dtype(dtype).str)
        self.array: np.ndarray = np.ndarray(shape, dtype=dtype, buffer=memory.buf)

    @classmethod
    def empty(cls, shape: tuple[int, ...], dtype: np.dtype | type | str) -> SharedArray:
        """A new zero-filled segment owned by this process."""
        kind = np.dtype(dtype)
        size = max(int(np.prod(shape, dtype=np.int64)) * kind.itemsize, 1)  # a segment cannot be empty
        name = f"{NAME_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"
        return cls(shared_memory.SharedMemory(name=name, create=True, size=size), shape, kind, owner=True)

    @classmethod
    def copy_of(cls, array: np.ndarray) -> SharedArray:
        """A new segment holding a copy of ``array`` (one memcpy)."""
        shared = cls.empty(array.shape, array.dtype)
        shared.array[...] = array
        return shared

    @classmethod
    def attach(cls, ref: SharedArrayRef) -> SharedArray:
        """The segment another process created (not owned here: release only closes it)."""
        return cls(shared_memory.SharedMemory(name=ref.name), ref.shape, np.dtype(ref.dtype), owner=False)

    def release(self) -> None:
        """Drop this process's view; the owner also unlinks the segment. Safe to call twice."""
        memory, self._memory = self._memory, None
        if memory is None:
            return
        self.array = np.empty(0, dtype=self.array.dtype)  # the buffer must have no exports when closed
        memory.close()
        if self.owner:
            with contextlib.suppress(FileNotFoundError):
                memory.unlink()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()
