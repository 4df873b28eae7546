"""Can the 3D pane use OpenGL here, and how many triangles may a surface have on this renderer.

:func:`gl_unavailable_reason` finds out without ever creating a GL widget that could fail
(Qt's offscreen platform, no GL driver, PyOpenGL missing); :func:`software_gl_refusal` keeps the
3D view off on Mesa's software renderer, which crashes with TensorFlow in one process.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

from PySide6.QtGui import QGuiApplication, QOpenGLContext

NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc")


def gl_unavailable_reason_without_loading_gl() -> str | None:
    """The reasons that need no GL library in this process (platform without OpenGL, no PyOpenGL)."""
    platform = QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"3D view unavailable: the Qt platform “{platform}” has no OpenGL"
    return None


def gl_unavailable_reason() -> str | None:
    """Why the 3D view cannot be shown here, or None when OpenGL is available."""
    platform = QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"3D view unavailable: the Qt platform “{platform}” has no OpenGL"
    try:
        import pyqtgraph.opengl  # noqa: F401  # needs PyOpenGL
    except Exception as error:  # an ImportError, or a GL library that fails to load
        return f"3D view unavailable: pyqtgraph.opengl cannot be imported ({error})"
    context = QOpenGLContext()
    if not context.create():
        return "3D view unavailable: no OpenGL context could be created"
    return None


_PROBE = """
import sys
from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext
app = QGuiApplication(sys.argv[:1])
context, surface = QOpenGLContext(), QOffscreenSurface()
surface.create()
if context.create() and context.makeCurrent(surface):
    print(context.functions().glGetString(0x1F01) or "")
"""


#: Triangles per surface on a hardware OpenGL driver (the issue's bound for one liver).
HARDWARE_GL_TRIANGLES = 300_000
#: Triangles per surface on Mesa's software renderer, so that a frame of three surfaces (ground truth,
#: prediction, label) keeps the GUI thread under 50 ms on 2 cores (benchmarks/bench_view.py --mesh):
#: three undecimated livers (≈ 230 k each) took ≈ 110 ms a frame; at 60 k (40 k for a 1.66 L liver)
#: the longest gap around a rebuild was 51–53 ms in 3 of 12 rebuilds, at 30 k (21 k) 27–35 ms in 6 of 6.
SOFTWARE_GL_TRIANGLES = 30_000


def surface_triangle_budget() -> int:
    """Most triangles per surface that keep a frame of three surfaces under 50 ms on this renderer.

    With CTSEG_3D_SOFTWARE=1 the user says the renderer is Mesa's software one, and the probe (a child
    process, ≈ 1 s on the GUI thread) is not run; otherwise ``software_gl_refusal`` has run it already.
    """
    return SOFTWARE_GL_TRIANGLES if software_gl_forced() or software_mesa_renderer() else HARDWARE_GL_TRIANGLES


@functools.cache
def software_mesa_renderer() -> bool:
    """Whether OpenGL here is Mesa's software rasteriser (llvmpipe/softpipe), asked in a child process.

    Mesa's llvmpipe and TensorFlow crash (segmentation fault) when both are loaded in one process,
    whichever comes first (seen under Xvfb). The child process keeps this process free of GL until
    the answer is known.
    """
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "QT_QPA_PLATFORM": QGuiApplication.platformName()},
        )
    except (OSError, subprocess.SubprocessError):
        return False
    renderer = result.stdout.strip().lower()
    return any(name in renderer for name in ("llvmpipe", "softpipe", "swrast"))


#: Set to 1 to show the 3D view on Mesa's software renderer anyway (tests, viewing without the model).
FORCE_SOFTWARE_GL = "CTSEG_3D_SOFTWARE"


def software_gl_forced() -> bool:
    """Whether the user said to show the 3D view on Mesa's software renderer (CTSEG_3D_SOFTWARE=1)."""
    return os.environ.get(FORCE_SOFTWARE_GL) == "1"


def software_gl_refusal() -> str | None:
    """Why the 3D view stays off on Mesa's software renderer, or None.

    Mesa's llvmpipe and TensorFlow crash (segmentation fault, or an abort at exit) when both are
    loaded in one process, whichever comes first (seen under Xvfb with Mesa 22 and TensorFlow
    2.21). The viewer loads TensorFlow for Segment, so on that renderer the 3D view is off unless
    CTSEG_3D_SOFTWARE=1 says the model will not be used in this session.
    """
    if software_gl_forced() or not software_mesa_renderer():
        return None
    return (
        "3D view off: Mesa's software OpenGL and TensorFlow crash in one process. With a hardware "
        f"OpenGL driver the 3D view works; {FORCE_SOFTWARE_GL}=1 shows it here if you will not segment."
    )
