"""Linear stochastic dynamics (an Ornstein-Uhlenbeck process) and everything about its EP in closed form.

A system whose coordinates x follow

    dx = A x dt + sqrt(2 D) dW

is Gaussian at every time, so its stationary covariance (Lyapunov equation), its EP rate, the best rate an
estimator of frame pairs can reach at a frame interval dt, the EP of every observed transition and the infinite-
data values of the training-free estimators are all exact (k_B = 1). Frames are sampled with the exact
propagator, so they are the continuous process observed every dt (`linear_trajectories` writes them with
their ground truth). A system subclasses `LinearDiffusion` and
defines `drift` (A), `diffusion` (D) and `dt`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy.linalg import expm, solve_continuous_lyapunov

from ..movie import GroundTruth
from ..trajectories import Trajectories


def _exact(value: float, scale: float) -> float:
    """An exact rate computed as the difference of terms of size `scale`: 0 within their rounding (at equilibrium,
    or the positions of a reversible process), not a residue of either sign that differs between CPUs and would be
    shown as a rate."""
    return 0.0 if abs(value) < 1e-12 * scale else float(value)


class LinearDiffusion:
    """Exact EP of dx = A x dt + sqrt(2 D) dW observed every dt; subclasses define drift, diffusion and dt."""

    drift: np.ndarray
    diffusion: np.ndarray
    dt: float

    @property
    def dimension(self) -> int:
        return self.drift.shape[0]

    # Systems are frozen dataclasses, so these are solved once per instance (and kept read-only).
    @cached_property
    def covariance(self) -> np.ndarray:
        """Stationary covariance C, solving A C + C A^T + 2 D = 0."""
        c = solve_continuous_lyapunov(self.drift, -2.0 * self.diffusion)
        c = (c + c.T) / 2
        c.setflags(write=False)
        return c

    @cached_property
    def propagator(self) -> np.ndarray:
        """E = exp(A dt): the mean of x_{t+dt} given x_t is E x_t."""
        e = expm(self.drift * self.dt)
        e.setflags(write=False)
        return e

    # --- exact entropy production -----------------------------------------------------------------
    @property
    def ep_rate(self) -> float:
        """Continuous-time EP rate sigma = tr(A^T D^-1 A C) + tr(A)."""
        a, c = self.drift, self.covariance
        return _exact(np.trace(a.T @ np.linalg.solve(self.diffusion, a @ c)) + np.trace(a), abs(np.trace(a)))

    def _window_covariances(self, k: int, observed=None) -> tuple[np.ndarray, np.ndarray]:
        """Covariances of k consecutive frames (x_t, ..., x_{t+k-1}) and of the same frames reversed, of the
        coordinates `observed` (indices; None: all). Block (i, j), i >= j, is Cov(x_{t+i}, x_{t+j}) = E^(i-j) C.
        A Gaussian's marginal is the same block of its covariance, so partial observation is exact."""
        lags = [self.covariance]
        for _ in range(k - 1):
            lags.append(self.propagator @ lags[-1])
        if observed is not None:
            keep = np.ix_(np.asarray(observed), np.asarray(observed))
            lags = [lag[keep] for lag in lags]
        forward = np.block([[lags[i - j] if i >= j else lags[j - i].T for j in range(k)] for i in range(k)])
        n = len(lags[0])
        order = np.concatenate([np.arange(n) + n * i for i in reversed(range(k))])
        return forward, forward[np.ix_(order, order)]

    def _pair_covariances(self, observed=None) -> tuple[np.ndarray, np.ndarray]:
        """Covariances of (x, x') for the forward and the reversed pair (see `_window_covariances`)."""
        return self._window_covariances(2, observed)

    @property
    def ep_rate_two_frame(self) -> float:
        """sigma_2pt(dt): KL divergence between forward and reversed frame pairs, per unit time.

        It is the EP rate any estimator that sees pairs of frames converges to; it tends to sigma as
        dt -> 0 and falls below it at finite dt."""
        return self.two_frame_rate()

    def two_frame_rate(self, observed=None) -> float:
        """sigma_2pt(dt) of the coordinates `observed` (None: all): the best rate from pairs of what is seen."""
        return self.window_rate(2, observed)

    def window_rate(self, k: int, observed=None) -> float:
        """KL divergence between forward and reversed windows of k frames of the coordinates `observed`, per unit
        time, KL / ((k - 1) dt): the best rate an estimator of such windows reaches. Constant in k when every
        coordinate is seen (Markov); with hidden ones it can fall as well as rise with k."""
        fwd, rev = self._window_covariances(k, observed)
        n = fwd.shape[0]
        return _exact(0.5 * (np.trace(np.linalg.solve(rev, fwd)) - n), n) / ((k - 1) * self.dt)

    def window_ep(self, windows: np.ndarray, observed=None) -> np.ndarray:
        """ln p(w) / p(reversed w) of stationary windows of k frames of the coordinates `observed`, (..., k, n)
        -> (...): the best EP any estimator of those windows can assign (a quadratic form, as for a pair)."""
        k = windows.shape[-2]
        fwd, rev = self._window_covariances(k, observed)
        q = 0.5 * (np.linalg.inv(rev) - np.linalg.inv(fwd))
        w = windows.reshape(*windows.shape[:-2], -1)
        return np.einsum("...i,ij,...j->...", w, q, w)

    def _pair_operators(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forward pair covariance P of w = (x, x') and the maps w -> dx, w -> x_mid."""
        eye = np.eye(self.dimension)
        return self._pair_covariances()[0], np.hstack([-eye, eye]), np.hstack([eye, eye]) / 2

    @property
    def tur_rate_linear(self) -> float:
        """Infinite-data value of the short-time TUR over the currents (x_mid)_b dx_a and dx_a at this dt,
        2 mu^T Sigma^-1 mu / dt, from exact Gaussian moments of frame pairs (Isserlis: the mean of w^T Q w is
        tr(Q P), covariances 2 tr(Q P Q' P); the dx_a have mean 0 and no covariance with them)."""
        p, d, m = self._pair_operators()
        n = self.dimension
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

    def transition_ep(self, positions: np.ndarray, observed=None) -> np.ndarray:
        """Exact per-transition EP, ln p(x, x') / p(x', x), for consecutive frames; with `observed` (indices),
        of those coordinates' pair density, the best any estimator of them can assign.

        positions: (..., L, n) -> (..., L-1), n the coordinates given (all, or the observed ones). The pair
        densities are Gaussian with equal determinants, so the log-ratio is the quadratic form
        w^T (Sigma_r^-1 - Sigma_f^-1) w / 2 with w = (x, x')."""
        fwd, rev = self._pair_covariances(observed)
        q = 0.5 * (np.linalg.inv(rev) - np.linalg.inv(fwd))
        w = np.concatenate([positions[..., :-1, :], positions[..., 1:, :]], axis=-1)
        return np.einsum("...i,...i->...", w @ q, w)   # the product through BLAS: einsum's own loop is slow

    @property
    def ep_density(self) -> np.ndarray:
        """Per-coordinate EP rate (velocity decomposition), sigma_i = [D^-1 V C V^T]_ii with V = A + D C^-1.

        Non-negative, sums to sigma: the ground truth for where dissipation happens."""
        a, c, d = self.drift, self.covariance, self.diffusion
        v = a + d @ np.linalg.inv(c)
        return np.diag(np.linalg.solve(d, v @ c @ v.T)).copy()

    @property
    def heat_density(self) -> np.ndarray:
        """Per-coordinate medium EP rate (heat decomposition) for a diagonal D, h_i = [D^-1 A C A^T]_ii + A_ii:
        the heat coordinate i gives its bath per unit time over the bath's temperature. Sums to sigma; negative
        on coordinates that a hotter bath heats."""
        a, c, d = self.drift, self.covariance, self.diffusion
        return np.diag(a @ c @ a.T) / np.diag(d) + np.diag(a)

    def power(self, forces: np.ndarray, on: np.ndarray) -> np.ndarray:
        """Mean power <f o dx_on>/dt of linear forces f = F x, each acting on its coordinates `on`: forces (m, r, n),
        on (m, r) indices -> (m,). Stratonovich, as heat is: <f . A_on x> plus the noise's part, the sum over c of
        D_cc dF_c/dx_c, for a diagonal D."""
        a, c, d = self.drift, self.covariance, np.diag(self.diffusion)
        drift_on = a[on]                                                   # (m, r, n)
        noise = np.take_along_axis(forces, on[..., None], axis=-1)[..., 0] * d[on]
        return np.einsum("mri,ij,mrj->m", forces, c, drift_on) + noise.sum(axis=-1)

    # --- sampling ---------------------------------------------------------------------------------
    def sample(self, movies: int, frames: int, seed: int | None = None) -> np.ndarray:
        """Stationary trajectories, (movies, frames, n) float64, started from the exact steady state."""
        if movies < 1 or frames < 1:
            raise ValueError("need at least one movie of at least one frame")
        rng = np.random.default_rng(seed)
        c, e = self.covariance, self.propagator
        noise = np.linalg.cholesky(c - e @ c @ e.T)
        n = self.dimension
        x = np.empty((movies, frames, n))
        x[:, 0] = rng.standard_normal((movies, n)) @ np.linalg.cholesky(c).T
        for t in range(1, frames):
            x[:, t] = x[:, t - 1] @ e.T + rng.standard_normal((movies, n)) @ noise.T
        return x


def linear_trajectories(model: LinearDiffusion, trajectories: int, frames: int, seed: int, labels: list[str],
                        params: dict, observed=None) -> Trajectories:
    """Exact stationary trajectories of `model` with the exact EP of every transition of the whole state;
    with `observed` (indices), only those coordinates are written and sigma_2pt is theirs. `params` (the
    system's name and settings) go into the ground truth with sigma and sigma_2pt."""
    x = model.sample(trajectories, frames, seed=seed)
    sigma, sigma_2pt = model.ep_rate, model.two_frame_rate(observed)
    truth = GroundTruth(ds=model.transition_ep(x), sigma=sigma, sigma_2pt=sigma_2pt,
                        params={**params, "sigma": sigma, "sigma_2pt": sigma_2pt, "dt": model.dt,
                                "trajectories": trajectories, "frames": frames, "seed": seed})
    if observed is not None:
        x, labels = x[..., observed], [labels[i] for i in observed]
    return Trajectories(data=x, dt=model.dt, dt_source="metadata", labels=labels, truth=truth,
                        provenance={"format": "simulated", "source": params["system"]})
