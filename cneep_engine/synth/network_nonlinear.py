"""The filament network with geometric springs: its nonlinear dynamics, and its EP rate by Monte Carlo.

Each bond pulls its two ends along the bond as it is now, Hookean in its current length L,

    f_p = k (L - l0) (r_q - r_p) / L   on end p (and -f_p on end q),   l0 = a - tau / k,

which is the linear network's force to first order in the displacements (its Jacobian at rest is -K, with the
prestress tau as the transverse stiffness tau / a), but turns with the bond and stretches it beyond that. Nodes
move overdamped, dr = (f / gamma) dt + sqrt(2 T / gamma) dW, by Euler-Maruyama in whole sub-steps of at most
`time_step` per frame interval. The trajectories start from the linear network's exact steady state and are
burnt in for `burn_in` time units (about 6 of its slowest relaxation times at the default 20) before the first
frame.

No closed form is left: the EP rate is the mean medium EP, the heat each node gives its bath over the bath's
temperature, f o dr / T, accumulated over the sub-steps with the trapezoid (Stratonovich) rule, f(r) + f(r')
over 2 times dr, the force at a sub-step's end starting the next. In a steady state the system entropy does not
change on average, so this mean is sigma (a Monte Carlo value with its standard error over the independent
trajectories), up to the integrator's O(time step) bias (+0.18% at 0.002 on the default network). The EP of a
transition is that medium EP plus the linearised system term, (u'^T C^-1 u' - u^T C^-1 u) / 2 with C the linear
covariance: it averages to zero in a steady state, so the mean stays sigma dt, and it makes a transition's value
close to its total EP, but a transition's value is not exact. There is no exact two-frame ceiling and no exact
per-node decomposition (the velocity density needs the steady density), so the truth carries sigma alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from ..errors import CneepError
from ..movie import GroundTruth, Movie
from ..params import check, param
from ..trajectories import Trajectories
from .network import FilamentNetwork, FilamentRenderer, frame_description, network_movie, render_movies
from .sampling import mean_and_error

# Largest Euler-Maruyama step times the fastest relaxation rate: the linear network's chain overestimates sigma by
# 0.92% at 0.057, in proportion to the step (exact; docs/benchmarks.md, "Nonlinear springs").
MAX_STEP_RATE = 0.06


@dataclass(frozen=True)
class GeometricSprings:
    """Whether the network's springs act along the bonds as they are (nonlinear) and how that is integrated."""

    nonlinear: bool = param(False, "geometric springs, pulling along each bond as it is now: the nonlinear "
                            "network, integrated by Euler-Maruyama, its EP rate sigma by Monte Carlo (no exact "
                            "two-frame ceiling, transitions or map)", label="Nonlinear springs")
    time_step: float = param(0.002, "Euler-Maruyama time step of the nonlinear network (the frame interval is split "
                             "into whole steps); its EP bias is +0.18% at 0.002 on the default network",
                             unit="s", above=0, decimals=5, step=0.001)
    burn_in: float = param(20.0, "time simulated and discarded before the first frame of the nonlinear network, "
                           "from the linear one's steady state", unit="s", low=0)

    def __post_init__(self):
        check(self)

    def substeps(self, network: FilamentNetwork) -> int:
        return max(1, round(network.dt / self.time_step))


