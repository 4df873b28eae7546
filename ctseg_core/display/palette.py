"""The mask colours every picture uses: the viewer, the slice movie, the HTML report and the 3D view.

One table, so a mask is the same colour wherever the user sees it. Ground truth and prediction follow
image fusion's green/magenta (MATLAB ``imfuse``): where they overlap they add to white. Compare mode
names the overlap classes instead (true positive, false positive, false negative).
"""

from __future__ import annotations

RGB = tuple[int, int, int]

GROUND_TRUTH: RGB = (40, 220, 60)
PREDICTION: RGB = (255, 40, 255)
EDITED_LABEL: RGB = (255, 140, 0)
TRUE_POSITIVE: RGB = (255, 215, 0)
FALSE_POSITIVE: RGB = (255, 60, 60)
FALSE_NEGATIVE: RGB = (0, 190, 255)
#: The uncertainty heat map runs from the first colour (least uncertain band shown) to the second.
UNCERTAINTY: tuple[RGB, RGB] = ((255, 40, 0), (255, 235, 60))

#: The colour of each named layer, by the name pictures and reports give it.
NAMED: dict[str, RGB] = {
    "ground truth": GROUND_TRUTH,
    "prediction": PREDICTION,
    "edited": EDITED_LABEL,
}
#: Colours for any other layers, in order of appearance.
SPARE: tuple[RGB, ...] = ((0, 200, 255), (255, 230, 0), (255, 60, 60), (120, 120, 255))
