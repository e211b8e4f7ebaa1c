"""A model-known run's results where the input would be drawn (score, EPR-Net): EPR-Net's landscape as an image with
contours, the probability current as arrows over the density, and the particles of a test snapshot coloured by
their EP. All of it is read from the run's summary (`cneep_engine.estimators.epr_net.landscape`, `flow_fields`),
so a reopened run shows the same; a selector picks among what the run has.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cneep_engine.estimators.epr_net import LANDSCAPE_CUT

CONTOURS = 8            # iso-lines of the landscape, evenly spaced below the top of its colour scale
ARROW_FILL = 0.9        # the longest arrow spans this much of a grid cell
HEAD = 0.3              # arrowhead length, per arrow length
PARTICLE_PX = 12        # particles without a radius: dots of this many pixels
_MAP = pg.colormap.get("viridis")
_ARROWS = pg.mkPen("#ffffff", width=1.2)
_CONTOUR = pg.mkPen("#ffffff", width=1)
_EMPTY = "Train score or EPR-Net, or open such a run, to see its landscape, current and particles here."


def entries(summary: dict) -> dict[str, str]:
    """What this run can draw: the selector's text for each kind ("potential", "exact", "current", "snapshot",
    "mean")."""
    out = {}
    land = summary.get("landscape")
    if land:
        out["potential"] = "Landscape φ (EPR-Net)"
        if "exact" in land:
            out["exact"] = "Exact landscape −ln p"
    if "current" in summary:
        out["current"] = ("Density (noiseless coordinates: no current)" if summary["current"].get("noiseless") else
                          "Probability current over the density")
    if "particles" in summary:
        out["snapshot"] = "Particles of a test snapshot: EP there"
        if summary.get("particle_densities"):
            out["mean"] = "Particles of a test snapshot: each one's mean EP"
    return out


def _why_empty(summary: dict) -> str:
    if summary.get("method") == "epr-net":
        return ("EPR-Net draws its landscape for two coordinates only; its bounds are under Results and "
                "Training progress.")
    return "This run saved no landscape, current or particles to draw."


class ModelView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.choice = QComboBox()
        self.note = QLabel(_EMPTY, wordWrap=True)
        self.canvas = pg.GraphicsLayoutWidget()
        self.plot = self.canvas.addPlot(row=0, col=0)
        self.plot.setAspectLocked(True)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.image = pg.ImageItem()
        self.image.setLookupTable(_MAP.getLookupTable(nPts=256))
        self.plot.addItem(self.image)
        self.contours: list[pg.IsocurveItem] = []
        self.shafts = pg.PlotDataItem(pen=_ARROWS, connect="pairs")
        self.heads = pg.PlotDataItem(pen=_ARROWS, connect="pairs")
        self.particles = pg.ScatterPlotItem(pen=pg.mkPen("#000000", width=0.5))
        for item in (self.shafts, self.heads, self.particles):
            self.plot.addItem(item)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=_MAP, interactive=False, width=15,
                                        colorMapMenu=False)
        self.canvas.addItem(self.colorbar, row=0, col=1)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.choice, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.canvas, 1)
        self.summary: dict = {}
        self.kinds: list[str] = []
        self.choice.currentIndexChanged.connect(self._draw)
        self.set_summary(None)

    def set_summary(self, summary: dict | None) -> None:
        """Offer what the run's summary has to draw, and draw the first; None: nothing, and why."""
        self.summary = summary or {}
        found = entries(self.summary)
        self.kinds = list(found)
        self.choice.blockSignals(True)
        self.choice.clear()
        self.choice.addItems(found.values())
        self.choice.blockSignals(False)
        self.choice.setEnabled(bool(found))
        self._draw()

    def _clear(self) -> None:
        self.image.clear()
        for curve in self.contours:
            curve.setParentItem(None)
            self.canvas.scene().removeItem(curve)
        self.contours = []
        self.shafts.setData([], [])
        self.heads.setData([], [])
        self.particles.clear()
        self.colorbar.setVisible(False)

    def _draw(self) -> None:
        self._clear()
        if not self.kinds:
            self.note.setText(_why_empty(self.summary) if self.summary else _EMPTY)
            return
        kind = self.kinds[self.choice.currentIndex()]
        if kind in ("potential", "exact"):
            self._landscape(kind)
        elif kind == "current":
            self._current()
        else:
            self._particles(kind)
        self.plot.autoRange()

    def _bar(self, low: float, high: float, label: str) -> None:
        self.colorbar.setLevels((low, high))
        self.colorbar.axis.setLabel(label)
        self.colorbar.setVisible(True)

    def _axes(self, names) -> None:
        self.plot.setLabel("bottom", names[0])
        self.plot.setLabel("left", names[1])

    def _grid_image(self, values: np.ndarray, x: np.ndarray, y: np.ndarray, levels: tuple[float, float]) -> None:
        """values (len(y), len(x)) as an image whose pixels are centred on the grid points."""
        dx, dy = (x[-1] - x[0]) / max(len(x) - 1, 1), (y[-1] - y[0]) / max(len(y) - 1, 1)
        self.image.setImage(values, levels=levels)
        self.image.setRect(QRectF(x[0] - dx / 2, y[0] - dy / 2, dx * len(x), dy * len(y)))

    def _landscape(self, kind: str) -> None:
        land = self.summary["landscape"]
        values = np.asarray(land[kind], dtype=np.float64)
        x, y = np.asarray(land["x"]), np.asarray(land["y"])
        # The tails of -ln p climb without bound; the scale stops where the landscape is scored, so the wells show.
        # The fitted and the exact landscape share it, and their contours, to be compared by eye.
        top = float(min(max(np.max(land[k]) for k in ("potential", "exact") if k in land), LANDSCAPE_CUT)) or 1.0
        self._grid_image(values, x, y, (0, top))
        for level in top * np.arange(1, CONTOURS + 1) / (CONTOURS + 1):
            curve = pg.IsocurveItem(values, level, pen=_CONTOUR)
            curve.setParentItem(self.image)     # in the image's pixels, placed with it
            self.contours.append(curve)
        self._axes(land.get("axes", ["x1", "x2"]))
        self._bar(0, top, "φ − min φ" if kind == "potential" else "−ln p − min")
        rrmse = land.get("rrmse")
        what = ("EPR-Net's potential φ, the landscape −ln p up to a constant" if kind == "potential" else
                "The exact landscape −ln p")
        score = f"; relative RMS error of φ against it: {rrmse:.3g}" if rrmse is not None else ""
        self.note.setText(f"{what}, on a {len(x)} × {len(y)} grid over the snapshots; {CONTOURS} contours up to "
                          f"{top:.3g}{score}.")

    def _current(self) -> None:
        field = self.summary["current"]
        ex, ey = (np.asarray(e) for e in field["edges"])
        density = np.asarray(field["density"]).T              # histogram (x, y) -> image rows y, columns x
        current = np.asarray(field["current"])                  # (x bins, y bins, 2)
        centres = [(e[:-1] + e[1:]) / 2 for e in (ex, ey)]
        self._grid_image(density, *centres, (0, float(density.max()) or 1.0))
        self._axes(field["axes"])
        self._bar(0, float(density.max()) or 1.0, "density ρ (per unit area)")
        ix, iy = np.nonzero(np.hypot(current[..., 0], current[..., 1]))
        j = current[ix, iy]
        longest = float(np.hypot(*j.T).max()) if len(j) else 0.0
        scale = ARROW_FILL * min(np.diff(ex)[0], np.diff(ey)[0]) / longest if longest else 0.0
        self._quiver(centres[0][ix], centres[1][iy], j * scale)
        if field.get("noiseless"):
            self.note.setText(f"Density ρ of the test snapshots in the {' – '.join(field['axes'])} plane. These "
                              "coordinates have no noise (D = 0): their probability current carries no EP and is not "
                              "drawn; the EP is in the noisy coordinates (see the particles' EP).")
            return
        self.note.setText(f"Probability current J = ρv of the test snapshots (arrows; the longest, {longest:.3g} per "
                          f"unit length per s, spans {ARROW_FILL:.0%} of a cell) over their density ρ; "
                          f"{len(j)} of {current.shape[0] * current.shape[1]} cells have a current.")

    def _quiver(self, x: np.ndarray, y: np.ndarray, arrow: np.ndarray) -> None:
        """Arrows centred on (x, y): shafts as segments, each head as two short segments from the tip."""
        tail, tip = np.c_[x, y] - arrow / 2, np.c_[x, y] + arrow / 2
        self.shafts.setData(*np.stack([tail, tip], 1).reshape(-1, 2).T)
        back = -HEAD * arrow
        sides = [back @ np.array([[c, s], [-s, c]]) for c, s in ((np.cos(0.45), np.sin(0.45)),
                                                                   (np.cos(0.45), -np.sin(0.45)))]
        heads = np.stack([tip, tip + sides[0], tip, tip + sides[1]], 1).reshape(-1, 2)
        self.heads.setData(*heads.T)

    def _particles(self, kind: str) -> None:
        shown = self.summary["particles"]
        pos = np.asarray(shown["positions"])
        values = np.asarray(shown["ep_rate"] if kind == "snapshot" else self.summary["particle_densities"])
        top = float(values.max()) or 1.0
        brushes = [pg.mkBrush(c) for c in _MAP.map(values / top, mode="qcolor")]
        radius = shown.get("radius")
        self.particles.setPxMode(radius is None)
        self.particles.setData(pos[:, 0], pos[:, 1], brush=brushes,
                               size=PARTICLE_PX if radius is None else 2 * radius)
        self._axes(shown["axes"])
        self._bar(0, top, "EP rate (k<sub>B</sub>/s)")
        what = ("each particle's EP rate density at this configuration" if kind == "snapshot" else
                "each particle's EP rate averaged over all test snapshots")
        size = f"drawn at radius {radius:g}" if radius is not None else "radius unknown: dots"
        self.note.setText(f"{len(pos)} particles of the first test snapshot ({size}); colour: {what}.")
