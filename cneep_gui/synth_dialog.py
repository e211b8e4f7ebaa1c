"""Generate a synthetic Brownian movie: bead-spring chain and renderer parameters, with a live preview.

The dialog only collects parameters and previews one frame; the main window generates the movie in the
background with `cneep_engine.simulate_bead_spring`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                             QGroupBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout)

from cneep_engine import BeadRenderer, BeadSpringChain, CneepError, simulate_bead_spring


@dataclass(frozen=True)
class SynthRequest:
    chain: BeadSpringChain
    renderer: BeadRenderer
    movies: int
    frames: int
    seed: int


def spin_box(lo, hi, value, tip, decimals=None, step=None):
    box = QSpinBox() if decimals is None else QDoubleSpinBox(decimals=decimals)
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    if step:
        box.setSingleStep(step)
    return box


class ChainFields:
    """Spin boxes for a bead-spring chain, shared by the movie and the trajectory generators."""

    def __init__(self, max_beads: int, beads_tip: str):
        c = BeadSpringChain()
        self.beads = spin_box(2, max_beads, c.beads, beads_tip)
        self.tc = spin_box(0.01, 1e4, c.tc, "Temperature of the first (cold) bead's bath, k_B = 1", 3)
        self.th = spin_box(0.01, 1e4, c.th, "Temperature of the last (hot) bead's bath; Tc = Th is equilibrium", 3)
        self.k = spin_box(0.01, 1e4, c.k, "Spring stiffness", 3)
        self.gamma = spin_box(0.01, 1e4, c.gamma, "Friction coefficient", 3)
        self.dt = spin_box(1e-5, 100, c.dt, "Time between frames, s", 5, 0.001)
        self.dt.setSuffix(" s")
        self.rows = [("Beads", self.beads), ("Cold bath Tc", self.tc), ("Hot bath Th", self.th),
                     ("Stiffness k", self.k), ("Friction γ", self.gamma), ("Frame interval", self.dt)]

    def chain(self) -> BeadSpringChain:
        return BeadSpringChain(beads=self.beads.value(), tc=self.tc.value(), th=self.th.value(), k=self.k.value(),
                               gamma=self.gamma.value(), dt=self.dt.value())


def generate_buttons(dialog: QDialog) -> QDialogButtonBox:
    """Generate and Cancel, wired to accept and reject the dialog."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Generate")
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class SynthDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent, windowTitle="Generate synthetic movie")
        r = BeadRenderer()
        self.chain = ChainFields(64, "Beads on the chain; bead i is in contact with a bath at T_i")
        # 20 x 5000 frames (80 MB) simulate in about a second and give the default training enough transitions
        # not to overfit (10 x 2000 frames gave R^2 0.80 and a rate 27% low: docs/benchmarks.md, "The README
        # demo").
        self.movies = spin_box(1, 1000, 20, "Independent movies (3 or more lets whole movies be held out)")
        self.frames = spin_box(2, 10_000_000, 5000, "Frames per movie")
        self.seed = spin_box(0, 2**31 - 1, 0, "Random seed of trajectories and noise")
        self.cell = spin_box(4, 512, r.cell, "Pixels per bead cell: a frame is cell × (beads × cell) pixels")
        self.pixel_size = spin_box(1e-4, 1e4, r.pixel_size, "Micrometres per pixel", 4)
        self.psf = spin_box(0.1, 100, r.psf_sigma, "Width (s.d.) of the Gaussian point-spread function, pixels", 2)
        self.peak = spin_box(1, 65535, r.peak, "Counts at the centre of a bead", 1)
        self.background = spin_box(0, 65535, r.background, "Background counts", 1)
        self.read_noise = spin_box(0, 1e4, r.read_noise, "Gaussian camera noise, counts (s.d.)", 2)
        self.poisson = QCheckBox(toolTip="Shot noise on the expected counts")
        self.binning = spin_box(1, 64, r.binning, "Average b × b pixel blocks (after rendering, before noise)")
        self.dtype = QComboBox(toolTip="Pixel type of the movie")
        self.dtype.addItems(["uint8", "uint16"])
        physics, camera = QFormLayout(), QFormLayout()
        for form, rows in ((physics, [*self.chain.rows, ("Movies", self.movies), ("Frames per movie", self.frames),
                                      ("Seed", self.seed)]),
                           (camera, [("Cell (px)", self.cell), ("Pixel size (µm)", self.pixel_size),
                                     ("PSF width (px)", self.psf), ("Peak", self.peak),
                                     ("Background", self.background), ("Read noise", self.read_noise),
                                     ("Shot noise", self.poisson), ("Binning", self.binning),
                                     ("Pixel type", self.dtype)])):
            for label, widget in rows:
                form.addRow(label, widget)
        boxes = QHBoxLayout()
        for title, form in (("Bead-spring chain", physics), ("Microscope", camera)):
            group = QGroupBox(title)
            group.setLayout(form)
            boxes.addWidget(group)
        self.preview = pg.PlotWidget()
        self.preview.setAspectLocked(True)
        self.preview.invertY(True)
        self.preview.hideAxis("left")
        self.preview.hideAxis("bottom")
        self.preview_image = pg.ImageItem()
        self.preview.addItem(self.preview_image)
        self.preview.setMinimumHeight(120)
        self.message = QLabel(wordWrap=True)
        self.buttons = generate_buttons(self)
        layout = QVBoxLayout(self)
        layout.addLayout(boxes)
        layout.addWidget(self.preview)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        # Typing fires many edits; the preview is redrawn once they pause.
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self.update_preview)
        for w in (*(box for _, box in self.chain.rows), self.movies, self.frames, self.seed,
                  self.cell, self.pixel_size, self.psf, self.peak, self.background, self.read_noise, self.binning):
            w.valueChanged.connect(self._debounce.start)
        self.poisson.toggled.connect(self._debounce.start)
        self.dtype.currentIndexChanged.connect(self._debounce.start)
        self.update_preview()

    def request(self) -> SynthRequest:
        """The parameters as engine objects. Raises CneepError for an impossible combination."""
        chain = self.chain.chain()
        renderer = BeadRenderer(cell=self.cell.value(), pixel_size=self.pixel_size.value(),
                                psf_sigma=self.psf.value(), background=self.background.value(),
                                peak=self.peak.value(), poisson=self.poisson.isChecked(),
                                read_noise=self.read_noise.value(), binning=self.binning.value(),
                                dtype=self.dtype.currentText())
        return SynthRequest(chain, renderer, self.movies.value(), self.frames.value(), self.seed.value())

    def update_preview(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            req = self.request()
            frame = simulate_bead_spring(req.chain, req.renderer, movies=1, frames=2, seed=req.seed).frames[0, 0]
        except CneepError as e:
            self.message.setText(f"<span style='color:#d62728'>{e}</span>")
            ok.setEnabled(False)
            return
        self.preview_image.setImage(frame, autoLevels=True)
        self.preview.autoRange(padding=0)
        h, w = frame.shape
        size_mb = req.movies * req.frames * h * w * frame.itemsize / 1e6
        self.message.setText(f"{req.movies} × {req.frames} frames of {h} × {w} px ({size_mb:.0f} MB); "
                             f"exact EP rate σ = {req.chain.ep_rate:.4g} k_B/s, "
                             f"two-frame σ = {req.chain.ep_rate_two_frame:.4g} k_B/s")
        ok.setEnabled(True)
