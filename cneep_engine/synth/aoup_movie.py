"""Movies of active particles: what a microscope shows of AOUPs, and the EP it can reach.

A movie shows where the particles are, never their propulsion, so sigma_A (the `sigma` of its sidecar) is out of
its reach. Its exact ceiling is the two-frame rate of the positions, `two_frame_rate(positions)`: 0 for trapped
particles that do not interact (each axis a stationary scalar Gaussian process, which is reversible: a movie of a
system dissipating sigma_A that no estimator can tell from equilibrium), 0.7602 k_B/s of the active pair's 9.6 at
gamma = 2. The per-transition EP of the sidecar is the positions' pair EP ln p(x, x') / p(x', x), the best any
estimator of two frames can assign (exactly 0 for trapped particles). Repelling particles have no exact ceiling:
their sidecar keeps the whole state's Monte Carlo sigma_A and per-frame heat, and says that it is out of reach.

Trapped particles are drawn in the plane (`ParticleRenderer`: one point emitter each through render2d's splat and
PSF, one fixed affine map from micrometres to pixels with the trap's centre in the middle of the frame, one
intensity scale). The active pair moves along x and is drawn as the bead-spring chain is (`BeadRenderer`: a blob
per particle in its own cell).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import CneepError
from ..movie import GroundTruth, Movie
from ..params import param
from .aoup import ActiveSampling, LinearAOUP, TrappedAOUP, hidden_note
from .aoup_interacting import Integration, Repulsion, simulate_interacting_aoup
from .render import BeadRenderer
from .render2d import Renderer2D


@dataclass(frozen=True)
class ParticleRenderer(Renderer2D):
    """Particles in the plane under the microscope: a point emitter each, the trap's centre in the frame's middle."""

    width: int = param(40, "frame width before binning; particles beyond the edge are not seen, and the "
                       "positions' ceiling assumes they are: leave room for several standard deviations",
                       unit="px", low=2, high=4096)
    height: int = param(40, "frame height before binning (a movie of particles in one dimension shows them "
                        "along the middle row)", unit="px", low=2, high=4096)
    pixel_size: float = param(0.5, "length per pixel, the one scale of every movie and frame", unit="µm",
                              above=0, label="Pixel size", decimals=4)

    def __post_init__(self):
        super().__post_init__()
        if self.crop:   # particles crossing a crop's edge: what it shows has no exact ceiling
            raise CneepError(f"--crop {self.crop}: a movie of particles is framed by --width and --height around "
                             "the trap; crop when training instead (cneep train --crop)")
        self.check_frame(self.frame_shape)

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def origin(self) -> np.ndarray:
        """Pixel (x, y) of the trap's centre, where a particle at the origin sits: the frame's middle."""
        return np.array([(self.width - 1) / 2, (self.height - 1) / 2])

    def pixels(self, positions: np.ndarray, dims: int) -> np.ndarray:
        """Positions (..., particles * dims) in µm, axes inner -> pixels (..., particles, 2) of the rendered frame:
        origin + x / pixel_size, one dimension along the middle row."""
        x = positions.reshape(*positions.shape[:-1], -1, dims) / self.pixel_size
        if dims == 1:
            x = np.concatenate([x, np.zeros_like(x)], axis=-1)
        return x + self.origin

    @property
    def scale(self) -> float:
        """The blurred image's brightest pixel of one particle on a pixel centre: shown as `peak` counts."""
        return self.point_peak(self.frame_shape)


