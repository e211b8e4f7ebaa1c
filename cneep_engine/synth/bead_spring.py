"""Bead-spring chain between two heat baths: an exactly solvable non-equilibrium system.

N beads on a line, each joined to its neighbours and the two end beads to fixed walls by springs of
stiffness k, overdamped with friction gamma, bead i in contact with a bath at temperature T_i
(linear from Tc at bead 0 to Th at bead N-1). The positions x follow the Ornstein-Uhlenbeck process

    dx = A x dt + sqrt(2 D) dW,   A = (k/gamma) * tridiag(1, -2, 1),   D = diag(T) / gamma,

so every quantity below is exact (k_B = 1): the stationary covariance from the Lyapunov equation,
the continuous-time EP rate, the EP per frame that an estimator seeing frame pairs can reach at best,
and the log-ratio of forward to reversed pair densities for each observed transition.
Frames are sampled with the exact propagator, so they are the continuous process observed every dt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.linalg import expm, solve_continuous_lyapunov

from ..params import check, param


@dataclass(frozen=True)
class BeadSpringChain:
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
    def covariance(self) -> np.ndarray:
        """Stationary covariance C, solving A C + C A^T + 2 D = 0."""
        c = solve_continuous_lyapunov(self.drift, -2.0 * self.diffusion)
        return (c + c.T) / 2

    @property
    def propagator(self) -> np.ndarray:
        """E = exp(A dt): the mean of x_{t+dt} given x_t is E x_t."""
        return expm(self.drift * self.dt)

    # --- exact entropy production -----------------------------------------------------------------
    @property
    def ep_rate(self) -> float:
        """Continuous-time EP rate sigma = tr(A^T D^-1 A C) + tr(A)."""
        a, c = self.drift, self.covariance
        return float(np.trace(a.T @ np.linalg.solve(self.diffusion, a @ c)) + np.trace(a))

    def _pair_covariances(self) -> tuple[np.ndarray, np.ndarray]:
        c, e = self.covariance, self.propagator
        cross = e @ c  # Cov(x_{t+dt}, x_t)
        forward = np.block([[c, cross.T], [cross, c]])
        reverse = np.block([[c, cross], [cross.T, c]])
        return forward, reverse

    @property
    def ep_rate_two_frame(self) -> float:
        """sigma_2pt(dt): KL divergence between forward and reversed frame pairs, per unit time.

        It is the EP rate any estimator that sees pairs of frames converges to; it tends to sigma as
        dt -> 0 and falls below it at finite dt."""
        fwd, rev = self._pair_covariances()
        kl = 0.5 * (np.trace(np.linalg.solve(rev, fwd)) - fwd.shape[0])
        return float(kl / self.dt)

    def _pair_operators(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forward pair covariance P of w = (x, x') and the maps w -> dx, w -> x_mid."""
        n = self.beads
        eye = np.eye(n)
        return self._pair_covariances()[0], np.hstack([-eye, eye]), np.hstack([eye, eye]) / 2

    @property
    def tur_rate_linear(self) -> float:
        """Infinite-data value of the short-time TUR over the currents (x_mid)_b dx_a and dx_a at this dt,
        2 mu^T Sigma^-1 mu / dt, from exact Gaussian moments of frame pairs (Isserlis: the mean of w^T Q w is
        tr(Q P), covariances 2 tr(Q P Q' P); the dx_a have mean 0 and no covariance with them)."""
        p, d, m = self._pair_operators()
        n = self.beads
        q = [(np.outer(d[a], m[b]) + np.outer(m[b], d[a])) / 2 for a in range(n) for b in range(n)]
        mu = np.array([np.trace(qa @ p) for qa in q])
        cov = np.array([[2 * np.trace(qa @ p @ qb @ p) for qb in q] for qa in q])
        return float(2 * mu @ np.linalg.lstsq(cov, mu, rcond=None)[0] / self.dt)

    def projected_ep_rate(self, estimated_diffusion: bool = False) -> float:
        """Infinite-data value of the EP of the velocity <dx | x_mid> / dt projected on {1, x_b} at this dt,
        tr(D^-1 M C^-1 M^T) with M = <dx x_mid^T> / dt; with `estimated_diffusion`, D = <dx dx^T> / (2 dt)."""
        p, d, m = self._pair_operators()
        vel = d @ p @ m.T / self.dt
        diff = d @ p @ d.T / (2 * self.dt) if estimated_diffusion else self.diffusion
        return float(np.trace(np.linalg.solve(diff, vel @ np.linalg.solve(self.covariance, vel.T))))

    def transition_ep(self, positions: np.ndarray) -> np.ndarray:
        """Exact per-transition EP, ln p(x, x') / p(x', x), for consecutive frames.

        positions: (..., L, N) -> (..., L-1). The pair densities are Gaussian with equal determinants,
        so the log-ratio is the quadratic form w^T (Sigma_r^-1 - Sigma_f^-1) w / 2 with w = (x, x')."""
        fwd, rev = self._pair_covariances()
        q = 0.5 * (np.linalg.inv(rev) - np.linalg.inv(fwd))
        w = np.concatenate([positions[..., :-1, :], positions[..., 1:, :]], axis=-1)
        return np.einsum("...i,ij,...j->...", w, q, w)

    @property
    def ep_density(self) -> np.ndarray:
        """Per-bead EP rate (velocity decomposition), sigma_i = [D^-1 V C V^T]_ii with V = A + D C^-1.

        Non-negative, sums to sigma: the ground truth for where dissipation happens."""
        a, c, d = self.drift, self.covariance, self.diffusion
        v = a + d @ np.linalg.inv(c)
        return np.diag(np.linalg.solve(d, v @ c @ v.T)).copy()

    @property
    def heat_density(self) -> np.ndarray:
        """Per-bead medium EP rate (heat decomposition), h_i = [D^-1 A C A^T]_ii + A_ii: the heat bead i gives its
        bath per unit time over T_i. Sums to sigma, negative on beads that take heat from a hot bath."""
        a, c, d = self.drift, self.covariance, self.diffusion
        return np.diag(np.linalg.solve(d, a @ c @ a.T)).copy() + np.diag(a)

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

    # --- sampling ---------------------------------------------------------------------------------
    def sample(self, movies: int, frames: int, seed: int | None = None) -> np.ndarray:
        """Stationary trajectories, (movies, frames, beads) float64, started from the exact steady state."""
        if movies < 1 or frames < 1:
            raise ValueError("need at least one movie of at least one frame")
        rng = np.random.default_rng(seed)
        c, e = self.covariance, self.propagator
        noise = np.linalg.cholesky(c - e @ c @ e.T)
        x = np.empty((movies, frames, self.beads))
        x[:, 0] = rng.standard_normal((movies, self.beads)) @ np.linalg.cholesky(c).T
        for t in range(1, frames):
            x[:, t] = x[:, t - 1] @ e.T + rng.standard_normal((movies, self.beads)) @ noise.T
        return x

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
