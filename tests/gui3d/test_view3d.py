"""The 3D pane on a real OpenGL platform: the liver mesh appears and encloses the mask's volume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ctseg_gui.main_window import MainWindow
from ctseg_gui.view3d.gl_probe import gl_unavailable_reason
from ctseg_gui.view3d.surface_view import SurfaceView


def _lit_pixels(image: QImage) -> int:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * image.height())
    pixels = data.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()]
    return int(np.count_nonzero(pixels.reshape(image.height(), image.width(), 3).max(axis=2) > 30))


def test_the_liver_mesh_appears_and_keeps_the_mask_volume(window: MainWindow, phantom: Path, qtbot: QtBot) -> None:
    assert gl_unavailable_reason() is None
    window.set_layout("2x2")
    pane = window.plane_layout.view3d
    assert isinstance(pane, SurfaceView)
    assert pane.settled()  # no patient, nothing to build: `ctseg view --screenshot` without a path exits
    with qtbot.waitSignal(window.patientLoaded, timeout=20_000):
        window.open_path(phantom)
    qtbot.waitUntil(lambda: "gt" in pane.meshes, timeout=60_000)
    qtbot.waitUntil(pane.settled, timeout=60_000)  # what a scripted screenshot waits for
    qtbot.wait(200)
    patient, gt = window.state.patient, window.state.gt
    mask_ml = float(gt.sum()) * float(np.prod(patient.spacing_mm)) / 1000.0
    mesh_ml = pane.meshes["gt"].volume_ml()
    assert abs(mesh_ml - mask_ml) <= 0.03 * mask_ml, (mesh_ml, mask_ml)
    assert _lit_pixels(pane.gl_view.grabFramebuffer()) > 500
    window.state.set_overlay(show_gt=False)
    assert not pane.items["gt"].visible()
    pane.crosshair_dot.item.setVisible(False)  # the crosshair's yellow dot
    assert _lit_pixels(pane.gl_view.grabFramebuffer()) < 50
    pane.invalidate("gt")
    assert not pane.settled()  # a rebuild is under way
    qtbot.waitUntil(pane.settled, timeout=60_000)


def test_software_gl_meshes_within_its_triangle_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three surfaces on Mesa's software renderer draw in under 50 ms: 30 k triangles each, not 300 k."""
    from ctseg_gui.view3d import gl_probe

    monkeypatch.setattr(gl_probe, "software_mesa_renderer", lambda: True)
    assert gl_probe.surface_triangle_budget() == gl_probe.SOFTWARE_GL_TRIANGLES == 30_000
    monkeypatch.setattr(gl_probe, "software_mesa_renderer", lambda: False)
    assert gl_probe.surface_triangle_budget() == gl_probe.HARDWARE_GL_TRIANGLES == 300_000


def test_the_renderer_is_named_in_this_process_and_software_mesa_keeps_the_3d_view() -> None:
    """No child process probes GL any more (it kept GL apart from TensorFlow, which now has its own
    process); Xvfb's Mesa is the software renderer, and the 3D view is on there."""
    from ctseg_gui.view3d import gl_probe

    assert gl_probe.renderer_name()
    assert gl_probe.software_mesa_renderer() == ("llvmpipe" in gl_probe.renderer_name().lower())
    assert gl_probe.gl_unavailable_reason() is None


def test_a_2x2_screenshot_shows_the_surface_and_the_viewer_exits_cleanly(phantom: Path, tmp_path: Path) -> None:
    """`ctseg view --layout 2x2 --screenshot`: the 3D pane's own GL window is painted into the grab,
    and deleting the window before exit keeps PySide's clean-up from crashing on it."""
    shot = tmp_path / "2x2.png"
    env = {**os.environ, "CTSEG_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "ctseg_gui.cli", "view", str(phantom), "--layout", "2x2", "--screenshot", str(shot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * image.height())
    pixels = data.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()]
    pixels = pixels.reshape(image.height(), image.width(), 3).astype(int)
    green = (pixels[..., 1] > 120) & (pixels[..., 1] > pixels[..., 0] + 60) & (pixels[..., 1] > pixels[..., 2] + 60)
    lower_right = green[image.height() // 2 :, image.width() // 2 :]
    assert lower_right.sum() > 2000  # the shaded ground-truth surface, not a black native window


def _rgb(shot: Path) -> np.ndarray:
    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * image.height())
    pixels = data.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()]
    return pixels.reshape(image.height(), image.width(), 3).astype(int)


@pytest.mark.slow
def test_segmenting_keeps_the_3d_view_on_software_gl_with_both_surfaces_in_one_grab(
    phantom: Path, tmp_path: Path
) -> None:
    """`ctseg view --segment --layout 2x2 --screenshot` on Mesa's software OpenGL: the model runs in its
    own process, so the 3D pane stays on and shows the prediction's surface beside the ground truth's."""
    shot = tmp_path / "segmented.png"
    env = {**os.environ, "CTSEG_CACHE": str(tmp_path / "cache")}
    command = ["view", str(phantom), "--segment", "--layout", "2x2", "--screenshot", str(shot)]
    done = subprocess.run(
        [sys.executable, "-m", "ctseg_gui.cli", *command], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = _rgb(shot)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    lower_right = (slice(pixels.shape[0] // 2, None), slice(pixels.shape[1] // 2, None))
    magenta = (red > 150) & (blue > 150) & (green < red - 80)
    gt_green = (green > 120) & (green > red + 60) & (green > blue + 60)
    assert gt_green[lower_right].sum() > 500 and magenta[lower_right].sum() > 500  # both surfaces in the 3D pane


def test_the_3d_pane_leaves_the_rest_of_the_window_raster(window: MainWindow, phantom: Path, qtbot: QtBot) -> None:
    """A QOpenGLWidget would make Qt compose the whole window through OpenGL on every repaint (15 ms for
    a label on Mesa's software renderer, measured), and keep doing so after the 3D pane is hidden."""
    import time

    window.set_layout("2x2")
    with qtbot.waitSignal(window.patientLoaded, timeout=20_000):
        window.open_path(phantom)
    pane = window.plane_layout.view3d
    assert isinstance(pane, SurfaceView)
    qtbot.waitUntil(pane.settled, timeout=60_000)
    qtbot.wait(300)
    assert pane.gl_container.windowHandle() is None or pane.gl_view.parent() is not None  # a window of its own
    label = window.navigator.label
    app = QApplication.instance()
    times = []
    for step in range(30):
        label.setText(f"slice {step}")
        started = time.perf_counter()
        app.processEvents()
        times.append(time.perf_counter() - started)
    assert sorted(times)[len(times) // 2] < 0.005, times  # a label repaint, not a GL composition
