"""Can the 3D pane use OpenGL here, and how many triangles may a surface have on this renderer.

:func:`gl_unavailable_reason` finds out without ever creating a GL widget that could fail
(Qt's offscreen platform, no GL driver, PyOpenGL missing). The model runs in its own process, so
Mesa's software renderer (virtual machines, remote desktops) shows the 3D view like any other;
it only draws fewer triangles (:func:`surface_triangle_budget`).
"""

from __future__ import annotations

import functools

from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc")
GL_RENDERER = 0x1F01


def gl_unavailable_reason() -> str | None:
    """Why the 3D view cannot be shown here, or None when OpenGL is available (a platform without
    OpenGL is known without loading any GL library)."""
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


#: Triangles per surface on a hardware OpenGL driver (the issue's bound for one liver).
HARDWARE_GL_TRIANGLES = 300_000
#: Triangles per surface on Mesa's software renderer, so that a frame of three surfaces (ground truth,
#: prediction, label) keeps the GUI thread under 50 ms on 2 cores (benchmarks/bench_view.py --mesh):
#: three undecimated livers (≈ 230 k each) took ≈ 110 ms a frame; at 60 k (40 k for a 1.66 L liver)
#: the longest gap around a rebuild was 51–53 ms in 3 of 12 rebuilds, at 30 k (21 k) 27–35 ms in 6 of 6.
SOFTWARE_GL_TRIANGLES = 30_000


def surface_triangle_budget() -> int:
    """Most triangles per surface that keep a frame of three surfaces under 50 ms on this renderer."""
    return SOFTWARE_GL_TRIANGLES if software_mesa_renderer() else HARDWARE_GL_TRIANGLES


@functools.cache
def renderer_name() -> str:
    """OpenGL's GL_RENDERER string here ("" when no context can be made current), asked once."""
    context, surface = QOpenGLContext(), QOffscreenSurface()
    surface.create()
    try:
        if not (context.create() and context.makeCurrent(surface)):
            return ""
        name = context.functions().glGetString(GL_RENDERER)
        context.doneCurrent()
        return str(name or "")
    finally:
        surface.destroy()


def software_mesa_renderer() -> bool:
    """Whether OpenGL here is Mesa's software rasteriser (llvmpipe/softpipe/swrast)."""
    renderer = renderer_name().lower()
    return any(name in renderer for name in ("llvmpipe", "softpipe", "swrast"))
