"""Entry points for ``ctseg view`` and ``ctseg demo``: build the app, show the window, run."""

from __future__ import annotations

import gc
import logging
import sys

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, Qt, QTimer
from PySide6.QtWidgets import QApplication

from ctseg_core.errors import CohortDatabaseError
from ctseg_gui.main_window import MainWindow
from ctseg_gui.view3d.gl_items import grab_with_gl
from ctseg_gui.widgets.theme import apply_dark_theme


def _start(model: str | None, preload_model: bool = True) -> tuple[QApplication, MainWindow]:
    logging.basicConfig(level=logging.WARNING, format="ctseg: %(levelname)s: %(message)s")
    existing = QApplication.instance()
    app = existing if existing is not None else QApplication(sys.argv[:1])
    if not isinstance(app, QApplication):  # a QCoreApplication made elsewhere: widgets cannot run in it
        raise RuntimeError("ctseg's viewer needs a QApplication, but a QCoreApplication is already running")
    app.setOrganizationName("ctseg")
    app.setApplicationName("ctseg")
    apply_dark_theme(app)
    window = MainWindow(model_path=model, preload_model=preload_model)
    window.show()
    return app, window


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight (``gc.freeze``).

    A full collection walks every tracked object while holding the GIL, so it stops the GUI thread:
    with ≈ 200 k objects (Qt, pyqtgraph, numpy, scikit-image loaded) one took 47–143 ms, and the
    longest GUI-thread gaps around a 3D rebuild were such pauses (benchmarks/bench_view.py --mesh).
    Only the benchmark calls it for now: called at the app's start-up, two responsiveness tests
    failed, and why is not yet understood.
    """
    gc.freeze()  # no gc.collect() first: a full collection is the very pause this avoids (100+ ms)


def run_viewer(
    path: str | None,
    segment: bool = False,
    screenshot: str | None = None,
    model: str | None = None,
    layout: str = "axial",
    cohort: bool = False,
    db: str | None = None,
) -> int:
    """Open the viewer, optionally on ``path`` and segmenting it once loaded, in ``layout``
    (``axial``, ``coronal``, ``sagittal``, ``1x3`` or ``2x2``); ``cohort``: with the cohort browser
    on database ``db`` (default: ``$CTSEG_DB``, else the user data folder's).

    With ``screenshot``, run unattended: open, segment if asked, save a grab of the window to
    that file and quit; any error is printed to stderr and the exit status is 1. The interactive
    viewer loads the model in the background once it is shown and idle.
    """
    app, window = _start(model, preload_model=screenshot is None)  # a scripted run loads the model if it segments
    window.set_layout(layout)
    if cohort and not window.cohort.show_browser(db):
        if screenshot is not None:
            print(f"ctseg view: {window.cohort.error}", file=sys.stderr)
            dispose(window)
            return 1
        window.report_error("Could not open the cohort database", CohortDatabaseError(None, window.cohort.error or ""))
    if screenshot is not None:
        return _run_to_screenshot(app, window, path, segment, screenshot)
    if path:
        if segment:
            window.patientLoaded.connect(window.start_segmentation, Qt.ConnectionType.SingleShotConnection)
        window.open_path(path)
    return _run_and_dispose(app, window)


def _run_to_screenshot(app: QApplication, window: MainWindow, path: str | None, segment: bool, screenshot: str) -> int:
    """Open ``path`` (segmenting it if asked), save a grab of the window once it is ready, and quit;
    any error is printed to stderr and the exit status is 1."""

    def finish(status: int, message: str | None = None) -> None:
        if message:
            print(f"ctseg view: {message}", file=sys.stderr)
        app.exit(status)

    waited = QElapsedTimer()

    def grab() -> None:
        view3d = window.plane_layout.view3d
        if not waited.isValid():
            waited.start()
        if view3d.isVisible() and not getattr(view3d, "settled", lambda: True)() and waited.elapsed() < 120_000:
            QTimer.singleShot(50, grab)  # the 3D surfaces are still being built on their worker
            return
        app.processEvents()
        saved = grab_with_gl(window).save(screenshot)
        finish(0 if saved else 1, None if saved else f"could not write the screenshot {screenshot}")

    window.show_error_dialogs = False
    window.ask_questions = False
    window.errorReported.connect(lambda message: finish(1, message))
    if path:
        window.segmentationFinished.connect(grab)
        window.patientLoaded.connect(window.start_segmentation if segment else grab)
        window.open_path(path)
    else:
        QTimer.singleShot(0, grab)
    return _run_and_dispose(app, window)


def run_demo() -> int:
    """Open the demo phantom (written under ctseg's cache folder, ~/.cache/ctseg/demo, on first use)."""
    app, window = _start(None)
    window.open_demo()
    return _run_and_dispose(app, window)


def _run_and_dispose(app: QApplication, window: MainWindow) -> int:
    """Run the event loop, then delete the window while Qt is still whole.

    Left to PySide's clean-up at exit, the objects go in no set order, and the 3D pane's GL window
    can go before its container, which then crashes (``view3d.gl_items.make_gl_view``).
    """
    status = app.exec()
    dispose(window)
    return status


def dispose(window: MainWindow) -> None:
    """Close and delete ``window`` now (see ``_run_and_dispose``); kept when its close is refused (a save runs)."""
    if not window.close():
        return
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
