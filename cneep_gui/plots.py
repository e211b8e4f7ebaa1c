"""Live training curves (EP rate and loss against iteration; for the model-known estimators the bounds that
bracket the rate, with the band between them) and the cumulative EP trace under the movie."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from cneep_engine import GroundTruth, Progress

# Light enough to read on the plots' black background.
_TRAIN, _VAL = pg.mkPen("#9a9a9a", width=1.5), pg.mkPen("#3d9be9", width=2)
_SIGMA = pg.mkPen("#5fd35f", width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine)
_CEILING = pg.mkPen("#ff6b6b", width=1.5, style=pg.QtCore.Qt.PenStyle.DotLine)
_REACHABLE = pg.mkPen("#c39bf0", width=1.5, style=pg.QtCore.Qt.PenStyle.DashDotLine)
_BOUNDS = {"lo": ("lower bound", pg.mkPen("#f0a030", width=1.5)), "up": ("upper bound", pg.mkPen("#e377c2", width=1.5))}
_BAND = pg.mkBrush(240, 160, 48, 45)
_EARLIER = pg.mkPen("#8fb3ff", width=1.5, style=pg.QtCore.Qt.PenStyle.DashDotDotLine)
_LABEL_FILL = pg.mkBrush(0, 0, 0, 200)
# The parts of a movie's trace: windows trained on (their EP can run high) and validation tinted, the held-out
# test windows left clear.
_PART_SHADE = {"train": ("trained on", pg.mkBrush(154, 154, 154, 45)),
               "val": ("validation", pg.mkBrush(61, 155, 233, 35)), "test": ("held out", pg.mkBrush(None))}
LEGEND_ROW = 42        # pixels: the title row, which holds the legend


def _plain_axis(plot: pg.PlotWidget, side: str, label: str, units: str = "") -> None:
    """An axis without pyqtgraph's automatic SI prefix: it would turn k_B/s into "kk_B/s" and write a huge
    early loss as "(x1e+27)" beside the label; large values get their exponent in the tick labels instead."""
    axis = plot.getAxis(side)
    axis.enableAutoSIPrefix(False)
    plot.setLabel(side, f"{label} ({units})" if units else label)


class TrainingPlots(QWidget):
    """EP-rate estimate (training batches and validation) and loss against iteration, per seed, in two tabs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        # The tabs name the plots; the legends take the title row, so they never cover a curve or the exact
        # values' labels.
        self.rate, self.loss = pg.PlotWidget(), pg.PlotWidget()
        _plain_axis(self.rate, "left", "EP rate", "k_B/s")
        _plain_axis(self.loss, "left", "training loss")  # the method's own objective: NEEP's, EPR-Net's, the score's
        for p in (self.rate, self.loss):
            p.setLabel("bottom", "iteration")
            p.setTitle(" ")
            p.plotItem.layout.setRowFixedHeight(0, LEGEND_ROW)
            legend = pg.LegendItem(colCount=2, offset=None)
            legend.setParentItem(p.plotItem)
            legend.anchor((1, 0), (1, 0), offset=(-10, 0))
            p.plotItem.legend = legend
            p.showGrid(x=True, y=True, alpha=0.2)
        self.loss.setXLink(self.rate)
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
        self.bands: dict[int, pg.FillBetweenItem] = {}
        self.truth_lines: list[pg.InfiniteLine] = []

    def reset(self, truth: GroundTruth | None, earlier: dict[str, tuple[float, float | None]] | None = None,
              ceiling: bool = True) -> None:
        """Empty plots; with ground truth, the exact EP rate and (with `ceiling`: for an estimator of transitions,
        not a model-known one) the two-frame ceiling as lines (and, for partially observed data, at the first
        validation, the best rate an estimator of these windows can reach).
        `earlier` (method: (rate, error)) are other methods' results on the same input, drawn as lines so that a
        new estimate is read against them: NEEP's lower bound inside EPR-Net's bracket, say."""
        for p in (self.rate, self.loss):
            p.clear()
            p.plotItem.legend.clear()
        self._points, self._curves, self.bands = {}, {}, {}
        # The first seed's curves and legend exist before training starts: adding them at the first
        # validation would re-lay out both plots in the middle of a run, a visible stall.
        self._new_curves(0, named=True)
        self.truth_lines = []
        # Partially observed data: the best rate reachable from the windows seen comes with the first validation.
        self._reachable = truth is not None and truth.observed_window_ep is not None
        if truth is not None:
            # Both labels sit above their lines: an estimate converges from below onto the ceiling, and a label
            # under it would be where the curve ends; sigma_2pt <= sigma keeps the two labels apart. A sigma that
            # holds EP these data cannot show (`hidden`) is no target and gets no line.
            if "hidden" not in truth.params:
                self._truth_line(truth.sigma, _SIGMA, "σ exact", (1, 1))
            if ceiling and truth.params.get("sigma_2pt_exact", True):   # some systems have no exact ceiling
                self._truth_line(truth.sigma_2pt, _CEILING, "σ two-frame", (1, 1), 0.6)
        for i, (method, (rate, err)) in enumerate(sorted((earlier or {}).items())):
            self._truth_line(rate, _EARLIER, f"{method} (earlier run)", (0, 0), 0.05 + 0.3 * (i % 3), err)

    def _new_curves(self, seed_index: int, named: bool) -> None:
        names = ("training", "validation") if named else (None, None)
        self._curves[seed_index] = {"tr": self.rate.plot(pen=_TRAIN, name=names[0]),
                                    "vr": self.rate.plot(pen=_VAL, name=names[1]),
                                    "tl": self.loss.plot(pen=_TRAIN, name=names[0]),
                                    "vl": self.loss.plot(pen=_VAL, name=names[1])}

    def _truth_line(self, value: float, pen, name: str, anchor: tuple[int, int], position: float = 0.95,
                    err: float | None = None) -> None:
        label = f"{name} = {value:.4g}" + (f" ± {err:.2g}" if err else "")
        line = pg.InfiniteLine(value, angle=0, pen=pen, label=label,
                               labelOpts={"position": position, "color": pen.color(), "fill": _LABEL_FILL,
                                          "anchors": [anchor, anchor]})
        # Behind the curves, label included: no label's box may hide a curve.
        line.setZValue(-1)
        self.rate.addItem(line)
        self.truth_lines.append(line)

    def add(self, ev: Progress) -> None:
        if ev.val_rate is None:
            return
        if self._reachable and ev.val_truth_rate is not None:
            self._reachable = False
            self._truth_line(ev.val_truth_rate, _REACHABLE, "best reachable from these windows", (0, 1), 0.05)
        pts = self._points.setdefault(ev.seed_index, {k: [] for k in ("it", "tr", "vr", "tl", "vl", "lo", "up")})
        for key, v in zip(pts, (ev.iteration, ev.train_rate, ev.val_rate, ev.train_loss, ev.val_loss, ev.val_lower,
                                ev.val_upper)):
            pts[key].append(np.nan if v is None else v)
        if ev.seed_index not in self._curves:
            self._new_curves(ev.seed_index, named=False)
        self._bound_curves(ev)
        for key, curve in self._curves[ev.seed_index].items():
            curve.setData(pts["it"], pts[key])

    def _bound_curves(self, ev: Progress) -> None:
        """The bounds' curves of a model-known estimator, from the first validation that reports one, and the band
        between them once there are two."""
        curves = self._curves[ev.seed_index]
        for key, value in (("lo", ev.val_lower), ("up", ev.val_upper)):
            if value is not None and key not in curves:
                name, pen = _BOUNDS[key]
                curves[key] = self.rate.plot(pen=pen, name=name if ev.seed_index == 0 else None, connect="finite")
        if "lo" in curves and "up" in curves and ev.seed_index not in self.bands:
            self.bands[ev.seed_index] = pg.FillBetweenItem(curves["lo"], curves["up"], brush=_BAND)
            self.rate.addItem(self.bands[ev.seed_index])

    def curve_data(self, which: str, seed_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, values) drawn for 'tr', 'vr', 'tl', 'vl', or the bounds 'lo' and 'up'; one curve per seed."""
        return self._curves[seed_index][which].getData()


NO_TRACE = "Train a model or open a run to see the cumulative EP here"
UNRESOLVED = ("No EP per transition: these frames are too far apart to resolve single transitions\n"
              "(the estimate from snapshots is in the results)")


class TracePlot(pg.PlotWidget):
    """Cumulative EP along the movie shown, with a cursor that follows (and drags) the frame."""

    frameRequested = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent, title="Cumulative EP")
        _plain_axis(self, "left", "cumulative EP", "k_B")
        self.setLabel("bottom", "time", units="s")
        self.legend = self.addLegend(offset=(5, 5), brush=pg.mkBrush(0, 0, 0, 160))
        self.showGrid(x=True, y=True, alpha=0.2)
        self.predicted = self.plot(pen=_VAL, name="estimated")
        self.truth = self.plot(pen=_SIGMA)      # in the legend only while there is an exact trace
        self.empty = pg.TextItem(NO_TRACE, color="#9a9a9a", anchor=(0.5, 0.5))
        self.addItem(self.empty, ignoreBounds=True)
        self.cursor = pg.InfiniteLine(0, movable=True, pen=pg.mkPen("#ff7f0e", width=2))
        self.addItem(self.cursor)
        self.dt = 1.0
        self.cursor.sigDragged.connect(lambda line: self.frameRequested.emit(round(line.value() / self.dt)))
        self.parts: list[pg.LinearRegionItem] = []
        self.set_trace(None, None, None, 1.0, 0)

    def set_trace(self, t: np.ndarray | None, cumulative: np.ndarray | None, true: np.ndarray | None,
                  dt: float, n_frames: int | None = None, why: str = NO_TRACE,
                  parts: list[tuple[float, float, str]] = ()) -> None:
        """Draw a movie's cumulative EP, its `parts` (`export.trace_parts`) shaded and named unless the whole
        movie is held out; without one (t None), an empty plot spanning the `n_frames` frames open (none: 0 to
        1 s) that says `why` it is empty."""
        self.dt = dt
        for region in self.parts:
            self.removeItem(region)
        self.parts = []
        if t is not None and any(name != "test" for *_, name in parts):
            for start, end, name in parts:
                label, brush = _PART_SHADE[name]
                region = pg.LinearRegionItem((start, end), movable=False, brush=brush, pen=pg.mkPen(None))
                region.setZValue(-10)     # under the curves and the cursor, which stays draggable
                # named at the bottom, clear of the legend
                pg.InfLineLabel(region.lines[0], label, position=0.03, anchors=[(0, 1), (0, 1)], color="#c8c8c8")
                self.addItem(region, ignoreBounds=True)
                self.parts.append(region)
        self.empty.setText(why)
        self.predicted.setData([] if t is None else t, [] if cumulative is None else cumulative)
        self.truth.setData([] if true is None else t, [] if true is None else true)
        self.truth.setVisible(true is not None)
        self.legend.removeItem(self.truth)
        if true is not None:
            self.legend.addItem(self.truth, "exact")
        self.legend.setVisible(t is not None)
        self.empty.setVisible(t is None)
        self.cursor.setVisible(t is not None or bool(n_frames))
        if t is None:
            end = max((n_frames or 0) - 1, 1) * dt if n_frames else 1.0
            self.setRange(xRange=(0, end), yRange=(0, 1), padding=0.02)
            self.empty.setPos(end / 2, 0.5)
        else:
            self.enableAutoRange()

    def set_frame(self, frame: int) -> None:
        self.cursor.setValue(frame * self.dt)
