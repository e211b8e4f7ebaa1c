"""Synthetic movies and trajectories whose entropy production is known exactly."""

from __future__ import annotations

from dataclasses import asdict, fields

import numpy as np

from ..errors import CneepError
from ..movie import GroundTruth, Movie
from ..sites import SiteTruth
from ..trajectories import Trajectories
from .aoup import ActivePair, ActiveSampling, TrappedAOUP, simulate_linear_aoup
from .aoup_interacting import Integration, Repulsion, simulate_interacting_aoup
from .aoup_movie import ParticleRenderer, interacting_movie, linear_movie
from .bead_spring import BeadSpringChain
from .double_well import RotatedDoubleWell
from .driven import BrownianGyrator, CurlTrap, TiltedRing, simulate_ring
from .gaussian_mixture import DrivenGaussianMixture
from .linear import LinearDiffusion, linear_trajectories
from .network import FilamentNetwork, FilamentRenderer, simulate_network, simulate_network_trajectories
from .network_nonlinear import (GeometricSprings, simulate_nonlinear_network,
                                simulate_nonlinear_network_trajectories)
from .ratchet import SITES, FlashingRatchet, RatchetSampling
from .render import BeadRenderer
from .sampling import Sampling, TrajectorySampling
from .steady import steady_trajectories

__all__ = ["ActivePair", "ActiveSampling", "BeadSpringChain", "BeadRenderer", "BrownianGyrator", "CurlTrap",
           "DrivenGaussianMixture", "FilamentNetwork", "FilamentRenderer", "FlashingRatchet", "GeometricSprings",
           "Integration", "ParticleRenderer", "RatchetSampling", "Repulsion", "RotatedDoubleWell", "Sampling",
           "TiltedRing", "TrajectorySampling", "TrappedAOUP", "active_pair", "aoup", "bead_spring", "bead_spring_sites",
           "curl_trap", "gyrator", "network", "ratchet", "ring", "simulate_bead_spring",
           "simulate_bead_spring_trajectories", "simulate_network", "simulate_network_trajectories",
           "simulate_nonlinear_network", "simulate_nonlinear_network_trajectories", "simulate_ratchet",
           "steady_trajectories"]


def simulate_bead_spring(chain: BeadSpringChain = BeadSpringChain(), renderer: BeadRenderer = BeadRenderer(),
                         movies: int = 1, frames: int = 1000, seed: int = 0) -> Movie:
    """Stationary bead-spring movies with their exact per-transition EP.

    Length is in micrometres and time in seconds (k = gamma = 1 in those units)."""
    positions = chain.sample(movies, frames, seed=seed)
    # Render movie by movie (bounded memory), each with its own noise stream derived from the seed.
    noise_seeds = np.random.SeedSequence(seed).spawn(movies)
    video = np.stack([renderer.render(p, seed=s) for p, s in zip(positions, noise_seeds)])
    params = {**chain.describe(), "renderer": renderer.describe(), "movies": movies, "frames": frames,
              "seed": seed}
    truth = GroundTruth(ds=chain.transition_ep(positions), sigma=chain.ep_rate,
                        sigma_2pt=chain.ep_rate_two_frame, positions=positions, params=params,
                        sites=bead_spring_sites(chain, renderer))
    return Movie(frames=video, dt=chain.dt, pixel_size=renderer.pixel_size * renderer.binning,
                 dt_source="metadata", pixel_size_source="metadata", truth=truth)


def bead_spring_sites(chain: BeadSpringChain, renderer: BeadRenderer) -> SiteTruth:
    """The beads at rest in the rendered frame with their exact velocity and heat densities, and the springs
    (walls at the frame's left and right edges) with their EP. A bead's cell is the part of the frame nearest to
    it, hence the radius: half the cell's diagonal."""
    rest = renderer.rest_positions(chain.beads)
    ends = np.array([[rest[p] if p is not None else (0, rest[0, 1]),
                      rest[q] if q is not None else (chain.beads * renderer.cell, rest[0, 1])]
                     for p, q in chain.bonds], dtype=np.float64)
    name = lambda i: "wall" if i is None else str(i)  # noqa: E731
    sites = SiteTruth(labels=tuple(f"bead {i}" for i in range(chain.beads)), pixels=rest,
                      velocity=chain.ep_density, heat=chain.heat_density, radius=renderer.cell / np.sqrt(2),
                      bond_labels=tuple(f"{name(p)}-{name(q)}" for p, q in chain.bonds), bond_ends=ends,
                      bond_ep=chain.bond_ep)
    return sites.in_frame(binning=renderer.binning)


def sites_from_params(params: dict) -> SiteTruth | None:
    """The sites of a bead-spring movie rebuilt from the parameters its ground truth recorded; None for any other
    data, or parameters this version cannot read."""
    if params.get("system") != "bead-spring" or "renderer" not in params:
        return None
    try:
        chain = BeadSpringChain(**{f.name: params[f.name] for f in fields(BeadSpringChain)})
        renderer = BeadRenderer(**{k: v for k, v in params["renderer"].items()
                                   if k in {f.name for f in fields(BeadRenderer)}})
    except (KeyError, TypeError, ValueError, CneepError):
        return None
    return bead_spring_sites(chain, renderer)


