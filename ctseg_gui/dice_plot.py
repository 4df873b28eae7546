"""Per-slice Dice along z: where along the scan the prediction goes wrong, one click away."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QGraphicsItem, QWidget

from .overlay import TP_RGB
from .state import ViewerState

MARKER_RGB = (240, 192, 0)


class DicePlot(pg.PlotWidget):
    """Dice per slice (slices numbered from 1, as in the slice label); NaN slices leave gaps.

    Clicking the plot jumps to the nearest slice; the vertical marker follows the current
    slice and can be dragged to scrub through the volume.
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
            [], [], pen=pg.mkPen(TP_RGB, width=1.5), symbol="o", symbolSize=4,
            symbolBrush=TP_RGB, symbolPen=None, antialias=True,
        )
        drawn = (self.curve.curve, self.curve.scatter, plot.getAxis("left"), plot.getAxis("bottom"))
        for item in drawn:  # the slice marker moves over cached pictures: no antialiased redraw per move
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.marker = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(MARKER_RGB, width=1.5))
        self.marker.setHoverPen(pg.mkPen(MARKER_RGB, width=3))
        self.marker.hide()
        plot.addItem(self.marker)
        self.placeholder = pg.TextItem("per-slice Dice appears after segmenting", color="#8a8a8a", anchor=(0.5, 0.5))
        self.placeholder.setPos(0.5, 0.5)
        plot.addItem(self.placeholder)
        plot.setXRange(0.0, 1.0, padding=0.0)
        plot.getAxis("bottom").setStyle(showValues=False)  # no slices to number yet
        self.setMinimumHeight(120)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.marker.sigDragged.connect(lambda line: state.set_slice(round(line.value()) - 1))
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
        self.marker.setBounds((1, self.state.depth))
        self.marker.show()

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
        self.marker.setValue(self.state.slice_index + 1)

    def _on_clicked(self, event: MouseClickEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.state.patient is None:
            return
        point = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.state.set_slice(round(point.x()) - 1)


def _runs(defined: np.ndarray) -> np.ndarray:
    """Connect flags for the defined points: a line joins neighbours only where no slice is undefined between."""
    index = np.flatnonzero(defined)
    return np.append(np.diff(index) == 1, False)