def linear_movie(model: LinearAOUP, renderer: ParticleRenderer | BeadRenderer, sampling: ActiveSampling,
                 source: str) -> Movie:
    """Movies of linear AOUPs (exact propagator): sigma is sigma_A, sigma_2pt and ds the positions' own."""
    _check_dims(model, renderer)
    x = model.sample(sampling.movies, sampling.frames, seed=sampling.seed)[..., model.positions]
    video, drawn = _draw(model, renderer, x, sampling.seed)
    sigma_2pt = model.two_frame_rate(model.positions)
    params = {"system": source, **model.describe(), "integrator": "exact propagator", "sigma": model.sigma_a,
              "sigma_2pt": sigma_2pt, "transitions": "the positions' pair EP: the most two frames reveal",
              "hidden": hidden_note(model.sigma_a, sigma_2pt, movie=True), "movies": sampling.movies,
              "frames": sampling.frames, "seed": sampling.seed, **drawn}
    truth = GroundTruth(ds=model.transition_ep(x, model.positions), sigma=model.sigma_a, sigma_2pt=sigma_2pt,
                        positions=x, params=params)
    return _movie(model, renderer, video, truth)


def interacting_movie(model: TrappedAOUP, repulsion: Repulsion, integration: Integration,
                      renderer: ParticleRenderer, sampling: ActiveSampling) -> Movie:
    """Movies of repelling AOUPs: the positions of `simulate_interacting_aoup` drawn, with its truth."""
    _check_dims(model, renderer)
    data = simulate_interacting_aoup(model, repulsion, integration, sampling)
    video, drawn = _draw(model, renderer, data.data, sampling.seed)
    truth = replace(data.truth, positions=data.data, params={**data.truth.params, **drawn})
    return _movie(model, renderer, video, truth)


def _check_dims(model: LinearAOUP, renderer: ParticleRenderer | BeadRenderer) -> None:
    if isinstance(renderer, BeadRenderer) and model.dims != 1:
        raise CneepError(f"--dims {model.dims}: a movie of the pair shows its motion along x, drawn as the "
                         "bead-spring chain; use --dims 1, or --trajectories")
    if model.dims > 2:
        raise CneepError(f"--dims {model.dims}: a movie shows the plane; use --dims 1 or 2, or --trajectories")


def _draw(model: LinearAOUP, renderer: ParticleRenderer | BeadRenderer, x: np.ndarray, seed: int
          ) -> tuple[np.ndarray, dict]:
    """Positions x (movies, frames, particles * dims) -> the movies, drawn one by one, each with its own noise
    stream, and what the sidecar records of the drawing: the renderer and `frame`, the affine map (particle i at
    origin[i] + px_per_unit * its position, in the recorded frame), the intensity scale, and the fraction of
    positions inside the frame."""
    noise = np.random.SeedSequence(seed).spawn(len(x))
    particles = len(model.speeds)
    if isinstance(renderer, BeadRenderer):
        video = np.stack([renderer.render(p, seed=s) for p, s in zip(x, noise)])
        origin, shape = renderer.rest_positions(particles), (renderer.cell, particles * renderer.cell)
        points = origin + np.stack([x / renderer.pixel_size, np.zeros_like(x)], axis=-1)
        binning, scale = renderer.binning, None
        origin = (origin - (binning - 1) / 2) / binning
    else:
        shape, points = renderer.frame_shape, renderer.pixels(x, model.dims)
        scale, binning = renderer.scale, renderer.binning
        video = np.stack([renderer.render(p, shape, scale, seed=s) for p, s in zip(points, noise)])
        origin = renderer.in_frame(np.broadcast_to(renderer.origin, (particles, 2)))
    inside = ((points > -0.5) & (points < np.array(shape[::-1]) - 0.5)).all(axis=-1)
    return video, {"renderer": renderer.describe(), "frame": {
        "origin": origin.tolist(), "px_per_unit": 1 / (renderer.pixel_size * binning), "intensity_scale": scale,
        "in_view": float(inside.mean())}}


def _movie(model: LinearAOUP, renderer: ParticleRenderer | BeadRenderer, video: np.ndarray,
           truth: GroundTruth) -> Movie:
    return Movie(frames=video, dt=model.dt, pixel_size=renderer.pixel_size * renderer.binning,
                 dt_source="metadata", pixel_size_source="metadata", truth=truth)
