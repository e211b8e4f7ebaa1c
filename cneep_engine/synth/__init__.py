"""Synthetic movies whose entropy production is known exactly."""

from __future__ import annotations

import numpy as np

from ..movie import GroundTruth, Movie
from .bead_spring import BeadSpringChain
from .render import BeadRenderer

__all__ = ["BeadSpringChain", "BeadRenderer", "simulate_bead_spring"]


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
                        sigma_2pt=chain.ep_rate_two_frame, positions=positions, params=params)
    return Movie(frames=video, dt=chain.dt, pixel_size=renderer.pixel_size * renderer.binning,
                 dt_source="metadata", pixel_size_source="metadata", truth=truth)
