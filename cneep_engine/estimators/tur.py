"""Short-time thermodynamic uncertainty relation (TUR) over a linear basis of currents, in closed form.

For any current J accumulated over one step of length dt, sigma >= 2 <J>^2 / (Var J dt) (k_B per unit time), an
equality as dt -> 0 when J is the entropy production itself. Over the basis of per-step increments
j_t = ((x_mid)_b dx_a for all a, b; dx_a), x_mid = (x_t + x_{t+1}) / 2 (Stratonovich), the best J = c.j has
c = Sigma^-1 mu (mu, Sigma: mean and covariance of j per step). For a linear (Ornstein-Uhlenbeck) system the EP
is in this basis, so the bound is tight as dt -> 0 there. c is fitted on the training and validation transitions
and the ratio taken on the held-out ones: fitted and scored on the same data it would favour their noise.
The ratio keeps the sign of the held-out mean current, so that at equilibrium it scatters about 0.
Each step's EP is estimated as the current scaled to the rate: with m and v the held-out mean and variance of J per
step, dS_t = (2 |m| / v) J_t has held-out mean 2 m |m| / v = rate * dt (at the optimum m = v and dS = 2 J).
"""

from __future__ import annotations

import numpy as np

from ..errors import CneepError
from ..trajectories import Trajectories
from .base import TEST, TRAIN, VAL, Estimate, Transitions, block_sums, bootstrap_error, held_out_blocks, transitions

CHUNK = 1 << 14   # transitions per block of currents: bounded memory for any length, a few MB in cache


def currents(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """(T, n*n + n) per-step increments of the basis currents: (x_mid)_b dx_a at column a*n + b, then dx_a."""
    dx, mid = x1 - x0, (x0 + x1) / 2
    n = dx.shape[1]
    j = np.empty((len(dx), n * n + n))
    for a in range(n):   # n products of (T, n) arrays: a (T, n, n) broadcast and its copy cost 3x the time
        np.multiply(dx[:, a:a + 1], mid, out=j[:, a * n:(a + 1) * n])
    j[:, n * n:] = dx
    return j


def tur_ratio(total: float, total_sq: float, count: float, dt: float) -> float:
    """2 m |m| / (v dt) for the mean m and variance v per step of a current, from its sums."""
    m = total / count
    var = total_sq / count - m * m
    return 2 * m * abs(m) / (var * dt) if var > 0 else float("nan")


def estimate_tur(traj: Trajectories, split: np.ndarray | None = None, *, n_boot: int = 200,
                 seed: int = 0) -> Estimate:
    """The cross-fitted TUR bound on the held-out transitions of `split` (`windows.assign_parts`; None: the
    default split of a run) with its bootstrap error, and the thermodynamic force F(x) = force @ x + force_offset
    of the best current, scaled so that F(x_mid).dx estimates each step's EP."""
    fit, test = transitions(traj, split, "TUR", (TRAIN, VAL)), transitions(traj, split, "TUR", (TEST,))
    if len(fit.x0) < 2:
        raise CneepError(f"{traj.name}: no training transitions to fit the TUR current on")
    center = fit.x0.mean(0)   # conditioning: currents of coordinates far from 0 are nearly parallel to dx
    n = traj.n_coordinates
    total, products = np.zeros(n * n + n), np.zeros((n * n + n, n * n + n))
    for a in range(0, len(fit.x0), CHUNK):
        j = currents(fit.x0[a:a + CHUNK] - center, fit.x1[a:a + CHUNK] - center)
        total += j.sum(0)
        products += j.T @ j
    mu = total / len(fit.x0)
    cov = products / len(fit.x0) - np.outer(mu, mu)
    c = np.linalg.lstsq(cov, mu, rcond=None)[0]
    weights = c[:n * n].reshape(n, n)

    def current(tr: Transitions) -> np.ndarray:   # c.j, without forming j
        return np.einsum("ta,ta->t", tr.dx, (tr.midpoint - center) @ weights.T) + tr.dx @ c[n * n:]

    s = current(test)
    block = held_out_blocks(test, traj.name, s)
    sums = block_sums(block, lambda b: np.array([s[b].sum(), (s[b] ** 2).sum(), s[b].size]))
    rate = lambda t: tur_ratio(*t, traj.dt)  # noqa: E731
    # At the optimum <J> = sigma dt and Var J = 2 sigma dt, so J = 2 c.j is the EP of a step.
    force = 2 * weights
    m, v = s.mean(), s.var()
    return Estimate(rate=rate(sums.sum(0)), rate_err=bootstrap_error(sums, rate, n_boot, seed), lower_bound=True,
                    coefficients={"force": force, "force_offset": 2 * c[n * n:] - force @ center},
                    transitions=len(s), blocks=len(sums),
                    ds=2 * abs(m) / v * current(transitions(traj, split, "TUR", None)))
