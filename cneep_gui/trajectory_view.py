"""Trajectories where a movie would be: coordinates (or the state) against time, and the track in the plane
for 2-D tracks, with a cursor at the frame the timeline points to.

Long series stay fluid: pyqtgraph draws only the visible range, peak-downsampled to the screen's width.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal

from cneep_engine import Trajectories

MAX_CURVES = 8          # more coordinates than this would be an unreadable tangle; the rest are listed as hidden
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


class TrajectoryView(pg.GraphicsLayoutWidget):
    frameRequested = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.series = self.addPlot(row=0, col=0, title="Trajectory")
        self.series.setLabel("bottom", "time", units="s")
        self.series.addLegend(offset=(5, 5))
        self.series.showGrid(x=True, y=True, alpha=0.2)
        self.series.setClipToView(True)
        self.series.setDownsampling(auto=True, mode="peak")
        self.cursor = pg.InfiniteLine(0, movable=True, pen=pg.mkPen("#ff7f0e", width=2))
        self.series.addItem(self.cursor)
        self.plane = self.addPlot(row=0, col=1, title="Track in the plane")
        self.plane.setAspectLocked(True)
        self.plane.showGrid(x=True, y=True, alpha=0.2)
        self.track = self.plane.plot(pen=pg.mkPen("#1f77b4", width=1))
        self.here = self.plane.plot(pen=None, symbol="o", symbolSize=10, symbolBrush="#ff7f0e")
        self.curves: list[pg.PlotDataItem] = []
        self.data: Trajectories | None = None
        self.index, self.dt = -1, 1.0
        self.cursor.sigDragged.connect(lambda line: self.frameRequested.emit(round(line.value() / self.dt)))

    def set_data(self, data: Trajectories) -> None:
        """Show a new set of trajectories; the curves are built when a trajectory is first shown."""
        self.data, self.index, self.dt = data, -1, data.dt
        self.series.clear()
        self.series.legend.clear()
        self.series.addItem(self.cursor)
        states = data.kind == "states"
        n = 1 if states else min(data.n_coordinates, MAX_CURVES)
        names = ["state"] if states else data.coordinate_labels[:n]
        # Steps, not lines, for discrete states: a jump happens between two frames, not along a slope.
        self.curves = [self.series.plot(pen=pg.mkPen(_COLOURS[i % len(_COLOURS)], width=1), name=name,
                                        stepMode="left" if states else None) for i, name in enumerate(names)]
        hidden = 0 if states else data.n_coordinates - n
        self.series.setTitle(f"Trajectory ({hidden} more coordinates not drawn)" if hidden else "Trajectory")
        self.series.setLabel("left", "state" if states else "coordinate")
        if states and data.labels:
            self.series.getAxis("left").setTicks([list(enumerate(str(v) for v in data.labels))])
        else:
            self.series.getAxis("left").setTicks(None)
        self.plane.setVisible(not states and data.n_coordinates == 2)

    def set_dt(self, dt: float) -> None:
        self.dt, self.index = dt, -1     # redraw against the new time axis at the next position

    def show_position(self, index: int, frame: int) -> None:
        """Trajectory `index`, with the cursor at `frame`."""
        data = self.data
        if data is None:
            return
        values = data.data[index]
        if index != self.index:
            self.index = index
            t = np.arange(data.n_frames) * self.dt
            columns = values[:, None] if values.ndim == 1 else values
            for i, curve in enumerate(self.curves):
                curve.setData(t, columns[:, i])
            if self.plane.isVisible():
                self.track.setData(values[:, 0], values[:, 1])
        self.cursor.setValue(frame * self.dt)
        if self.plane.isVisible():
            self.here.setData([values[frame, 0]], [values[frame, 1]])