@dataclass(frozen=True)
class SpringForces:
    """The geometric springs' forces on the free nodes, for many networks at once."""

    network: FilamentNetwork

    @cached_property
    def _incidence(self) -> np.ndarray:
        """(free, bonds): +1 where the free node is a bond's second end, -1 where it is its first."""
        net = self.network
        slot = np.full(net.n_nodes, -1)
        slot[net.free] = np.arange(len(net.free))
        out = np.zeros((len(net.free), len(net.bonds)))
        for end, sign in ((0, -1.0), (1, 1.0)):
            free_end = slot[net.bonds[:, end]] >= 0
            out[slot[net.bonds[free_end, end]], np.flatnonzero(free_end)] = sign
        return out

    @cached_property
    def _rest_bonds(self) -> np.ndarray:
        """(2, bonds) bond vectors r_q - r_p at rest."""
        r = self.network.rest_positions
        return (r[self.network.bonds[:, 1]] - r[self.network.bonds[:, 0]]).T

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Displacements (..., 2, free) of the free nodes (x row, y row) -> the forces on them, same shape."""
        net, g = self.network, self._incidence
        # one matrix product over all rows (numpy's stacked products go one small matrix at a time: 3x slower)
        d = self._rest_bonds + (u.reshape(-1, g.shape[0]) @ g).reshape(*u.shape[:-1], g.shape[1])   # r_q - r_p
        length = np.sqrt(d[..., :1, :] ** 2 + d[..., 1:, :] ** 2)
        on_first = net.k * (1 - (1 - net.prestress / net.k) / length) * d    # k (L - l0) d / L on end p
        return -(on_first.reshape(-1, g.shape[1]) @ g.T).reshape(u.shape)


def integrate(network: FilamentNetwork, springs: GeometricSprings, trajectories: int, frames: int,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Displacements (trajectories, frames, dof) of the free nodes in the steady state of the geometric springs,
    and the medium EP of every frame interval (trajectories, frames - 1)."""
    force = SpringForces(network)
    n_sub = springs.substeps(network)
    h = network.dt / n_sub
    fastest = -np.linalg.eigvalsh(network.drift).min()
    if h * fastest > MAX_STEP_RATE:
        raise CneepError(f"--time-step {springs.time_step:g}: Euler-Maruyama steps of {h:g} s are too coarse for "
                         f"this network's fastest relaxation rate {fastest:.3g}/s (its EP would be about 1% or more "
                         f"too high); use at most {MAX_STEP_RATE / fastest:.2g}")
    temps = network.temperatures[network.free]
    noise = np.sqrt(2 * temps * h / network.gamma)
    rng = np.random.default_rng(seed)
    # (trajectories, 2, free): x and y rows, so that the bonds' matrix products run over the free nodes
    u = network.sample(trajectories, 1, seed=rng)[:, 0].reshape(trajectories, -1, 2).transpose(0, 2, 1).copy()
    out = np.empty((trajectories, frames, 2, len(temps)))
    medium = np.zeros((trajectories, frames - 1))
    f = force(u)
    for t in range(-round(springs.burn_in / h), (frames - 1) * n_sub + 1):
        if t >= 0 and t % n_sub == 0:
            out[:, t // n_sub] = u
            if t == (frames - 1) * n_sub:
                break
        u_next = u + f * (h / network.gamma) + noise * rng.standard_normal(u.shape)
        f_next = force(u_next)
        if t >= 0:
            medium[:, t // n_sub] += (((f + f_next) * (u_next - u)).sum(1) / temps).sum(1) / 2
        u, f = u_next, f_next
    if not (np.isfinite(out).all() and np.isfinite(medium).all()):
        raise CneepError(f"--nonlinear: the network tangled (a bond shrank to a point) at --tc {network.tc:g}: "
                         "lower --tc or --time-step")
    return out.transpose(0, 1, 3, 2).reshape(trajectories, frames, -1), medium


def nonlinear_truth(network: FilamentNetwork, springs: GeometricSprings, displacements: np.ndarray,
                    medium: np.ndarray, params: dict) -> GroundTruth:
    """sigma as the mean medium EP rate with its standard error over the trajectories; ds as the medium EP plus
    the linearised system term. `params` (the sampling) join the system's settings."""
    sigma, err = mean_and_error(medium.mean(1) / network.dt)
    precision = np.linalg.inv(network.covariance)
    quad = np.einsum("...i,ij,...j->...", displacements, precision, displacements) / 2
    params = {**network.settings(), **asdict(springs), **params, "integrator": "Euler-Maruyama, geometric springs",
              "substeps": springs.substeps(network), "sigma": sigma, "sigma_err": err,
              "sigma_linear": network.ep_rate, "sigma_exact": False, "sigma_2pt_exact": False,
              "ds": "medium EP (trapezoid) plus the linearised system term: mean exact, a transition's value not"}
    return GroundTruth(ds=medium + np.diff(quad, axis=1), sigma=sigma, sigma_2pt=sigma, positions=displacements,
                       params=params)


def simulate_nonlinear_network(network: FilamentNetwork, springs: GeometricSprings, renderer: FilamentRenderer,
                               movies: int = 1, frames: int = 1000, seed: int = 0) -> Movie:
    """Movies of the network with geometric springs, drawn as the linear one's are, with the Monte Carlo truth
    (of all the nodes, whatever the crop shows: sigma is then an upper bound)."""
    renderer.check_frame(renderer.frame_shape(network))
    displacements, medium = integrate(network, springs, movies, frames, seed)
    video = render_movies(network, renderer, displacements, seed)
    frame = frame_description(network, renderer, renderer.visible_nodes(network))
    del frame["sites"]   # the exact densities are the linear network's
    truth = nonlinear_truth(network, springs, displacements, medium,
                            {"renderer": renderer.describe(), "movies": movies, "frames": frames, "seed": seed,
                             "frame": frame})
    return network_movie(network, renderer, video, truth)


def simulate_nonlinear_network_trajectories(network: FilamentNetwork, springs: GeometricSprings,
                                            trajectories: int = 1, frames: int = 1000, seed: int = 0
                                            ) -> Trajectories:
    """The free nodes' displacements behind `simulate_nonlinear_network`'s movies (the same seed, the same draws)."""
    displacements, medium = integrate(network, springs, trajectories, frames, seed)
    truth = nonlinear_truth(network, springs, displacements, medium,
                            {"trajectories": trajectories, "frames": frames, "seed": seed})
    return Trajectories(data=displacements, dt=network.dt, dt_source="metadata", labels=network.coordinate_labels(),
                        truth=truth, provenance={"format": "simulated", "source": "filament network"})
