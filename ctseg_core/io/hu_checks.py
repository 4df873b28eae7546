"""What the values of a scan say about it: a binary mask saved as an image, or HU stored with an offset.

Headers can lie or be silent: IRCAD's mask slices are "CT" images of the patient's own series size,
and a converter that drops RescaleIntercept leaves HU + 1024 with nothing in the header to say so.
The values cannot lie: a mask holds two or three values (0/1, 0/255), and a CT in HU holds air
near -1000 and fat near -100, never only values ≥ 0. The loader (choosing a series, checking the
volume it loaded) and the quality estimate ask here, so they agree about a scan.
"""

from __future__ import annotations

import numpy as np

#: The values a binary mask saved as an image holds (0/1 labels, IRCAD's 0/255 masks).
MASK_VALUES = frozenset({0, 1, 255})
#: HU stored as unsigned values from 0 (air) up: what a missing RescaleIntercept of -1024 leaves.
HU_OFFSET = 1024
#: Voxels looked at for a volume's value statistics (a strided sample; exact counts are not needed).
SAMPLE_VOXELS = 2_000_000


def mask_values(values: np.ndarray, *, blank: bool = False) -> list[int] | None:
    """The distinct values of an array that holds only mask values (a subset of :data:`MASK_VALUES`),
    else None. Cheap on a CT: its minimum or maximum rules it out before anything is counted.

    One value alone (a blank image, all 0) is no mask unless ``blank``: a mask's slices without the organ
    are blank, and so is a phantom's empty scan."""
    if values.size == 0:
        return None
    low, high = float(np.min(values)), float(np.max(values))
    if low < 0 or high > 255 or low not in MASK_VALUES or high not in MASK_VALUES or (low == high and not blank):
        return None
    counts = np.bincount(np.asarray(values, dtype=np.int64).ravel(), minlength=256)
    present = [int(v) for v in np.flatnonzero(counts)]
    return present if set(present) <= MASK_VALUES else None


def describe_mask(values: list[int]) -> str:
    """How a mask-like scan is named in messages: its values."""
    return f"it holds only the values {'/'.join(str(v) for v in values)}, as a binary mask does, not a CT's HU"


def _sample(hu: np.ndarray) -> np.ndarray:
    """A strided sample of a volume, about :data:`SAMPLE_VOXELS` voxels."""
    step = max(1, int(np.ceil((hu.size / SAMPLE_VOXELS) ** (1 / 3))))
    return np.asarray(hu[::step, ::step, ::step])


def hu_offset_problem(hu: np.ndarray) -> str | None:
    """Why a volume's values look like HU + 1024 stored without RescaleIntercept, or None.

    A CT in HU always holds air (≈ -1000) or fat (≈ -100): below -100 HU. Shifted by 1024, nothing is
    below -100 HU, air (and the padding around the field of view) sits near 0 and fat near 920. Said
    only when the shifted reading fits: no voxel below -100, and air at 0 or fat near 920 present.
    """
    sample = _sample(hu)
    if sample.size == 0 or mask_values(sample) is not None:
        return None
    below = float(np.count_nonzero(sample < -100)) / sample.size
    if below > 0.001:
        return None
    air = float(np.count_nonzero((sample >= -50) & (sample <= 100))) / sample.size
    fat = float(np.count_nonzero((sample >= 1024 - 200) & (sample <= 1024 - 30))) / sample.size
    if air < 0.05 and fat < 0.02:
        return None
    peak = int(np.median(sample[(sample >= -50) & (sample <= 100)])) if air >= 0.05 else None
    where = f"air at {peak} instead of about -1000" if peak is not None else "fat near 920 instead of about -100"
    return (
        f"values look like HU + {HU_OFFSET} stored without RescaleIntercept ({where}, nothing below -100): "
        f"the scan is read {HU_OFFSET} HU too bright and the segmentation is not to be trusted; "
        f"fix the file's rescale (intercept -{HU_OFFSET}) and reload"
    )
