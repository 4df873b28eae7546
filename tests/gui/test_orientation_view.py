"""The viewer shows every stored orientation the same way: anterior at the top, the patient's right
on the screen's left, with the matching letters (checked on the grabbed pixels, not on the model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from ctseg_core.display.windowing import Window
from ctseg_core.geometry import VolumeGeometry
from ctseg_core.synth.variants import NAMED_LAYOUTS, write_dicom_variant, write_nifti_variant
from ctseg_gui.main_window import MainWindow
from gui.conftest import OpenIn

SIZE, SLICES = 64, 6


def _marker_volume() -> tuple[np.ndarray, VolumeGeometry]:
    """Air with a body, a bright block at the patient's anterior right, and a smaller one posterior left.

    Canonical rows run anterior → posterior and columns right → left, so the big block sits at
    small row and column indices: on screen it must appear top-left.
    """
    hu = np.full((SLICES, SIZE, SIZE), -1000, dtype=np.int16)
    hu[:, 8:56, 8:56] = 40
    hu[:, 10:22, 10:26] = 1500  # anterior right: big
    hu[:, 46:52, 44:50] = 1500  # posterior left: small
    geometry = VolumeGeometry((-100.0, -80.0, 30.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (2.5, 0.8, 0.8))
    return hu, geometry


def _bright_centroid(image: QImage) -> tuple[float, float]:
    """Centroid (fraction of width, of height) of the near-white pixels of a grab."""
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.bytesPerLine() * height)
    pixels = data.reshape(height, image.bytesPerLine())[:, :width]
    rows, columns = np.nonzero(pixels > 250)
    return float(columns.mean() / width), float(rows.mean() / height)


@pytest.mark.parametrize(
    "variant", ["as stored", "columns flipped", "rows flipped", "coronal", "sagittal", "nifti RAS", "nifti RPI"]
)
@pytest.mark.slow
def test_every_variant_shows_anterior_up_and_right_on_the_left(
    variant: str, window: MainWindow, open_in: OpenIn, tmp_path: Path
) -> None:
    hu, geometry = _marker_volume()
    if variant.startswith("nifti"):
        folder = write_nifti_variant(tmp_path / "v", hu, geometry, tuple(variant.split()[1]))
    else:
        folder = write_dicom_variant(tmp_path / "v", hu, geometry, NAMED_LAYOUTS[variant])
    open_in(window, folder)
    view = window.axial_view
    letters = {side: label.text() for side, label in view.side_labels.items()}
    assert letters == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    window.state.set_window(Window(width=400, level=40))
    view.fit()
    image = view.viewport().grab().toImage()
    x, y = _bright_centroid(image)
    # the big anterior-right block dominates the bright pixels: it must be top-left of centre
    assert x < 0.5 and y < 0.5, (variant, x, y)
