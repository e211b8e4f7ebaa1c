"""Bead-spring chain between two heat baths: an exactly solvable non-equilibrium system.

N beads on a line, each joined to its neighbours and the two end beads to fixed walls by springs of
stiffness k, overdamped with friction gamma, bead i in contact with a bath at temperature T_i
(linear from Tc at bead 0 to Th at bead N-1). The positions x follow the Ornstein-Uhlenbeck process

    dx = A x dt + sqrt(2 D) dW,   A = (k/gamma) * tridiag(1, -2, 1),   D = diag(T) / gamma,

a linear process (`LinearDiffusion`): its EP, the best rate from frame pairs and the EP of every observed
transition are exact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..params import check, param
from .linear import LinearDiffusion


@dataclass(frozen=True)
class BeadSpringChain(LinearDiffusion):
    """Beads joined by springs, the first in a cold bath and the last in a hot one (k_B = 1)."""

    beads: int = param(2, "beads in the chain", low=2, high=1024)
    tc: float = param(1.0, "temperature of bead 0's bath (the cold end)", above=0, label="Cold bath Tc")
    th: float = param(10.0, "temperature of the last bead's bath (the hot end); Tc = Th is equilibrium", above=0,
                      label="Hot bath Th")
    k: float = param(1.0, "spring stiffness", above=0, label="Stiffness k")
    gamma: float = param(1.0, "friction coefficient", above=0, label="Friction γ")
    dt: float = param(0.01, "time between frames", unit="s", above=0, label="Frame interval", decimals=5,
                      step=0.001)

    def __post_init__(self):
        check(self)

    # --- the model --------------------------------------------------------------------------------
    @property
    def temperatures(self) -> np.ndarray:
        return np.linspace(self.tc, self.th, self.beads)

    @property
    def drift(self) -> np.ndarray:
        n = self.beads
        a = -2.0 * np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)
        return a * (self.k / self.gamma)

    @property
    def diffusion(self) -> np.ndarray:
        return np.diag(self.temperatures / self.gamma)

    @property
    def bonds(self) -> list[tuple[int | None, int | None]]:
        """The springs as (left bead, right bead), None for a wall: wall-0, 0-1, ..., (N-1)-wall."""
        n = self.beads
        return [(None, 0), *((i, i + 1) for i in range(n - 1)), (n - 1, None)]

    @property
    def bond_ep(self) -> np.ndarray:
        """Per-spring EP rate (heat-flux decomposition), in the order of `bonds`: J (1/T_p - 1/T_q), J the heat
        that the spring's force on bead p delivers to p's bath, <f o dx_p>/dt = m C a_p + D_pp m_p (Stratonovich;
        m: the force as a row acting on x, a_p row p of A). The spring's energy is stationary, so bead q's bath
        gets -J. A wall is no bath: a wall spring's power averages to zero. Sums to sigma."""
        a, c, d, temps = self.drift, self.covariance, self.diffusion, self.temperatures
        out = np.zeros(len(self.bonds))
        for b, (p, q) in enumerate(self.bonds):
            if p is None or q is None:
                continue
            m = np.zeros(self.beads)
            m[p], m[q] = -self.k, self.k      # force on bead p from the spring to q
            flux = m @ c @ a[p] + d[p, p] * m[p]
            out[b] = flux * (1 / temps[p] - 1 / temps[q])
        return out

    def describe(self) -> dict:
        """Parameters and exact EP figures, JSON-ready."""
        return {
            "system": "bead-spring",
            **asdict(self),
            "temperatures": self.temperatures.tolist(),
            "sigma": self.ep_rate,
            "sigma_2pt": self.ep_rate_two_frame,
            "ep_density": self.ep_density.tolist(),
            "heat_density": self.heat_density.tolist(),
            "bond_ep": self.bond_ep.tolist(),
        }
