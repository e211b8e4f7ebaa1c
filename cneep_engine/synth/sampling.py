"""How much of a synthetic system to simulate, declared once for the CLI, the app and `cneep list`, and the error of
a Monte Carlo mean over what was simulated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import check, param


@dataclass(frozen=True)
class Sampling:
    """Rendered movies, or trajectories of the coordinates behind them, all started in the steady state."""

    # 20 x 5000 frames (80 MB of the default movie) simulate in about a second and give the default training
    # enough transitions not to overfit (10 x 2000 frames gave R^2 0.80 and a rate 27% low: docs/benchmarks.md,
    # "The README demo").
    movies: int = param(20, "movies to render", low=1, high=100_000)
    trajectories: int | None = param(None, "write this many trajectories of the coordinates instead of movies "
                                     "(.npy, .npz or .csv)", low=1, high=100_000)
    frames: int = param(5000, "frames per movie or trajectory", low=2, high=100_000_000)
    seed: int = param(0, "random seed: the same seed gives the same draws, as movies or as trajectories", low=0,
                      high=2**32 - 1)

    def __post_init__(self):
        check(self)

    @property
    def kind(self) -> str:
        return "movie" if self.trajectories is None else "coordinates"

    @property
    def series(self) -> int:
        """How many movies or trajectories to simulate."""
        return self.movies if self.trajectories is None else self.trajectories


@dataclass(frozen=True)
class TrajectorySampling:
    """Trajectories of coordinates, for systems written as tracks only, all started in the steady state."""

    trajectories: int = param(1, "trajectories to write (.npy, .npz or .csv)", low=1, high=100_000)
    frames: int = param(1000, "frames per trajectory", low=2, high=100_000_000)
    seed: int = param(0, "random seed", low=0, high=2**32 - 1)

    def __post_init__(self):
        check(self)


def mean_and_error(per_trajectory: np.ndarray) -> tuple[float, float | None]:
    """Mean over independent trajectories and its standard error (None from one trajectory)."""
    k = len(per_trajectory)
    err = float(per_trajectory.std(ddof=1) / np.sqrt(k)) if k > 1 else None
    return float(per_trajectory.mean()), err
