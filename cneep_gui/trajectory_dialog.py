"""Generate synthetic trajectories with exact EP: bead-spring coordinates or flashing-ratchet states.

The dialog only collects parameters; the main window generates in the background with the engine's
`simulate_bead_spring_trajectories` or `simulate_ratchet`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtWidgets import QComboBox, QDialog, QFormLayout, QLabel, QStackedWidget, QVBoxLayout

from cneep_engine import (BeadSpringChain, FlashingRatchet, Trajectories, simulate_bead_spring_trajectories,
                          simulate_ratchet)

from .param_form import ParamForm
from .synth_dialog import generate_buttons, spin_box

SYSTEMS = ("Bead-spring chain: bead coordinates", "Flashing ratchet: all six states",
           "Flashing ratchet: position only (potential hidden)")
CHAIN, RATCHET, PARTIAL = range(3)


@dataclass(frozen=True)
class TrajectoryRequest:
    system: int
    chain: BeadSpringChain
    ratchet: FlashingRatchet
    trajectories: int
    frames: int
    seed: int

    def generate(self) -> Trajectories:
        if self.system == CHAIN:
            return simulate_bead_spring_trajectories(self.chain, self.trajectories, self.frames, seed=self.seed)
        return simulate_ratchet(self.ratchet, self.trajectories, self.frames, partial=self.system == PARTIAL,
                                seed=self.seed)

    def exact(self) -> str:
        """The exact EP the estimators should find, in words."""
        if self.system == CHAIN:
            return (f"exact EP rate σ = {self.chain.ep_rate:.4g} k_B/s, "
                    f"two-frame σ = {self.chain.ep_rate_two_frame:.4g} k_B/s")
        full = f"exact EP per step {self.ratchet.ep_per_step:.4g} k_B"
        if self.system == RATCHET:
            return full
        return (f"{full}; pairs of positions reveal {self.ratchet.ep_per_step_positions:.4g} k_B: "
                f"train rneep with longer windows to get closer to the full value")


class TrajectoryDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent, windowTitle="Generate synthetic trajectories")
        self.system = QComboBox(toolTip="Which system to simulate; each has an exactly known EP")
        self.system.addItems(SYSTEMS)
        self.chain, self.ratchet = ParamForm(BeadSpringChain), ParamForm(FlashingRatchet)
        self.trajectories = spin_box(1, 10_000, 5, "Independent trajectories (3 or more lets whole ones be held out)")
        self.frames = spin_box(2, 100_000_000, 10_000, "Frames (steps) per trajectory")
        self.seed = spin_box(0, 2**31 - 1, 0, "Random seed")
        self.pages = QStackedWidget()
        for form in (self.chain, self.ratchet):
            self.pages.addWidget(form)
        common = QFormLayout()
        common.addRow("System", self.system)
        common.addRow(self.pages)
        for label, w in (("Trajectories", self.trajectories), ("Frames per trajectory", self.frames),
                         ("Seed", self.seed)):
            common.addRow(label, w)
        self.message = QLabel(wordWrap=True)
        self.buttons = generate_buttons(self)
        layout = QVBoxLayout(self)
        layout.addLayout(common)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.system.currentIndexChanged.connect(self._update)
        for form in (self.chain, self.ratchet):
            form.changed.connect(self._update)
        self._update()

    def request(self) -> TrajectoryRequest:
        """The parameters as engine objects; the spin boxes' ranges admit only valid ones."""
        return TrajectoryRequest(self.system.currentIndex(), self.chain.build(), self.ratchet.build(),
                                 self.trajectories.value(), self.frames.value(), self.seed.value())

    def _update(self, *_) -> None:
        self.pages.setCurrentIndex(0 if self.system.currentIndex() == CHAIN else 1)
        self.message.setText(self.request().exact())
