"""The rotated double well, EPR-Net's benchmark with an exact landscape (Zhao, Zhang & Li), k_B = 1.

A particle in the plane, dx = F(x) dt + sqrt(2 D) dW with F = -grad V0 + c R grad V0, R the rotation by +90
degrees and V0 = ((x1 - 1.5)^2 - 1)^2 + (x2 - 1.5)^2 / 2: two wells at x1 = 0.5 and 2.5 on the line x2 = 1.5, in
the box [0, 3]^2 of the published benchmark (the steady mass outside it is below 1e-6 for D <= 0.1). R grad V0 is
orthogonal to grad V0 and divergence-free, so it leaves the Boltzmann density p ~ exp(-V0 / D) steady: the
landscape U = -D ln p is V0 itself, and the rotation drives a current p c R grad V0 around the wells whose EP rate
is sigma = (c^2 / D) <|grad V0|^2> = c^2 <Laplacian V0> = c^2 (12 <u^2> - 3), u = x1 - 1.5 (integrating by parts),
with <u^2> by quadrature of the marginal of u, ~ exp(-(u^2 - 1)^2 / D): sigma = 2.1676 at D = 0.1, c = 0.5.
p factorises, so the first frame is drawn exactly: u by inverting its tabulated distribution, x2 Gaussian of
variance D about 1.5; Euler-Maruyama follows (`steady.integrate`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
import torch

from ..params import check, param

CENTRE = 1.5         # the wells' midpoint on both axes: the box [0, 3]^2 of the published benchmark
_GRID = 20_001       # points tabulating the marginal of u
_TAIL = 50.0         # the marginal is tabulated where (u^2 - 1)^2 / D < this (its mass beyond: below e^-50)


@dataclass(frozen=True)
class RotatedDoubleWell:
    """A particle in a double well, driven around its wells by a rotational force."""

    diffusivity: float = param(0.1, "D, diffusion coefficient (noise strength; the landscape is -D ln p)",
                               unit="µm²/s", above=0, high=100, label="Diffusivity D")
    curl: float = param(0.5, "c, strength of the rotational force c R grad V0; 0 is equilibrium", low=-100,
                        high=100, label="Curl c")
    dt: float = param(0.01, "time between frames", unit="s", above=0, label="Frame interval", decimals=5,
                      step=0.001)
    time_step: float = param(0.001, "Euler-Maruyama time step (the frame interval is split into whole steps)",
                             unit="s", above=0, decimals=5, step=0.001)

    def __post_init__(self):
        check(self)

    @property
    def diffusion(self) -> np.ndarray:
        return self.diffusivity * np.eye(2)

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """V0 at points (n, 2): the exact landscape -D ln p, up to a constant."""
        u, y = x[:, 0] - CENTRE, x[:, 1] - CENTRE
        return (u ** 2 - 1) ** 2 + y ** 2 / 2

    def drift(self, x: torch.Tensor) -> torch.Tensor:
        """F = -grad V0 + c R grad V0 at points (n, 2)."""
        u, y = x[:, 0] - CENTRE, x[:, 1] - CENTRE
        gu, gy = 4 * u * (u ** 2 - 1), y
        return torch.stack([-gu - self.curl * gy, self.curl * gu - gy], dim=1)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised ln p at points (n, 2)."""
        _, _, log_z = self._marginal
        return -self.potential(x) / self.diffusivity - log_z

    @cached_property
    def _marginal(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Grid of u, the marginal density of u on it, and ln Z of the whole density (x2's Gaussian included)."""
        reach = math.sqrt(1 + math.sqrt(_TAIL * self.diffusivity))
        u = np.linspace(-reach, reach, _GRID)
        w = np.exp(-(u ** 2 - 1) ** 2 / self.diffusivity)
        z_u = np.trapezoid(w, u)
        return u, w / z_u, float(np.log(z_u) + 0.5 * np.log(2 * np.pi * self.diffusivity))

    @property
    def ep_rate(self) -> float:
        """sigma = c^2 (12 <u^2> - 3)."""
        u, p, _ = self._marginal
        return float(self.curl ** 2 * (12 * np.trapezoid(u ** 2 * p, u) - 3))

    def draw(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """n exact draws (n, 2) from the steady density."""
        u, p, _ = self._marginal
        cdf = np.r_[0.0, np.cumsum((p[1:] + p[:-1]) / 2 * np.diff(u))]
        q = torch.rand(n, generator=gen, dtype=torch.float64).numpy() * cdf[-1]
        y = torch.randn(n, generator=gen, dtype=torch.float64) * math.sqrt(self.diffusivity)
        return torch.stack([torch.from_numpy(np.interp(q, cdf, u)) + CENTRE, y + CENTRE], dim=1)

    def describe(self) -> dict:
        return {"system": "double-well", **asdict(self), "sigma": self.ep_rate}
