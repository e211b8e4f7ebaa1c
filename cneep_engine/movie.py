"""The in-memory movie every estimator, map and view works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class GroundTruth:
    """Exact entropy production of a synthetic movie (k_B = 1)."""

    ds: np.ndarray                  # (movies, frames - 1) exact EP of each transition
    sigma: float                    # continuous-time EP rate, per unit time
    sigma_2pt: float                # best rate reachable from frame pairs at this dt, per unit time
    positions: np.ndarray | None = None   # (movies, frames, beads) coordinates behind the frames
    params: dict = field(default_factory=dict)   # everything the generator was given


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
