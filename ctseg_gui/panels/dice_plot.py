"""Per-slice Dice along z: where along the scan the prediction goes wrong, one click away.

The plot moves its slice marker on every slice change and crosshair move. Repainting a strip of a
pyqtgraph scene costs ≈ 1.7 ms a move, most of a 10 ms frame budget, even for a plain line item
(measured in the 1×3 layout), so the marker is not in the scene: the view keeps the scene's last
picture in a pixmap, repaints from it, and draws the marker on top. The picture is remade only
when the scene changes (new scores, a resize).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView, QWidget

from ctseg_core.display import palette
from ctseg_gui.state.viewer import ViewerState

MARKER_RGB = (240, 192, 0)


class DicePlot(pg.PlotWidget):
    """Dice per slice (slices numbered from 1, as in the slice label); NaN slices leave gaps.

    Clicking the plot jumps to the nearest slice, and dragging scrubs through the volume; the
    vertical marker follows the current slice.
    """

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="#1e1e1e")
        self.state = state
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.showGrid(x=False, y=True, alpha=0.25)
        plot.setLabel("bottom", "axial slice")
        self.setToolTip("Dice per axial slice (along z), in every layout: click to go to that axial slice")
        plot.setLabel("left", "Dice")
        plot.setYRange(0.0, 1.05, padding=0.0)
        self.curve = plot.plot(
            [],
            [],
            pen=pg.mkPen(palette.TRUE_POSITIVE, width=1.5),
            symbol="o",
            symbolSize=4,
            symbolBrush=palette.TRUE_POSITIVE,
            symbolPen=None,
            antialias=True,
        )
        drawn = (self.curve.curve, self.curve.scatter, plot.getAxis("left"), plot.getAxis("bottom"))
        for item in drawn:  # the slice marker moves over cached pictures: no antialiased redraw per move
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.marker_slice: int | None = None  # the slice the marker is at (numbered from 1); None: no marker
        self._marker_pen = QPen(pg.mkColor(MARKER_RGB), 1.5)
        self._picture: QPixmap | None = None  # the scene's last picture, without the marker
        self._rendering = False
        self.scene().changed.connect(self._scene_changed)
        self.placeholder = pg.TextItem("per-slice Dice appears after segmenting", color="#8a8a8a", anchor=(0.5, 0.5))
        self.placeholder.setPos(0.5, 0.5)
        plot.addItem(self.placeholder)
        plot.setXRange(0.0, 1.0, padding=0.0)
        plot.getAxis("bottom").setStyle(showValues=False)  # no slices to number yet
        self.setMinimumHeight(120)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.scene().sigMouseClicked.connect(self._on_clicked)
        state.patientChanged.connect(self._on_patient_changed)
        state.scoresChanged.connect(self._on_scores_changed)
        state.sliceChanged.connect(self._on_slice_changed)

    def sizeHint(self) -> QSize:
        """Small, so the side panel fits short screens; the layout gives it any spare height."""
        return QSize(280, 140)

    def _on_patient_changed(self) -> None:
        self.getPlotItem().setXRange(0.5, self.state.depth + 0.5, padding=0.0)
        self.getPlotItem().getAxis("bottom").setStyle(showValues=True)
        self.placeholder.setPos((self.state.depth + 1) / 2, 0.5)
        self._on_slice_changed()

    def _on_scores_changed(self) -> None:
        dice = self.state.scores.per_slice_dice
        self.placeholder.setVisible(dice is None)
        if dice is None:
            self.curve.setData([], [])
        else:
            slices = np.arange(1, dice.size + 1)
            defined = np.isfinite(dice)
            self.curve.setData(slices[defined], dice[defined], connect=_runs(defined))

    def _on_slice_changed(self) -> None:
        old = self._marker_x()
        self.marker_slice = self.state.slice_index + 1 if self.state.patient is not None else None
        new = self._marker_x()
        for x in (old, new):  # only the two strips the marker leaves and enters
            if x is not None:
                self.viewport().update(round(x) - 3, 0, 6, self.viewport().height())

    def _on_clicked(self, event: MouseClickEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._go_to(self.getPlotItem().vb.mapSceneToView(event.scenePos()).x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """A left drag scrubs through the slices."""
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go_to(self.getPlotItem().vb.mapSceneToView(self.mapToScene(event.position().toPoint())).x())
        super().mouseMoveEvent(event)

    def _go_to(self, slice_number: float) -> None:
        if self.state.patient is not None:
            self.state.set_slice(min(max(round(slice_number), 1), self.state.depth) - 1)

    # ---------------------------------------------------------------- drawing

    def _marker_x(self) -> float | None:
        """The marker's x in viewport pixels."""
        if self.marker_slice is None:
            return None
        scene = self.getPlotItem().vb.mapViewToScene(QPointF(self.marker_slice, 0.0))
        return float(self.mapFromScene(scene).x())

    def _scene_changed(self, _regions: object = None) -> None:
        if not self._rendering:
            self._picture = None
            self.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._picture = None

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._picture is None or self._picture.devicePixelRatio() != self.viewport().devicePixelRatioF():
            self._render_picture()  # new, or the window moved to a screen of another pixel ratio
        assert self._picture is not None
        painter = QPainter(self.viewport())
        painter.drawPixmap(QRectF(event.rect()), self._picture, self._device_rect(event))
        x = self._marker_x()
        if x is not None:
            painter.setPen(self._marker_pen)
            painter.drawLine(QLineF(x, 0.0, x, float(self.viewport().height())))
        painter.end()

    def _render_picture(self) -> None:
        viewport = self.viewport()
        ratio = viewport.devicePixelRatioF()
        picture = QPixmap(max(1, round(viewport.width() * ratio)), max(1, round(viewport.height() * ratio)))
        picture.setDevicePixelRatio(ratio)
        picture.fill(pg.mkColor("#1e1e1e"))
        # Items that update while drawn (pyqtgraph's prepareForPaint) must not throw the picture away. The
        # scene reports them later, from a call it queues at once, so the flag is cleared by a call queued after.
        self._rendering = True
        self.scene().prepareForPaint()  # what pyqtgraph's own paintEvent does first
        painter = QPainter(picture)
        painter.setRenderHints(self.renderHints())
        try:
            QGraphicsView.render(
                self,
                painter,
                QRectF(0, 0, viewport.width(), viewport.height()),
                viewport.rect(),
                Qt.AspectRatioMode.IgnoreAspectRatio,
            )
        finally:
            painter.end()
            QTimer.singleShot(0, self._rendered)
        self._picture = picture

    def _rendered(self) -> None:
        self._rendering = False

    def _device_rect(self, event: QPaintEvent) -> QRectF:
        rect, ratio = event.rect(), self._picture.devicePixelRatio() if self._picture is not None else 1.0
        return QRectF(rect.x() * ratio, rect.y() * ratio, rect.width() * ratio, rect.height() * ratio)


def _runs(defined: np.ndarray) -> np.ndarray:
    """Connect flags for the defined points: a line joins neighbours only where no slice is undefined between."""
    index = np.flatnonzero(defined)
    return np.append(np.diff(index) == 1, False)
