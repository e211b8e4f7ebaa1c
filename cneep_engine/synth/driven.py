"""Small driven systems with exact EP: the Brownian gyrator, the curl trap and the tilted ring (k_B = 1).

- Brownian gyrator: a particle in the plane in the potential (k1 x^2 + k2 y^2) / 2 + u x y, its x in a bath
  at T1 and its y at T2, friction gamma. Linear (`LinearDiffusion`):
  sigma = u^2 (T1 - T2)^2 / (gamma T1 T2 (k1 + k2)). Each axis alone is a stationary Gaussian process of one
  coordinate, hence reversible: x alone reveals nothing (a partial-observation negative control).
- Curl trap: dx = (-k x + c z_hat x x) dt + sqrt(2 D) dW in the plane. Linear; its steady density is the
  Boltzmann one (a snapshot shows no drive) and sigma = 2 c^2 / k, whatever D.
- Tilted ring: a particle on a circle of circumference L in the potential U0 cos(2 pi x / L), pulled along it
  by a constant force F at temperature T (friction 1). The steady density
  p(x) = exp(-Phi(x)/T) int_x^{x+L} exp(Phi(y)/T) dy / Z, Phi = U - F x, carries the flux
  J = T (1 - exp(-F L / T)) / Z, so the mean velocity is J L and sigma = F J L / T (0.62997 at F = U0 = T = L
  = 1). Each step's EP is its heat over T plus the change of -ln p: (F - U'(x)) o dx / T, accumulated over
  Euler-Maruyama sub-steps (trapezoid, Stratonovich), + ln p(x) - ln p(x'), with dx unwrapped. The mean of
  that per-step value is sigma dt up to the O(time step) bias of the integrator. No exact two-frame
  ceiling exists; sigma_2pt is set to sigma, the upper bound, and marked not exact. The ring is written as
  the particle's position in the plane, on a circle of radius L / (2 pi), as a tracker would give it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import CneepError
from ..movie import GroundTruth
from ..params import check, param
from ..trajectories import Trajectories
from .linear import LinearDiffusion
from .sampling import TrajectorySampling

_DT = dict(help="time between frames", unit="s", above=0, label="Frame interval", decimals=5, step=0.001)
_GRID = 4000   # points tabulating the ring's steady density


@dataclass(frozen=True)
class BrownianGyrator(LinearDiffusion):
    """A particle in a tilted harmonic well, its two axes in baths at different temperatures."""

    k1: float = param(1.0, "stiffness along x", above=0, label="Stiffness k1")
    k2: float = param(2.0, "stiffness along y", above=0, label="Stiffness k2")
    u: float = param(0.5, "coupling u of x and y in the potential (stable for u^2 < k1 k2)", label="Coupling u")
    t1: float = param(1.0, "temperature of the bath of x", above=0, label="Temperature T1")
    t2: float = param(0.1, "temperature of the bath of y; T1 = T2 or u = 0 is equilibrium", above=0,
                      label="Temperature T2")
    gamma: float = param(1.0, "friction coefficient", above=0, label="Friction γ")
    dt: float = param(0.01, **_DT)

    def __post_init__(self):
        check(self)
        if self.u ** 2 >= self.k1 * self.k2:
            raise CneepError(f"--u {self.u:g}: the potential has no minimum unless u^2 < k1 k2 "
                             f"({self.k1 * self.k2:g})")

    @property
    def drift(self) -> np.ndarray:
        return -np.array([[self.k1, self.u], [self.u, self.k2]]) / self.gamma

    @property
    def diffusion(self) -> np.ndarray:
        return np.diag([self.t1, self.t2]) / self.gamma


@dataclass(frozen=True)
class CurlTrap(LinearDiffusion):
    """A particle in an isotropic harmonic trap, driven around it by a rotational force."""

    k: float = param(1.0, "trap stiffness (per friction)", unit="1/s", above=0, label="Stiffness k")
    curl: float = param(0.3, "c, strength of the rotational force c z x r (per friction)", unit="1/s",
                        label="Curl c")
    diffusivity: float = param(0.5, "D, diffusion coefficient (the EP rate does not depend on it)", unit="µm²/s",
                               above=0, label="Diffusivity D")
    dt: float = param(0.01, **_DT)

    def __post_init__(self):
        check(self)

    @property
    def drift(self) -> np.ndarray:
        return np.array([[-self.k, -self.curl], [self.curl, -self.k]])

    @property
    def diffusion(self) -> np.ndarray:
        return self.diffusivity * np.eye(2)


@dataclass(frozen=True)
class TiltedRing:
    """A particle driven around a ring over a cosine potential."""

    force: float = param(1.0, "F, constant force along the ring", low=-100, high=100, label="Force F")
    barrier: float = param(1.0, "U0, amplitude of the potential U0 cos(2 pi x / L)", low=-100, high=100,
                           label="Potential U0")
    temperature: float = param(1.0, "T, temperature of the bath", above=0, label="Temperature T")
    circumference: float = param(1.0, "L, length of the ring", unit="µm", above=0, label="Circumference L")
    dt: float = param(0.01, **_DT)
    time_step: float = param(0.001, "Euler-Maruyama time step (the frame interval is split into whole steps)",
                             unit="s", above=0, decimals=5, step=0.001)

    def __post_init__(self):
        check(self)
        if max(abs(self.force) * self.circumference, abs(self.barrier)) / self.temperature > 300:
            raise CneepError("--force x --circumference and --barrier must stay within 300 --temperature: the "
                             "steady density would under- or overflow")

    def potential_slope(self, x: np.ndarray) -> np.ndarray:
        k = 2 * np.pi / self.circumference
        return -self.barrier * k * np.sin(k * x)

    def _steady(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Grid over one period, ln p on it, and the log of the normalisation Z of the closed form."""
        n, ell, temp = _GRID, self.circumference, self.temperature
        y = np.arange(2 * n + 1) * ell / n
        phi = (self.barrier * np.cos(2 * np.pi * y / ell) - self.force * y) / temp
        shift = phi.max()
        w = np.exp(phi - shift)
        cum = np.r_[0.0, np.cumsum((w[1:] + w[:-1]) / 2)] * ell / n   # int_0^y exp(Phi/T - shift)
        log_q = -phi[:n] + shift + np.log(cum[n:2 * n] - cum[:n])      # exp(-Phi/T) int_x^{x+L} exp(Phi/T)
        log_z = np.logaddexp.reduce(log_q) + np.log(ell / n)
        return y[:n], log_q - log_z, float(log_z)

    @property
    def ep_rate(self) -> float:
        """sigma = F v / T, v = J L the mean velocity."""
        _, _, log_z = self._steady()
        f, ell, temp = self.force, self.circumference, self.temperature
        flux = -temp * np.expm1(-f * ell / temp) * np.exp(-log_z)
        return float(f * flux * ell / temp)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        grid, log_p, _ = self._steady()
        return np.interp(x, grid, log_p, period=self.circumference)

    def sample(self, trajectories: int, frames: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
        """Unwrapped positions along the ring (trajectories, frames), started from the steady density, and the
        EP of each transition (trajectories, frames - 1)."""
        rng = np.random.default_rng(seed)
        grid, log_p, _ = self._steady()
        cdf = np.r_[0.0, np.cumsum(np.exp(log_p))] * self.circumference / _GRID
        x = np.interp(rng.random(trajectories) * cdf[-1], cdf, np.r_[grid, self.circumference])
        substeps = max(1, round(self.dt / self.time_step))
        h, temp = self.dt / substeps, self.temperature
        noise = np.sqrt(2 * temp * h)
        out = np.empty((trajectories, frames))
        heat = np.zeros((trajectories, frames - 1))
        out[:, 0] = x
        b = self.force - self.potential_slope(x)
        for t in range(frames - 1):
            for _ in range(substeps):
                x_next = x + b * h + noise * rng.standard_normal(trajectories)
                b_next = self.force - self.potential_slope(x_next)
                heat[:, t] += (b + b_next) * (x_next - x) / (2 * temp)
                x, b = x_next, b_next
            out[:, t + 1] = x
        lp = self.log_density(out)
        return out, heat + lp[:, :-1] - lp[:, 1:]

    def describe(self) -> dict:
        return {"system": "ring", **asdict(self), "sigma": self.ep_rate,
                "substeps": max(1, round(self.dt / self.time_step)), "integrator": "Euler-Maruyama",
                "sigma_2pt_exact": False}


def simulate_ring(model: TiltedRing, sampling: TrajectorySampling) -> Trajectories:
    """The ring's trajectories as positions in the plane, with the EP of every step."""
    s, ds = model.sample(sampling.trajectories, sampling.frames, seed=sampling.seed)
    angle = 2 * np.pi * s / model.circumference
    xy = model.circumference / (2 * np.pi) * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    sigma = model.ep_rate
    truth = GroundTruth(ds=ds, sigma=sigma, sigma_2pt=sigma, params={**model.describe(), **asdict(sampling)})
    return Trajectories(data=xy, dt=model.dt, dt_source="metadata", labels=["x", "y"], truth=truth,
                        provenance={"format": "simulated", "source": "ring"})
