"""Viewer speed: slice-change time (CT + two overlays), crosshair moves in the 1×3 layout, and
launch-to-visible-window time.

Run: ``python benchmarks/bench_view.py [--slices 100] [--launches 3] [--crosshair-only]``.
A phantom is written to a temporary folder and opened in the real main window (1400×900,
offscreen unless QT_QPA_PLATFORM says otherwise), with the liver as ground truth and a
prediction (the liver dilated and shifted) set directly on the state, overlays in the default
fill + outline style. Each slice change over every slice is timed three ways: the state update
alone (window the slice, rebuild the overlay, labels, plot marker); the update plus a
synchronous repaint of the axial view (CT and overlays on screen); and the update plus one
event-loop pass, which repaints everything that changed (plane views, slider, labels, Dice
plot) as the running app does. Launch time is a fresh Python process from
start to the shown main window, measured by the parent.

Crosshair: in the 1×3 layout (axial, coronal, sagittal side by side), with the same overlays and a
label started from the ground truth, the crosshair jumps to random voxels, so each move redraws
all three plane views (CT, GT + prediction overlay, label, crosshair lines); timed as the state
update alone, with a synchronous repaint of the three views, and with one event-loop pass. The
sagittal copies of the CT and masks (``ctseg_gui.plane_view.sagittal_copies``) and each plane's slices windowed and
overlaid ahead of time (``ctseg_gui.plane_view.slice_cache``) are made during the warm-up, as they are in the
app within about a second of the CT, window or masks last changing.

Annotator: with a label started from the ground truth and the brush (r = 5 mm) selected, a
brush stroke is a press, 8 mouse moves 4 voxels apart and a release, sent as QMouseEvents to
the axial view's viewport: each move paints the segment (``editing.paint_stroke``), recounts
the slice, redraws the label layer and updates the live Dice readouts; the release commits one
undo step. Timed per stroke (state updates only, and with one event-loop pass that repaints),
per mouse move, and the current-slice Dice alone (``metrics.dice`` on two 512² slices).
Every 20th stroke also copies the label for the autosave, as in use (its worker shares the
CPUs). The volume tools (interpolation of a label drawn on every third slice, islands, largest
piece) run once each on the whole label, in the app's three parts: the worker's share (the core
function on a copy, and finding the changed slices) and the GUI thread's (copying the label, then
writing the changed slices with their undo step), timed apart.

The launch probe also says whether TensorFlow was imported when the window was first shown (it
must not be: the model runs in its own process).

Segment (``--segment RUNS``, needs OpenGL like ``--mesh``): the longest GUI-thread gap while the
model segments a 151-slice patient (IRCAD patient 1 from ../shared/data, unzipped to a temporary
folder; a 151-slice phantom without the data) in the 2×2 layout with the 3D pane shown, the model
run in this process (``Segmenter`` on a worker thread, as before the model process) against the
model process (``ModelProcess``). Both are loaded before the timing; a QTimer ticking every 5 ms
records the gaps from the click on Segment to the prediction shown, and on for 1 s (its overlay
and its surface built and drawn).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QEventLoop, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from scipy import ndimage

from ctseg_core.metrics import (
    dice,
    score_masks,  # after the offscreen platform is set
)
from ctseg_core.synth.phantom import write_phantom
from ctseg_gui.app import freeze_heap
from ctseg_gui.main_window import MainWindow
from ctseg_gui.plane_view.sagittal_copies import SHARED
from ctseg_gui.state.editor import Tool, VolumeTool

LAUNCH_PROBE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from ctseg_gui.app import run_viewer
def visible():
    app.processEvents()
    print("visible; tensorflow imported:", "tensorflow" in sys.modules, flush=True)
    app.quit()
QTimer.singleShot(0, visible)
run_viewer(None)
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, "
        f"PySide6 {pyside_version}, pyqtgraph {pg.__version__}, QPA {os.environ['QT_QPA_PLATFORM']}"
    )


def percentiles_ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1e3:6.2f} ms   p95 {p95 * 1e3:6.2f} ms"


def open_window(folder: Path) -> tuple[QApplication, MainWindow]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(folder / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preload_model=False)  # no TensorFlow import in the timings
    window.resize(1400, 900)
    window.show()
    freeze_heap()  # as ctseg_gui.app does once the window is shown
    window.open_path(folder / "patient")
    while window.state.patient is None:
        app.processEvents()
    return app, window


def slice_changes(folder: Path, slices: int) -> dict[str, list[float]]:
    app, window = open_window(folder)
    state = window.state
    prediction = np.roll(ndimage.binary_dilation(state.gt, iterations=3), 6, axis=2)
    state.set_prediction(prediction, score_masks(state.gt, prediction, state.patient.spacing_mm))
    app.processEvents()
    ways = {
        "state update only": lambda: None,
        "update + axial view repaint": window.axial_view.viewport().repaint,
        "update + event loop (frame)": app.processEvents,
    }
    for k in range(slices):  # warm-up
        state.set_slice(k)
        app.processEvents()
    times: dict[str, list[float]] = {}
    for i, (name, finish) in enumerate(ways.items()):
        times[name] = []
        for k in range(slices) if i % 2 else reversed(range(slices)):
            started = time.perf_counter()
            state.set_slice(k)
            finish()
            times[name].append(time.perf_counter() - started)
    window.close()
    return times


def crosshair_moves(folder: Path, moves: int) -> dict[str, list[float]]:
    """Seconds per crosshair move in the 1×3 layout, three ways (see the module docstring)."""
    app, window = open_window(folder)
    window.set_layout("1x3")
    state = window.state
    prediction = np.roll(ndimage.binary_dilation(state.gt, iterations=3), 6, axis=2)
    state.set_prediction(prediction, score_masks(state.gt, prediction, state.patient.spacing_mm))
    window.annotator.actions.from_gt.trigger()
    app.processEvents()
    views = window.plane_layout.visible_views()

    def repaint() -> None:
        for view in views:
            view.viewport().repaint()

    ways = {
        "state update only": lambda: None,
        "update + 3 views repaint": repaint,
        "update + event loop (frame)": app.processEvents,
    }
    rng = np.random.default_rng(1)
    shape = state.patient.shape
    jumps = [tuple(int(rng.integers(0, n)) for n in shape) for _ in range(moves)]  # all three planes redraw
    y = shape[1] // 2  # a drag in the coronal view: z and x change, so the axial and sagittal views redraw
    drags = [(int(rng.integers(0, shape[0])), y, int(rng.integers(0, shape[2]))) for _ in range(moves)]
    for position in jumps[:10]:  # warm-up
        state.set_position(position)
        app.processEvents()
    SHARED.wait()  # the sagittal copies of the CT and masks, made in the background on first show
    for view in views:  # and each plane's slices windowed and overlaid ahead (ctseg_gui.plane_view.slice_cache)
        view.indices.wait()
    times: dict[str, list[float]] = {}
    for kind, positions in (("jump", jumps), ("coronal drag", drags)):
        for name, finish in ways.items():
            times[f"{kind}: {name}"] = samples = []
            for position in positions:
                started = time.perf_counter()
                state.set_position(position)
                finish()
                samples.append(time.perf_counter() - started)
    window.editor.history.mark_saved()
    window.close()
    return times


def brush_strokes(folder: Path, strokes: int) -> dict[str, list[float]]:
    """Seconds per brush stroke (two ways), per mouse move, per slice Dice, and per volume tool."""
    os.environ["CTSEG_CACHE"] = str(folder / "cache")  # autosaves stay in the scratch folder
    app, window = open_window(folder)
    window.autosaver.autosave_timer.stop()  # the every-20-edits autosave stays, as in use
    state, editor, view = window.state, window.editor, window.axial_view
    window.annotator.actions.from_gt.trigger()
    editor.set_tool(Tool.BRUSH)
    viewport = view.viewport()
    _, dy, dx = state.patient.spacing_mm
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind: QMouseEvent.Type, x: float, y: float, button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:
        pos = QPointF(view.mapFromScene(view.view.mapViewToScene(QPointF((x + 0.5) * dx, (y + 0.5) * dy))))
        event = QMouseEvent(
            kind, pos, QPointF(viewport.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(viewport, event)

    times: dict[str, list[float]] = {"stroke": [], "stroke + event loop": [], "mouse move": [], "slice Dice": []}
    rng = np.random.default_rng(0)
    for _i in range(strokes):
        x0, y0 = (int(v) for v in rng.integers(150, 330, size=2))
        for name in ("stroke", "stroke + event loop"):
            started = time.perf_counter()
            send(QMouseEvent.Type.MouseButtonPress, x0, y0, left, left)
            for step in range(1, 9):
                moved = time.perf_counter()
                send(QMouseEvent.Type.MouseMove, x0 + 4 * step, y0 + 2 * step, none, left)
                times["mouse move"].append(time.perf_counter() - moved)
            send(QMouseEvent.Type.MouseButtonRelease, x0 + 32, y0 + 16, left, none)
            if name == "stroke + event loop":
                app.processEvents()
            times[name].append(time.perf_counter() - started)
            editor.set_tool(Tool.ERASER if editor.tool is Tool.BRUSH else Tool.BRUSH)
        k = state.slice_index
        started = time.perf_counter()
        dice(editor.label[k], state.gt[k])
        times["slice Dice"].append(time.perf_counter() - started)
    thinned = state.gt.copy()
    thinned[1::3] = thinned[2::3] = False  # annotated every third slice
    editor.start_label(thinned, "liver", "every third slice")
    for name, tool in (
        ("interpolate", VolumeTool.INTERPOLATE),
        ("remove islands", VolumeTool.REMOVE_ISLANDS),
        ("keep largest", VolumeTool.KEEP_LARGEST),
    ):
        started = time.perf_counter()
        pending = editor.begin_volume_edit(tool, 1.0)
        copied = time.perf_counter()
        edit = pending.run()
        computed = time.perf_counter()
        editor.finish_volume_edit(pending, edit)
        times[f"{name}, worker"] = [computed - copied]
        times[f"{name}, GUI thread"] = [copied - started + time.perf_counter() - computed]
    editor.history.mark_saved()
    window.close()
    return times


def mesh_build_gaps(folder: Path, runs: int) -> None:
    """GUI-thread gaps while the 3D pane builds the liver surface on its worker, printed per run.

    Needs OpenGL: ``xvfb-run -a -s "-screen 0 1600x1200x24" env QT_QPA_PLATFORM=xcb
    python3 benchmarks/bench_view.py --mesh``. In the 2×2 layout the ground-truth surface is rebuilt
    ``runs`` times; a QTimer ticking every 5 ms on the GUI thread records the gaps between its
    ticks from the rebuild's start until 1 s after the mesh is shown (so the first frames that
    upload and draw it count too), and apart the largest gap while the worker builds (until the mesh
    is handed over, before any frame draws it). Three surfaces are shown, as after Segment with a
    label started: the ground truth, a prediction (the liver dilated and shifted) and the label.
    The worker's own time (``SurfaceView.build_seconds``), the per-surface triangle budget of this
    renderer and the time of one synchronous frame of the 3D view (``grabFramebuffer``: the GL draw
    of every surface shown plus a read-back of the pixels, an upper bound) are printed beside them.
    """
    from ctseg_gui.view3d.surface_view import SurfaceView

    app, window = open_window(folder)
    window.set_layout("2x2")
    pane = window.plane_layout.view3d
    if not isinstance(pane, SurfaceView):
        raise SystemExit(f"no 3D view here: {getattr(pane, 'text', lambda: '?')()}")
    state = window.state
    while "gt" not in pane.meshes:  # the first build, from opening the patient, is a warm-up
        app.processEvents()
    prediction = np.roll(ndimage.binary_dilation(state.gt, iterations=3), 6, axis=2)
    state.set_prediction(prediction, score_masks(state.gt, prediction, state.patient.spacing_mm))
    window.annotator.actions.from_gt.trigger()
    while not {"prediction", "label"} <= set(pane.meshes):
        app.processEvents()
    voxels = int(np.count_nonzero(state.gt))
    litres = voxels * float(np.prod(state.patient.spacing_mm)) / 1e6
    print(
        f"3D build: ground truth {litres:.2f} L ({voxels} voxels) on {'×'.join(map(str, state.gt.shape))}, "
        f"3D pane {pane.gl_view.width()}×{pane.gl_view.height()}, surfaces shown: {', '.join(sorted(pane.meshes))} "
        f"(budget {pane.max_triangles} triangles each), {runs} rebuilds:"
    )
    settle = time.perf_counter()
    while time.perf_counter() - settle < 1.0:  # ... and so are its first frames
        app.processEvents()
    for run in range(1, runs + 1):
        gaps: list[float] = []
        last = [time.perf_counter()]

        ends: list[float] = []

        def tick(gaps: list[float] = gaps, last: list[float] = last, ends: list[float] = ends) -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            ends.append(now)
            last[0] = now

        loop = QEventLoop()
        shown: list[float] = []

        def on_ready(layer: str, loop: QEventLoop = loop, shown: list[float] = shown) -> None:
            if layer == "gt" and not shown:
                shown.append(time.perf_counter())
                QTimer.singleShot(1000, loop.quit)  # the frames that upload and draw the mesh count too

        pane.meshReady.connect(on_ready)
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(5)
        timer.timeout.connect(tick)
        timer.start()
        started = time.perf_counter()
        QTimer.singleShot(0, lambda: pane.invalidate("gt"))
        loop.exec()
        timer.stop()
        pane.meshReady.disconnect(on_ready)
        mesh = pane.meshes["gt"]
        building = [gap for gap, end in zip(gaps, ends, strict=True) if end <= shown[0]]  # before its first draw
        print(
            f"  run {run}: worker build {pane.build_seconds['gt']:.2f} s, shown after {shown[0] - started:.2f} s, "
            f"{mesh.triangle_count} triangles; GUI-thread gap median {statistics.median(gaps) * 1e3:.1f} ms, "
            f"max {max(gaps) * 1e3:.1f} ms ({len(gaps)} ticks); while building, until shown: "
            f"max {max(building, default=0.0) * 1e3:.1f} ms"
        )
    frames = []
    for _ in range(10):
        started = time.perf_counter()
        pane.gl_view.grabFramebuffer()  # one synchronous frame: the GL draw of every mesh shown, read back
        frames.append(time.perf_counter() - started)
    triangles = sum(mesh.triangle_count for mesh in pane.meshes.values())
    print(f"  one frame of the 3D view ({triangles} triangles, draw + read-back): {percentiles_ms(frames)}")
    window.editor.history.mark_saved()
    window.close()


def segment_patient(folder: Path) -> str:
    """Put the patient to segment at ``folder / "patient"``: IRCAD patient 1 unzipped, else a phantom."""
    zipped = Path(__file__).resolve().parents[2] / "shared" / "data" / "3Dircadb1" / "3Dircadb1.1"
    if not zipped.is_dir():
        write_phantom(folder / "patient", seed=0, slices=151)
        return "a 151-slice phantom (IRCAD data absent)"
    import zipfile

    for name in ("PATIENT_DICOM.zip", "MASKS_DICOM.zip"):
        with zipfile.ZipFile(zipped / name) as archive:
            archive.extractall(folder / "patient")
    return "IRCAD patient 1"


def segment_gaps(folder: Path, runs: int) -> None:
    """GUI-thread gaps while Segment runs with the 3D pane shown: the model in this process against
    the model process, ``runs`` times each, alternating (see the module's docstring)."""
    from ctseg_core.engine import ModelProcess
    from ctseg_core.model.inference import Segmenter
    from ctseg_gui.jobs.segmentation import MODEL_PROCESS_NICE, SegmenterCache
    from ctseg_gui.view3d.surface_view import SurfaceView

    what = segment_patient(folder)
    app, window = open_window(folder)
    window.set_layout("2x2")
    if not isinstance(window.plane_layout.view3d, SurfaceView):
        raise SystemExit("no 3D view here: run under xvfb-run with QT_QPA_PLATFORM=xcb")
    process = ModelProcess(nice=MODEL_PROCESS_NICE).start()  # as the viewer makes it
    engines = {
        "in this process": SegmenterCache(lambda path: Segmenter.load(path)),
        "model process": SegmenterCache(process.segmenter),
    }
    for cache in engines.values():
        print(f"  loaded: {type(cache.get(None)).__name__} on {cache.get(None).backend}", flush=True)
    shape = "×".join(map(str, window.state.patient.hu.shape))
    print(f"Segment with the 3D pane shown (2×2 layout), {what}, {shape}, {runs} runs each:")
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in engines}
    for _ in range(runs):
        for name, cache in engines.items():
            window.segmentation.segmenters = cache
            results[name].append(one_segment_gaps(app, window))
    for name, rows in results.items():
        cells = "; ".join(f"{s:.1f} s, max {a * 1e3:.0f} / {b * 1e3:.0f} ms" for s, a, b in rows)
        print(f"  {name:<16} segment time, longest gap until shown / incl. the next 1 s: {cells}")
    process.close()
    window.editor.history.mark_saved()
    window.close()


