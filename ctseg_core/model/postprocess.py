"""Post-processing of a liver probability map: threshold, largest 3D component, fill holes.

The liver is one connected organ without holes; false positives (spleen, heart) are usually
separate islands, and tumours or vessels sometimes leave holes in the probability map.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest face-connected component of a bool mask (empty stays empty)."""
    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask.astype(bool, copy=True)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill holes in 3D and then in every axial slice (tumours open to one side in 3D)."""
    filled = ndimage.binary_fill_holes(mask)
    for k in np.nonzero(filled.any(axis=(1, 2)))[0]:
        filled[k] = ndimage.binary_fill_holes(filled[k])
    return filled


def postprocess(probability: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Binary liver mask from a probability map: threshold, keep the largest component, fill holes."""
    return fill_holes(largest_component(probability >= threshold))
