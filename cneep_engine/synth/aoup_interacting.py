"""Interacting AOUPs in a harmonic trap (Boffi & Vanden-Eijnden's few-particle system): EP without a closed form.

The particles of `TrappedAOUP` also repel each other with a soft core,

    f(r) = k softplus_beta(2R - |r|) r/|r|,   softplus_beta(u) = ln(1 + exp(beta u)) / beta,

which makes the dynamics nonlinear: there is no closed form, but the EP rate in convention A (translational
noise eps > 0; see `aoup`) is an average over the steady state, two ways:

- the static formula sigma_A = <|b_x|^2> / eps + <div_x b_x>, with b_x = v0 g + sum_j f(x_i - x_j) - A x_i:
  in a steady state the system entropy does not change on average, so the EP is the mean medium EP, and the
  propulsion's own heat term averages to zero (its dynamics is autonomous and reversible). No score needed;
- the per-step medium sum: the heat of every step over eps, b_x(z)+b_x(z') over 2 times dx (trapezoid,
  Stratonovich), accumulated per frame. Its mean is the rate; a frame's value is not that frame's total EP
  (it lacks the change of ln rho, which is unknown here), so it serves as the per-transition EP for the rate,
  not for judging an estimate transition by transition.

Both come with standard errors over the (independent) trajectories. Forces come from a neighbour list
(`neighbours`, all trajectories in one k-d tree, each in its own layer of an extra axis), so a step costs about
N times the neighbours within reach rather than N^2. Positions follow Euler-Maruyama with a few sub-steps per frame; the propulsion decays exactly, g' = e^(-gamma h) g + sqrt(1 - e^(-2 gamma h)) xi.
Euler-Maruyama overestimates the EP by O(h): keep h lambda_max small (0.005 at k = 2.5 agrees with 0.0025
within the errors). Trajectories start from the non-interacting steady state (exact draw) and are burnt in.
No exact two-frame ceiling exists; sigma_2pt is set to sigma, the upper bound, and marked not exact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import expit

from ..movie import GroundTruth
from ..params import check, param
from ..trajectories import Trajectories
from .aoup import ActiveSampling, TrappedAOUP, hidden_note
from .neighbours import NeighbourList, minimum_image
from .sampling import mean_and_error

TAIL = 20.0   # pairs beyond 2R + TAIL / beta are left out: their push is below k e^-TAIL / beta
SKIN = 0.6    # the neighbour list's skin, in units of R


@dataclass(frozen=True)
class Repulsion:
    """The soft repulsion between particles."""

    repulsion: float = param(2.5, "k, strength of the soft repulsion between particles (0: none, then the EP is "
                             "exact)", unit="µm/s", low=0, label="Repulsion k")
    sharpness: float = param(7.5, "beta, sharpness of the repulsion's softplus (large: a hard core)", unit="1/µm",
                             above=0, label="Sharpness β")
    radius: float = param(1.0, "R, particle radius: particles repel within 2R", unit="µm", above=0)

    def __post_init__(self):
        check(self)

    def push(self, dist: np.ndarray) -> np.ndarray:
        """phi(r) = k softplus_beta(2R - r), the force's magnitude at distance r."""
        return self.repulsion * np.logaddexp(0.0, self.sharpness * (2 * self.radius - dist)) / self.sharpness

    def push_slope(self, dist: np.ndarray) -> np.ndarray:
        """phi'(r) = -k sigmoid(beta (2R - r))."""
        return -self.repulsion * expit(self.sharpness * (2 * self.radius - dist))

    @property
    def reach(self) -> float:
        """Distance beyond which pairs are left out (`TAIL`)."""
        return 2 * self.radius + TAIL / self.sharpness

    def forces(self, x: np.ndarray, divergence: bool = False):
        """Force on each particle from all the others, (M, N, d) -> (M, N, d); with `divergence`, also
        sum_i div_{x_i} of it, (M,). The reference for `pair_forces`."""
        r = x[:, :, None, :] - x[:, None, :, :]                 # x_i - x_j
        dist = np.sqrt((r ** 2).sum(-1))
        apart = ~np.eye(x.shape[1], dtype=bool)
        inv = np.where(apart, 1.0 / np.where(apart, dist, 1.0), 0.0)
        magnitude = self.push(dist) * apart
        f = ((magnitude * inv)[..., None] * r).sum(2)
        if not divergence:
            return f
        # div (phi(r) r/|r|) = phi'(r) + phi(r) (d - 1) / r.
        div = (self.push_slope(dist) * apart + magnitude * (x.shape[2] - 1) * inv).sum((1, 2))
        return f, div