def one_segment_gaps(app: QApplication, window: MainWindow) -> tuple[float, float, float]:
    """Seconds from Segment to the prediction shown, the longest gap until then, and until 1 s later."""
    settle = time.perf_counter()
    while time.perf_counter() - settle < 1.0:
        app.processEvents()
    gaps: list[tuple[float, float]] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0], now))
        last[0] = now

    loop = QEventLoop()
    shown: list[float] = []

    def on_finished() -> None:
        shown.append(time.perf_counter())
        QTimer.singleShot(1000, loop.quit)

    window.segmentationFinished.connect(on_finished)
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    started = time.perf_counter()
    QTimer.singleShot(0, window.segmentation_panel.segment.click)
    loop.exec()
    timer.stop()
    window.segmentationFinished.disconnect(on_finished)
    until_shown = max((gap for gap, end in gaps if end <= shown[0]), default=0.0)
    return shown[0] - started, until_shown, max(gap for gap, _ in gaps)


def launch_seconds(launches: int, folder: Path) -> tuple[list[float], bool]:
    """Seconds from a fresh process to its shown window, and whether any run had TensorFlow by then."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(folder / "config")}
    times, tensorflow = [], False
    for _ in range(launches):
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", LAUNCH_PROBE], check=True, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - started)
        tensorflow |= "tensorflow imported: True" in run.stdout
    return times, tensorflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--strokes", type=int, default=50)
    parser.add_argument("--moves", type=int, default=100, help="crosshair moves in the 1×3 layout")
    parser.add_argument("--crosshair-only", action="store_true", help="time the crosshair moves only")
    parser.add_argument(
        "--mesh",
        type=int,
        nargs="?",
        const=3,
        default=0,
        metavar="RUNS",
        help="only the GUI-thread gaps while the 3D pane builds the liver surface (needs OpenGL)",
    )
    parser.add_argument(
        "--segment",
        type=int,
        nargs="?",
        const=3,
        default=0,
        metavar="RUNS",
        help="only the GUI-thread gaps while segmenting with the 3D pane shown, in-process model against "
        "the model process (needs OpenGL)",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.environ["CTSEG_CACHE"] = str(folder / "cache")  # autosaves stay in the scratch folder
        if args.segment:
            segment_gaps(folder, args.segment)
            return
        write_phantom(folder / "patient", seed=0, slices=args.slices)
        if args.mesh:
            mesh_build_gaps(folder, args.mesh)
            return
        moves = crosshair_moves(folder, args.moves)
        print(
            f"crosshair move, 1×3 layout, {args.slices} slices of 512×512, CT + GT + prediction + label, "
            f"window 1400×900, {args.moves} moves:"
        )
        for name, seconds in moves.items():
            print(f"  {name:<42} {percentiles_ms(seconds)}")
        if args.crosshair_only:
            return
        times = slice_changes(folder, args.slices)
        print(f"slice change, {args.slices} slices of 512×512, CT + GT + prediction, window 1400×900:")
        for name, seconds in times.items():
            print(f"  {name:<28} {percentiles_ms(seconds)}")
        strokes = brush_strokes(folder, args.strokes)
        print(
            f"annotator, 512×512 slices, brush r = 5 mm, label from the ground truth, {args.strokes} strokes "
            f"of 8 moves each way:"
        )
        for name, seconds in strokes.items():
            print(f"  {name:<28} {percentiles_ms(seconds)}")
        launches, tensorflow = launch_seconds(args.launches, folder)
        print(
            f"launch to visible window: median {statistics.median(launches):.2f} s "
            f"(fresh process, {args.launches} runs: {', '.join(f'{t:.2f}' for t in launches)} s); "
            f"TensorFlow imported by then: {'yes' if tensorflow else 'no'}"
        )


if __name__ == "__main__":
    main()