def simulate_bead_spring_trajectories(chain: BeadSpringChain = BeadSpringChain(), trajectories: int = 1,
                                      frames: int = 1000, seed: int = 0) -> Trajectories:
    """Stationary bead displacements (trajectories, frames, beads) with their exact per-transition EP.

    The same draws as `simulate_bead_spring` with the same seed: the positions behind its movies."""
    return linear_trajectories(chain, trajectories, frames, seed, [f"x{i + 1}" for i in range(chain.beads)],
                               chain.describe())


def simulate_ratchet(ratchet: FlashingRatchet = FlashingRatchet(), trajectories: int = 1, steps: int = 100_000,
                     partial: bool = False, seed: int = 0) -> Trajectories:
    """Flashing-ratchet state series, one step per unit time, with the exact EP of every transition.

    partial: only the position 0, 1, 2 is seen, not whether the potential is on. The ground truth stays
    the full chain's: sigma is the full EP per step, which no estimator of the positions can exceed, and
    sigma_2pt the part that pairs of positions reveal; truth.observed_window_ep scores each window of
    positions against the best any estimator of them can do."""
    states = ratchet.sample(trajectories, steps, seed=seed)
    params = {**ratchet.describe(), "dt": 1.0, "partial": partial, "trajectories": trajectories, "steps": steps,
              "seed": seed}
    truth = GroundTruth(ds=ratchet.transition_ep(states), sigma=ratchet.ep_per_step,
                        sigma_2pt=ratchet.ep_per_step_positions if partial else ratchet.ep_per_step, params=params)
    n = SITES if partial else 2 * SITES
    return Trajectories(data=states % n, dt=1.0, dt_source="metadata", n_states=n, labels=list(range(n)),
                        truth=truth, provenance={"format": "simulated", "source": "flashing ratchet"})


# Each system as the registry runs it: one instance of each of its declared settings in, data with its truth out.

def bead_spring(chain: BeadSpringChain, renderer: BeadRenderer, sampling: Sampling) -> Movie | Trajectories:
    if sampling.trajectories is not None:
        return simulate_bead_spring_trajectories(chain, sampling.trajectories, sampling.frames, sampling.seed)
    return simulate_bead_spring(chain, renderer, sampling.movies, sampling.frames, sampling.seed)


def network(model: FilamentNetwork, springs: GeometricSprings, renderer: FilamentRenderer,
            sampling: Sampling) -> Movie | Trajectories:
    """Movies, or the node trajectories behind them; with geometric springs, of the nonlinear network."""
    series, frames, seed = sampling.trajectories, sampling.frames, sampling.seed
    if springs.nonlinear:
        if series is not None:
            return simulate_nonlinear_network_trajectories(model, springs, series, frames, seed)
        return simulate_nonlinear_network(model, springs, renderer, sampling.movies, frames, seed)
    if series is not None:
        return simulate_network_trajectories(model, series, frames, seed)
    return simulate_network(model, renderer, sampling.movies, frames, seed)


def ratchet(model: FlashingRatchet, sampling: RatchetSampling) -> Trajectories:
    return simulate_ratchet(model, sampling.trajectories, sampling.steps, sampling.partial, sampling.seed)


def aoup(model: TrappedAOUP, repulsion: Repulsion, integration: Integration, renderer: ParticleRenderer,
         sampling: ActiveSampling) -> Movie | Trajectories:
    linear = model.particles == 1 or repulsion.repulsion == 0   # no interaction: linear, exact
    if sampling.trajectories is None:
        return (linear_movie(model, renderer, sampling, "aoup") if linear else
                interacting_movie(model, repulsion, integration, renderer, sampling))
    if linear:
        return simulate_linear_aoup(model, sampling, "aoup")
    return simulate_interacting_aoup(model, repulsion, integration, sampling)


def active_pair(model: ActivePair, renderer: BeadRenderer, sampling: ActiveSampling) -> Movie | Trajectories:
    if sampling.trajectories is None:
        return linear_movie(model, renderer, sampling, "active-pair")
    return simulate_linear_aoup(model, sampling, "active-pair")


def _linear(name: str, model: LinearDiffusion, sampling: TrajectorySampling) -> Trajectories:
    params = {"system": name, **asdict(model), "ep_density": model.ep_density.tolist()}
    return linear_trajectories(model, sampling.trajectories, sampling.frames, sampling.seed, ["x", "y"], params)


def gyrator(model: BrownianGyrator, sampling: TrajectorySampling) -> Trajectories:
    return _linear("gyrator", model, sampling)


def curl_trap(model: CurlTrap, sampling: TrajectorySampling) -> Trajectories:
    return _linear("curl-trap", model, sampling)


def ring(model: TiltedRing, sampling: TrajectorySampling) -> Trajectories:
    return simulate_ring(model, sampling)