def pair_forces(x: np.ndarray, i: np.ndarray, j: np.ndarray, box: float | None, repulsion: Repulsion,
                divergence: bool = False):
    """Force on each particle (N, d) from the pairs (i, j), nearest images in a periodic `box` (None: none); with
    `divergence`, also each particle's div_{x_i} of its force, (N,)."""
    n, d = x.shape
    r = x[i] - x[j] if box is None else minimum_image(x[i] - x[j], box)
    dist = np.sqrt((r * r).sum(1))
    push = repulsion.push(dist) / dist
    f = np.empty_like(x)
    for c in range(d):
        fc = push * r[:, c]
        f[:, c] = np.bincount(i, fc, n) - np.bincount(j, fc, n)
    if not divergence:
        return f
    # div (phi(r) r/|r|) = phi'(r) + phi(r) (d - 1) / r, the same for both particles of a pair.
    term = repulsion.push_slope(dist) + push * (d - 1)
    return f, np.bincount(i, term, n) + np.bincount(j, term, n)


@dataclass(frozen=True)
class Integration:
    """How the nonlinear dynamics is integrated."""

    time_step: float = param(0.005, "Euler-Maruyama time step of the positions (interacting particles only; the "
                             "frame interval is split into whole steps)", unit="s", above=0, decimals=5,
                             step=0.001)
    burn_in: float = param(200.0, "time simulated and discarded before the first frame (interacting particles "
                           "only), from the non-interacting steady state", unit="s", low=0)

    def __post_init__(self):
        check(self)


def simulate_interacting_aoup(model: TrappedAOUP, repulsion: Repulsion, integration: Integration,
                              sampling: ActiveSampling) -> Trajectories:
    """Stationary trajectories of repelling AOUPs with sigma_A from the static formula (`sigma`) and the per-step
    medium sum (`ds`, its mean in params as sigma_A_medium), each with its standard error."""
    rng = np.random.default_rng(sampling.seed)
    m, n, d = sampling.series, model.particles, model.dims
    substeps = max(1, round(model.dt / integration.time_step))
    h, eps = model.dt / substeps, model.eps
    decay = np.exp(-model.gamma * h)
    kick, noise = np.sqrt(1 - decay ** 2), np.sqrt(2 * eps * h)

    skin = SKIN * repulsion.radius
    neighbours = NeighbourList(None, repulsion.reach, skin)
    # trajectory k lies in the plane (or line) at k * layer on an extra axis: too far from the others to pair
    layer = np.repeat(np.arange(m), n)[:, None] * 2.0 * (repulsion.reach + skin)

    def drift(x, g, divergence=False):
        flat = x.reshape(m * n, d)
        f = pair_forces(flat, *neighbours.pairs(np.concatenate([flat, layer], axis=1)), None, repulsion, divergence)
        f, div = f if divergence else (f, None)
        b = model.v0 * g + f.reshape(m, n, d) - model.trap * x
        return (b, div.reshape(m, n).sum(1) - model.trap * n * d) if divergence else b

    z = model.sample(m, 1, seed=rng)[:, 0]
    x, g = z[:, :n * d].reshape(m, n, d), z[:, n * d:].reshape(m, n, d)
    b = drift(x, g)
    frames, written = sampling.frames, 2 if sampling.propulsion else 1
    out = np.empty((m, frames, written, n, d))
    ds = np.zeros((m, frames - 1))
    static = np.empty((m, frames))
    for t in range(-round(integration.burn_in / h), (frames - 1) * substeps + 1):
        if t >= 0 and t % substeps == 0:
            b, div = drift(x, g, divergence=True)
            static[:, t // substeps] = (b ** 2).sum((1, 2)) / eps + div
            out[:, t // substeps, 0] = x
            if sampling.propulsion:
                out[:, t // substeps, 1] = g
        if t == (frames - 1) * substeps:
            break
        x_next = x + b * h + noise * rng.standard_normal(x.shape)
        g = decay * g + kick * rng.standard_normal(g.shape)
        b_next = drift(x_next, g)
        if t >= 0:
            ds[:, t // substeps] += ((b + b_next) * (x_next - x)).sum((1, 2)) / (2 * eps)
        x, b = x_next, b_next

    sigma, sigma_err = mean_and_error(static.mean(1))
    medium, medium_err = mean_and_error(ds.mean(1) / model.dt)
    params = {"system": "aoup", **asdict(model), **asdict(repulsion), **asdict(integration), **asdict(sampling),
              "integrator": "Euler-Maruyama positions, exact propulsion decay", "substeps": substeps,
              "interaction_cutoff": repulsion.reach, "neighbour_list_skin": skin,
              "convention": "A: translational noise eps, propulsion even under time reversal",
              "sigma_A": sigma, "sigma_A_err": sigma_err, "sigma_A_medium": medium, "sigma_A_medium_err": medium_err,
              "sigma_A_free": model.sigma_a, "sigma_exact": False, "sigma_2pt_exact": False}
    if not sampling.propulsion:
        params["hidden"] = hidden_note(sigma, None, movie=sampling.trajectories is None)
    labels = model.labels[:n * d * written]
    # (m, frames, written, n, d) -> positions of every particle, then propulsions: the order of `labels`.
    data = out.reshape(m, frames, written * n * d)
    truth = GroundTruth(ds=ds, sigma=sigma, sigma_2pt=sigma, params=params)
    return Trajectories(data=data, dt=model.dt, dt_source="metadata", labels=labels, truth=truth,
                        provenance={"format": "simulated", "source": "aoup"})

