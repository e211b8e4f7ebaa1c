"""The in-memory movie every estimator, map and view works on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .sites import SiteTruth


@dataclass
class GroundTruth:
    """Exact entropy production of a synthetic movie (k_B = 1)."""

    ds: np.ndarray                  # (movies, frames - 1) exact EP of each transition
    sigma: float                    # continuous-time EP rate, per unit time
    sigma_2pt: float                # best rate reachable from frame pairs at this dt, per unit time
    positions: np.ndarray | None = None   # (movies, frames, beads) coordinates behind the frames
    params: dict = field(default_factory=dict)   # everything the generator was given
    sites: SiteTruth | None = None   # where the exact EP sits in the frame: per-site densities, bonds (movies)
    # Particle systems: a value of every particle in every frame, name -> (series, frames, particles), e.g. each
    # particle's heat density, whose sum over particles averages to sigma.
    particles: dict[str, np.ndarray] = field(default_factory=dict)
    # Partially observed systems only: windows of observations (..., n) -> the exact EP that the best estimator
    # of those observations assigns, ln P(w) / P(reversed w). Not saved with the data; ds stays the full EP.
    observed_window_ep: Callable[[np.ndarray], np.ndarray] | None = None

    def __post_init__(self):
        # A sidecar cannot store a function: the generator rebuilds it from the parameters it saved.
        p = self.params
        if self.observed_window_ep is None and p.get("system") == "flashing ratchet" and p.get("partial"):
            from .synth.ratchet import FlashingRatchet   # here, not above: synth builds on this module
            self.observed_window_ep = FlashingRatchet(p["potential"], p["rate"]).observed_window_ep
        if self.observed_window_ep is None and p.get("system") in ("aoup", "active-pair"):
            from .synth.aoup import positions_window_ep
            self.observed_window_ep = positions_window_ep(p)
        if self.sites is None and p.get("system") == "bead-spring":   # sidecars written before sites were stored
            from .synth import sites_from_params
            self.sites = sites_from_params(p)

    def window_ep(self, starts: np.ndarray, seq_len: int) -> np.ndarray:
        """Exact EP of windows of seq_len frames given by flat start index (movie * frames + t).

        A window's EP is the sum over its transitions: for a Markov process the log-ratio of forward to
        reversed path probabilities telescopes into exactly that."""
        n_frames = self.ds.shape[1] + 1
        cum = np.concatenate([np.zeros((len(self.ds), 1)), np.cumsum(self.ds, axis=1)], axis=1)
        m, t = starts // n_frames, starts % n_frames
        return cum[m, t + seq_len - 1] - cum[m, t]

    def best_window_ep(self, observations: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
        """For a partially observed system (observed_window_ep set), the best reachable EP of each window of
        `observations` (trajectories, frames, ...) given by flat start index."""
        n_frames = observations.shape[1]
        m, t = starts // n_frames, starts % n_frames
        return self.observed_window_ep(np.asarray(observations)[m[:, None], t[:, None] + np.arange(seq_len)])


@dataclass
class Movie:
    """One or several movies of equal size: frames is (movies, frames, height, width).

    frames may be a numpy array, a read-only memmap of the file, or `io.lazy.LazyFrames` (read on demand);
    all index alike. provenance says where the frames came from: file, reader, options (saved with a run)."""

    frames: np.ndarray
    dt: float = 1.0                 # frame interval, seconds
    pixel_size: float = 1.0         # micrometres per pixel
    dt_source: str = "default"      # where dt came from: metadata, default or user
    pixel_size_source: str = "default"
    path: Path | None = None
    truth: GroundTruth | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def n_movies(self) -> int:
        return self.frames.shape[0]

    @property
    def n_frames(self) -> int:
        return self.frames.shape[1]

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.frames.shape[2], self.frames.shape[3]

    @property
    def name(self) -> str:
        return str(self.path) if self.path else "movie"
