"""HU volumes read from float or wide-integer files (NIfTI, NRRD, MetaImage) as ctseg's int16 stack.

One rule for every one-file volume: values are rounded to whole HU, values outside int16 are clipped
and voxels that are not numbers (NaN, infinite: what resampling leaves outside the field of view) become
air, -1024 HU (a plain cast would make them 0 HU, water, without a word); each change is counted and said
in a warning. Done plane by plane, so a float volume never gets a second
full-size float copy.
"""

from __future__ import annotations

import numpy as np

_INT16 = np.iinfo(np.int16)
#: What a voxel that is not a number (NaN, ±inf) becomes: air.
NAN_HU = -1024


def hu_as_int16(stack: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A [k, j, i] array (a transposed view is fine) as a contiguous int16 stack, and the warnings."""
    out = np.empty(stack.shape, dtype=np.int16)
    missing = clipped = 0
    for k in range(stack.shape[0]):
        plane = np.asarray(stack[k])
        if plane.dtype.kind == "f":
            bad = ~np.isfinite(plane)
            if bad.any():
                missing += int(np.count_nonzero(bad))
                plane = np.where(bad, np.float32(NAN_HU), plane)
            plane = np.rint(plane)
        if plane.dtype != np.int16:
            outside = (plane < _INT16.min) | (plane > _INT16.max)
            clipped += int(np.count_nonzero(outside))
            plane = np.clip(plane, _INT16.min, _INT16.max)
        out[k] = plane
    warnings = []
    if missing:
        warnings.append(f"{missing} voxels were not numbers (NaN or infinite): set to air ({NAN_HU} HU)")
    if clipped:
        warnings.append(f"{clipped} voxels outside the int16 HU range were clipped")
    return out, warnings
