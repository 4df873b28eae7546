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

#: Colours of named segments (organs, lesions, vessels), keyed by the organ names of
#: :mod:`ctseg_core.io.segments`. From 3D Slicer's GenericAnatomyColors table
#: (Base/Logic/Resources/ColorFiles/GenericAnatomyColors.txt) so a segment keeps the colour a Slicer
#: user knows; the venous system gets a lighter blue than Slicer's (which gives every vein one blue)
#: so that it stands apart from the portal vein in a liver study.
ORGANS: dict[str, RGB] = {
    "liver": (221, 130, 101),
    "tumour": (144, 238, 144),  # Slicer "mass"
    "cyst": (205, 205, 100),
    "portal vein": (0, 151, 206),  # Slicer "vein"
    "venous system": (104, 160, 249),
    "artery": (216, 101, 79),
    "vessels": (0, 151, 206),
    "inferior vena cava": (0, 151, 206),
    "aorta": (224, 97, 76),
    "kidney": (185, 102, 83),
    "spleen": (157, 108, 162),
    "gallbladder": (139, 150, 98),
    "biliary tree": (0, 145, 30),
    "pancreas": (249, 180, 111),
    "stomach": (216, 132, 105),
    "adrenal gland": (249, 186, 150),
    "lung": (197, 165, 145),
    "heart": (206, 110, 84),
    "bone": (241, 214, 145),
    "skin": (177, 122, 101),
}
#: Colours for segments with no organ colour, in order of value (ITK-SNAP's first default label colours).
SEGMENT_SPARE: tuple[RGB, ...] = (
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (0, 255, 255),
    (255, 0, 255),
    (255, 239, 213),
    (0, 0, 205),
    (205, 133, 63),
    (210, 180, 140),
)
