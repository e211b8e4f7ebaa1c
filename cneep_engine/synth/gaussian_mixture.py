"""A driven diffusion whose steady state is a Gaussian mixture in up to 12 dimensions (EPR-Net's high-dimensional
benchmark), k_B = 1.

dx = F(x) dt + sqrt(2 D) dW with F = D (I - J) grad ln p, p a mixture of two isotropic Gaussians (weights 0.6 and
0.4, variances 0.04 and 0.02 per coordinate, the published benchmark's means) and J antisymmetric. The part
D grad ln p alone is an equilibrium diffusion with steady density p; -D J grad ln p is divergence-free under p
(div(p J grad ln p) = sum_ab J_ab d_a d_b p = 0), so p stays steady while it drives a current, the local mean
velocity is v = F - D grad ln p = -D J grad ln p, and the EP rate is sigma = <|v|^2> / D = D <|J grad ln p|^2>. That
average has no closed form; it is a Monte Carlo
mean over MC_DRAWS exact draws of p, the same for every simulation of these settings (its standard error is
recorded: sigma_exact false). J = drive (M - M^T) / 2 with M uniform on [0, 1) from its own seed; drive 0 is
equilibrium. The first frame is drawn exactly, Euler-Maruyama follows (`steady.integrate`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
import torch

from ..params import check, param

MEANS = np.array([[1.8, 1.4, 0.8, 0.9, 0.9, 1.5, 2.0, 1.0, 1.6, 1.0, 0.7, 1.4],
                  [1.2, 2.0, 0.6, 1.5, 0.9, 1.5, 1.5, 0.9, 1.2, 1.2, 0.5, 1.8]])
WEIGHTS = np.array([0.6, 0.4])
VARIANCES = np.array([0.04, 0.02])
MC_DRAWS = 200_000


@dataclass(frozen=True)
class DrivenGaussianMixture:
    """A diffusion driven around a two-component Gaussian mixture that stays its steady density."""

    dims: int = param(12, "coordinates: the first dims of the 12-dimensional mixture", low=2, high=12,
                      label="Dimensions")
    diffusivity: float = param(0.1, "D, diffusion coefficient", unit="µm²/s", above=0, high=100,
                               label="Diffusivity D")
    drive: float = param(1.0, "scale of the antisymmetric matrix J; 0 is equilibrium", low=-100, high=100,
                         label="Drive")
    matrix_seed: int = param(0, "seed of the random antisymmetric matrix J (and of the Monte Carlo sigma)", low=0,
                             high=2**32 - 1, label="Matrix seed")
    dt: float = param(0.01, "time between frames", unit="s", above=0, label="Frame interval", decimals=5,
                      step=0.001)
    time_step: float = param(0.001, "Euler-Maruyama time step (the frame interval is split into whole steps)",
                             unit="s", above=0, decimals=5, step=0.001)

    def __post_init__(self):
        check(self)

    @cached_property
    def antisymmetric(self) -> np.ndarray:
        """J, (dims, dims)."""
        m = np.random.default_rng(self.matrix_seed).random((self.dims, self.dims))
        return self.drive * (m - m.T) / 2

    @property
    def diffusion(self) -> np.ndarray:
        return self.diffusivity * np.eye(self.dims)

    @cached_property
    def _constants(self) -> tuple[torch.Tensor, ...]:
        """Means (2, dims), variances (2,), ln(weight) - (dims / 2) ln(2 pi variance) (2,) and (I - J)^T."""
        var = torch.as_tensor(VARIANCES)
        log_norm = torch.as_tensor(np.log(WEIGHTS)) - self.dims / 2 * torch.log(2 * math.pi * var)
        return (torch.as_tensor(MEANS[:, :self.dims]), var, log_norm,
                (torch.eye(self.dims, dtype=torch.float64) - torch.as_tensor(self.antisymmetric)).T.contiguous())

    def _components(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ln(weight N_k(x)) (n, 2) and the displacements from the means over the variances (n, 2, dims)."""
        mu, var, log_norm, _ = (c.to(x) for c in self._constants)
        diff = x[:, None, :] - mu
        return log_norm - (diff ** 2).sum(2) / (2 * var), diff / var[:, None]

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised ln p at points (n, dims)."""
        return torch.logsumexp(self._components(x)[0], dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """grad ln p at points (n, dims)."""
        log_w, scaled = self._components(x)
        return -(torch.softmax(log_w, dim=1)[:, :, None] * scaled).sum(1)

    def drift(self, x: torch.Tensor) -> torch.Tensor:
        """F = D (I - J) grad ln p at points (n, dims)."""
        return self.diffusivity * self.score(x) @ self._constants[3].to(x)

    def draw(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """n exact draws (n, dims) from the mixture."""
        k = torch.multinomial(torch.as_tensor(WEIGHTS), n, replacement=True, generator=gen)
        mu = torch.as_tensor(MEANS[:, :self.dims])[k]
        sd = torch.as_tensor(np.sqrt(VARIANCES))[k, None]
        return mu + sd * torch.randn((n, self.dims), generator=gen, dtype=torch.float64)

    @cached_property
    def _monte_carlo(self) -> tuple[float, float]:
        """sigma = D <|J grad ln p|^2> over MC_DRAWS exact draws, and its standard error."""
        x = self.draw(MC_DRAWS, torch.Generator().manual_seed(self.matrix_seed))
        values = self.diffusivity * ((self.score(x) @ torch.as_tensor(self.antisymmetric).T) ** 2).sum(1)
        return float(values.mean()), float(values.std() / math.sqrt(MC_DRAWS))

    @property
    def ep_rate(self) -> float:
        return self._monte_carlo[0]

    def describe(self) -> dict:
        return {"system": "gaussian-mixture", **asdict(self), "sigma": self.ep_rate,
                "sigma_err": self._monte_carlo[1], "sigma_exact": False}
