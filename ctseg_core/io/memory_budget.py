"""Whether a scan's declared size fits in memory, asked before anything is allocated.

A header can declare any size (a corrupt NIfTI of 40000³ voxels, thousands of 4096² slices); numpy
then raises MemoryError deep in a reader, or the system starts swapping. The loader asks here with the
shape and how many bytes a voxel costs while loading, and refuses with the memory it would need.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ctseg_core.errors import VolumeTooLargeError

#: Bytes a loaded voxel costs at the loader's peak: the int16 stack as read and its canonical copy.
LOAD_BYTES_PER_VOXEL = 4


def available_bytes() -> int | None:
    """Memory the system can give this process now (``MemAvailable``), else its physical memory; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def gib(count: float) -> str:
    return f"{count / 2**30:.1f} GiB"


def check_fits(path: str | Path, shape: tuple[int, ...], bytes_per_voxel: float = LOAD_BYTES_PER_VOXEL) -> None:
    """Refuse (VolumeTooLargeError naming ``path``) a volume of ``shape`` that would not fit in memory."""
    voxels = math.prod(int(n) for n in shape)
    needed = voxels * bytes_per_voxel
    available = available_bytes()
    if available is not None and needed > available:
        dims = " × ".join(str(int(n)) for n in shape)
        raise VolumeTooLargeError(
            path,
            f"declares {dims} voxels: loading it needs about {gib(needed)} of memory, and {gib(available)} is "
            "available (a corrupt header, or a scan for a larger machine)",
        )


def out_of_memory(path: str | Path | None, what: str, shape: tuple[int, ...] | None = None) -> VolumeTooLargeError:
    """The error for a MemoryError met while ``what`` (e.g. "loading"), saying what memory there was."""
    available = available_bytes()
    size = f" of {' × '.join(str(int(n)) for n in shape)} voxels" if shape else ""
    have = f" ({gib(available)} available)" if available is not None else ""
    return VolumeTooLargeError(
        path, f"ran out of memory {what} the scan{size}{have}: close other programs or use a larger machine"
    )
