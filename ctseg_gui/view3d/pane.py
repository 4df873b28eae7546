"""The 3D pane: the surface view where OpenGL works, else a label that says why.

Whether OpenGL can run is asked first (:mod:`~ctseg_gui.view3d.gl_probe`), without loading GL where
the answer is known without it (Mesa's software renderer included: the model runs in its own
process, so TensorFlow never meets it); only then is :class:`~ctseg_gui.view3d.surface_view.SurfaceView`
(and with it pyqtgraph.opengl) made.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from ctseg_gui.jobs.workers import JobRunner
from ctseg_gui.state.editor import EditorState
from ctseg_gui.state.viewer import ViewerState
from ctseg_gui.view3d.gl_probe import gl_unavailable_reason
from ctseg_gui.view3d.surface_view import SurfaceView
from ctseg_gui.widgets.plain_text import data_label

log = logging.getLogger(__name__)


def make_3d_pane(state: ViewerState, editor: EditorState, runner: JobRunner) -> QWidget:
    """The 3D view where OpenGL works, else a placeholder label with the reason."""
    reason = gl_unavailable_reason()
    if reason is not None:
        log.info(reason)
        return placeholder_3d(reason)
    return SurfaceView(state, editor, runner)


def placeholder_3d(text: str) -> QLabel:
    """The 3D pane when no 3D view is available, saying why."""
    label = data_label(text)
    label.setObjectName("view3dPlaceholder")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #9a9a9a; background: black; font-size: 14px;")
    label.setMinimumSize(200, 200)
    return label
