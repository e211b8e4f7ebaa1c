"""Live training curves (EP rate and loss against iteration) and the cumulative EP trace under the movie."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from cneep_engine import GroundTruth, Progress

_TRAIN, _VAL = pg.mkPen("#9a9a9a", width=1.5), pg.mkPen("#1f77b4", width=2)
_SIGMA = pg.mkPen("#2ca02c", width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine)
_CEILING = pg.mkPen("#d62728", width=1.5, style=pg.QtCore.Qt.PenStyle.DotLine)
_REACHABLE = pg.mkPen("#9467bd", width=1.5, style=pg.QtCore.Qt.PenStyle.DashDotLine)


class TrainingPlots(QWidget):
    """EP-rate estimate (training batches and validation) and loss against iteration, per seed, in two tabs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rate = pg.PlotWidget(title="EP rate estimate")
        self.rate.setLabel("left", "EP rate", units="k_B/s")
        self.rate.setLabel("bottom", "iteration")
        self.loss = pg.PlotWidget(title="Loss")
        self.loss.setLabel("left", "NEEP loss")
        self.loss.setLabel("bottom", "iteration")
        self.loss.setXLink(self.rate)
        # The rate climbs to the exact values' lines and labels at the top right, the loss falls away from it.
        for p, offset in ((self.rate, (-5, -5)), (self.loss, (-5, 5))):
            p.addLegend(offset=offset, brush=pg.mkBrush(0, 0, 0, 160))
            p.showGrid(x=True, y=True, alpha=0.2)
        # Tabs, not a stack: only the plot in view repaints at each training event, which halves the GUI
        # thread's work per event on a busy CPU.
        self.tabs = QTabWidget()
        self.tabs.addTab(self.rate, "EP rate")
        self.tabs.addTab(self.loss, "Loss")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._points: dict[int, dict[str, list]] = {}
        self._curves: dict[int, dict[str, pg.PlotDataItem]] = {}
        self.truth_lines: list[pg.InfiniteLine] = []

    def reset(self, truth: GroundTruth | None) -> None:
        """Empty plots; with ground truth, the exact EP rate and the two-frame ceiling as lines (and, for
        partially observed data, at the first validation, the best rate an estimator of these windows can reach)."""
        for p in (self.rate, self.loss):
            p.clear()
            p.plotItem.legend.clear()
        self._points, self._curves = {}, {}
        # The first seed's curves and legend exist before training starts: adding them at the first
        # validation would re-lay out both plots in the middle of a run, a visible stall.
        self._new_curves(0, named=True)
        self.truth_lines = []
        # Partially observed data: the best rate reachable from the windows seen comes with the first validation.
        self._reachable = truth is not None and truth.observed_window_ep is not None
        if truth is not None:
            # sigma_2pt <= sigma: the exact value's label sits above its line, the ceiling's below.
            self._truth_line(truth.sigma, _SIGMA, "σ exact", (1, 1))
            self._truth_line(truth.sigma_2pt, _CEILING, "σ two-frame", (1, 0))

    def _new_curves(self, seed_index: int, named: bool) -> None:
        names = ("training", "validation") if named else (None, None)
        self._curves[seed_index] = {"tr": self.rate.plot(pen=_TRAIN, name=names[0]),
                                    "vr": self.rate.plot(pen=_VAL, name=names[1]),
                                    "tl": self.loss.plot(pen=_TRAIN, name=names[0]),
                                    "vl": self.loss.plot(pen=_VAL, name=names[1])}

    def _truth_line(self, value: float, pen, name: str, anchor: tuple[int, int], position: float = 0.95) -> None:
        line = pg.InfiniteLine(value, angle=0, pen=pen, label=f"{name} = {value:.4g}",
                               labelOpts={"position": position, "color": pen.color(), "anchors": [anchor, anchor]})
        self.rate.addItem(line)
        self.truth_lines.append(line)

    def add(self, ev: Progress) -> None:
        if ev.val_rate is None:
            return
        if self._reachable and ev.val_truth_rate is not None:
            self._reachable = False
            self._truth_line(ev.val_truth_rate, _REACHABLE, "best reachable from these windows", (0, 1), 0.05)
        pts = self._points.setdefault(ev.seed_index, {k: [] for k in ("it", "tr", "vr", "tl", "vl")})
        for key, v in zip(pts, (ev.iteration, ev.train_rate, ev.val_rate, ev.train_loss, ev.val_loss)):
            pts[key].append(v)
        if ev.seed_index not in self._curves:
            self._new_curves(ev.seed_index, named=False)
        for key, curve in self._curves[ev.seed_index].items():
            curve.setData(pts["it"], pts[key])

    def curve_data(self, which: str, seed_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, values) drawn for 'tr', 'vr', 'tl' or 'vl'; one curve per seed."""
        return self._curves[seed_index][which].getData()


class TracePlot(pg.PlotWidget):
    """Cumulative EP along the movie shown, with a cursor that follows (and drags) the frame."""

    frameRequested = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent, title="Cumulative EP")
        self.setLabel("left", "cumulative EP", units="k_B")
        self.setLabel("bottom", "time", units="s")
        self.addLegend(offset=(5, 5))
        self.showGrid(x=True, y=True, alpha=0.2)
        self.predicted = self.plot(pen=_VAL, name="estimated")
        self.truth = self.plot(pen=_SIGMA, name="exact")
        self.cursor = pg.InfiniteLine(0, movable=True, pen=pg.mkPen("#ff7f0e", width=2))
        self.addItem(self.cursor)
        self.dt = 1.0
        self.cursor.sigDragged.connect(lambda line: self.frameRequested.emit(round(line.value() / self.dt)))

    def set_trace(self, t: np.ndarray | None, cumulative: np.ndarray | None, true: np.ndarray | None,
                  dt: float) -> None:
        self.dt = dt
        self.predicted.setData([] if t is None else t, [] if cumulative is None else cumulative)
        self.truth.setData([] if true is None else t, [] if true is None else true)
        self.truth.setVisible(true is not None)

    def set_frame(self, frame: int) -> None:
        self.cursor.setValue(frame * self.dt)
