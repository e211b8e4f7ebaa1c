"""Projected entropy production in the manner of stochastic force inference (SFI), over a linear basis.

The phase-space velocity v(x) = <dx | x_mid> / dt (Stratonovich: x_mid = (x_t + x_{t+1}) / 2) is projected by least
squares on the basis {1, x_b} of each coordinate: v(x) = A x + b. With y = (x, 1), M = sum_t dx_t y(x_mid)^T / tau
and Y = <y(x_t) y(x_t)^T>, the projection is v = M Y^-1 y and, with the diffusion matrix D, its EP rate is
sigma = <v^T D^-1 v> = tr(D^-1 M Y^-1 M^T) (k_B per unit time). The noise in M biases this plug-in value up,
by 2 / tau for each coefficient it makes noisy (tau: the observed time). At the midpoint, dx_a and
(x_mid)_a dx_b + (x_mid)_b dx_a = d(x_a x_b) are exact differentials: their sums telescope to the ends of each
trajectory, so only the n (n - 1) / 2 antisymmetric coefficients are noisy and the bias is n (n - 1) / tau, not the
2 N_b / tau = 2 n (n + 1) / tau of an Ito estimate (docs/benchmarks.md measures both); debiased_rate subtracts it.
D is given (a simulation's) or estimated from the same increments: <dx dx^T> / (2 dt), or, robust to independent
localisation noise, (<dx_t dx_t^T> + <dx_t dx_{t+1}^T> + <dx_{t+1} dx_t^T>) / (2 dt), where the noise's
contributions cancel. Everything is measured on the held-out part of the split, as the neural estimators' rates.
Each step's EP is estimated as the Stratonovich increment dS_t = v(x_mid)^T D^-1 dx_t = sum_a F_a dx_a (F = D^-1 v,
the thermodynamic force; the terms are kept per coordinate): summed over the held-out steps it is
tr(D^-1 M Y^-1 M^T) tau, so its held-out mean is the plug-in rate times dt.
"""

from __future__ import annotations

import numpy as np

from ..errors import CneepError
from ..trajectories import Trajectories
from .base import TEST, Estimate, block_sums, bootstrap_error, held_out_blocks, transitions

NOISE_ROBUST = "noise-robust"


def _diffusion_matrix(diffusion, n: int, name: str) -> np.ndarray | None:
    """A given D as an (n, n) matrix (a number: isotropic; n numbers: diagonal); None to estimate it."""
    if diffusion is None or (isinstance(diffusion, str) and diffusion == NOISE_ROBUST):
        return None
    if isinstance(diffusion, str):
        raise CneepError(f"{name}: diffusion must be a matrix, a number or {NOISE_ROBUST!r}, not {diffusion!r}")
    d = np.asarray(diffusion, np.float64)
    d = d * np.eye(n) if d.ndim == 0 else np.diag(d) if d.ndim == 1 else d
    if d.shape != (n, n) or not np.all(np.linalg.eigvalsh((d + d.T) / 2) > 0):
        raise CneepError(f"{name}: the diffusion matrix must be positive definite and {n} x {n}")
    return d


def estimate_sfi(traj: Trajectories, split: np.ndarray | None = None, *, diffusion=None, n_boot: int = 200,
                 seed: int = 0) -> Estimate:
    """Projected EP rate on the held-out transitions of `split` (`windows.assign_parts`; None: the default split
    of a run), plug-in and debiased, with the bootstrap error of the plug-in value.

    diffusion: D in the data's units per unit time (matrix, per-coordinate numbers or one number), None to
    estimate it from the increments, "noise-robust" to estimate it from neighbouring increments.
    Coefficients: the projected velocity v(x) = velocity @ x + velocity_offset, the diffusion matrix used, and the
    Ito drift b(x) = drift @ x + drift_offset fitted on the same basis (what `--drift RUN` passes on)."""
    test = transitions(traj, split, "SFI", (TEST,))
    n, dt = traj.n_coordinates, traj.dt
    given = _diffusion_matrix(diffusion, n, traj.name)
    robust = given is None and diffusion == NOISE_ROBUST
    center = test.x0.mean(0) if len(test.x0) else np.zeros(n)
    ones = np.ones((len(test.x0), 1))
    y0 = np.hstack([test.x0 - center, ones])
    ymid = np.hstack([test.midpoint - center, ones])
    dx = test.dx
    block = held_out_blocks(test, traj.name)
    # whether the next transition follows on in time: blocks merged down to their maximum number can span two
    followed = np.r_[(test.series[1:] == test.series[:-1]) & (test.frame[1:] == test.frame[:-1] + 1), False]
    sizes = (n * (n + 1), (n + 1) ** 2, n * n, n * n)

    def stats(b: slice) -> np.ndarray:
        d, pair = dx[b], followed[b][:-1]
        return np.concatenate([(d.T @ ymid[b]).ravel(), (y0[b].T @ y0[b]).ravel(), (d.T @ d).ravel(),
                               (d[:-1][pair].T @ d[1:][pair]).ravel(), [len(d), pair.sum()]])

    # The Ito drift b(x) = <dx | x_t> / dt on the same basis, for a model-known estimator given this run (--drift).
    ito = np.linalg.solve(y0.T @ y0, y0.T @ dx).T / dt

    sums = block_sums(block, stats)

    def solve(t: np.ndarray):
        sdy, syy, sdd, snb = (a.reshape(-1, n + 1 if i < 2 else n)
                              for i, a in enumerate(np.split(t[:-2], np.cumsum(sizes)[:-1])))
        count, pairs = t[-2:]
        tau = count * dt
        m, yy = sdy / tau, syy / count
        if given is not None:
            d = given
        elif robust:
            d = (sdd / count + (snb + snb.T) / pairs) / (2 * dt)
        else:
            d = sdd / (2 * tau)
        return float(np.trace(np.linalg.solve(d, m @ np.linalg.solve(yy, m.T)))), m, yy, d, tau

    rate, m, yy, d, tau = solve(sums.sum(0))
    v = np.linalg.solve(yy, m.T).T    # (n, n + 1): velocity per centred coordinate, then the constant
    every = transitions(traj, split, "SFI", None)
    velocity = (every.midpoint - center) @ v[:, :n].T + v[:, n]
    by_coordinate = np.linalg.solve(d, velocity.T).T * every.dx    # F_a dx_a, F = D^-1 v the thermodynamic force
    return Estimate(rate=rate, rate_err=bootstrap_error(sums, lambda t: solve(t)[0], n_boot, seed),
                    debiased_rate=rate - n * (n - 1) / tau,
                    coefficients={"velocity": v[:, :n], "velocity_offset": v[:, n] - v[:, :n] @ center,
                                  "diffusion": d, "drift": ito[:, :n], "drift_offset": ito[:, n] - ito[:, :n] @ center},
                    transitions=len(dx), blocks=len(sums), ds=by_coordinate.sum(1), ds_by_coordinate=by_coordinate)
