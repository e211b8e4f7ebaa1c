"""Generate a synthetic Brownian movie: bead-spring chain and renderer parameters, with a live preview.

The dialog only collects parameters and previews one frame; the main window generates the movie in the
background with `cneep_engine.simulate_bead_spring`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout

from cneep_engine import BeadRenderer, BeadSpringChain, CneepError, simulate_bead_spring

from .param_form import ParamForm


@dataclass(frozen=True)
class SynthRequest:
    chain: BeadSpringChain
    renderer: BeadRenderer
    movies: int
    frames: int
    seed: int


def spin_box(lo, hi, value, tip):
    """A spin box for a count the generators ask for besides the system's own parameters."""
    return QSpinBox(minimum=lo, maximum=hi, value=value, toolTip=tip)


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
        self.chain = ParamForm(BeadSpringChain)
        self.chain["beads"].setMaximum(64)   # frames are beads x cell pixels wide
        # 20 x 5000 frames (80 MB) simulate in about a second and give the default training enough transitions
        # not to overfit (10 x 2000 frames gave R^2 0.80 and a rate 27% low: docs/benchmarks.md, "The README
        # demo").
        self.movies = spin_box(1, 1000, 20, "Independent movies (3 or more lets whole movies be held out)")
        self.frames = spin_box(2, 10_000_000, 5000, "Frames per movie")
        self.seed = spin_box(0, 2**31 - 1, 0, "Random seed of trajectories and noise")
        for label, box in (("Movies", self.movies), ("Frames per movie", self.frames), ("Seed", self.seed)):
            self.chain.form.addRow(label, box)
            box.valueChanged.connect(self.chain.changed)
        self.camera = ParamForm(BeadRenderer)
        physics, camera = self.chain, self.camera
        boxes = QHBoxLayout()
        for title, form in (("Bead-spring chain", physics), ("Microscope", camera)):
            group = QGroupBox(title)
            QVBoxLayout(group).addWidget(form)
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
        for form in (self.chain, self.camera):
            form.changed.connect(self._debounce.start)
        self.update_preview()

    def request(self) -> SynthRequest:
        """The parameters as engine objects. Raises CneepError for an impossible combination."""
        chain, renderer = self.chain.build(), self.camera.build()
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
