"""What a training-free estimator returns, and the held-out transitions and block bootstrap the estimators share.

Both estimators read a coordinate trajectory as transitions (x_t, x_{t+1}) labelled by the run's split
(`windows.assign_parts`): what they fit comes from the training and validation parts, what they report from the
held-out test part. Their error bars come from resampling blocks of consecutive test transitions, each at least
BLOCK_TAUS integrated autocorrelation times of the coordinates long and never spanning two trajectories, so the
slow fluctuations of the currents are inside the blocks (`verdict.blocks`; with short trajectories a block is a
whole trajectory)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import CneepError
from ..movie import Movie
from ..params import check, param
from ..trajectories import Trajectories
from ..verdict import BLOCK_TAUS, blocks, integrated_time, segments
from ..windows import PARTS, assign_parts, window_starts

TRAIN, VAL, TEST = (PARTS.index(p) for p in ("train", "val", "test"))


@dataclass(frozen=True)
class ClosedFormConfig:
    """Settings of the training-free estimators. The split (--val-fraction, --test-fraction) and --seed are the
    neural runs' own (TrainConfig), so both kinds of estimate come from the same held-out transitions."""

    bootstrap: int = param(200, "bootstrap resamples of the held-out blocks for the error bar", low=10,
                           high=100_000)
    diffusion: str = param("increments", "diffusion matrix from the increments, or from neighbouring increments "
                           "(robust to localisation noise)", choices=("increments", "noise-robust"),
                           only=("sfi", "pca-sfi"))
    components: int = param(8, "principal components of the movie to keep; the rate is also reported with "
                            "fewer, from 1 up (components_curve)", low=1, high=4096, only=("pca-sfi",))

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class Estimate:
    """An EP rate (k_B per unit time) on the held-out part, its bootstrap standard error, and what else the
    estimator infers. lower_bound: the estimator bounds sigma from below rather than estimating it.
    coefficients: named arrays in the data's units, e.g. the thermodynamic force F(x) = force @ x + force_offset.
    ds: the estimated EP of every transition (all parts, `window_starts(split, 2)` order) whose mean over the
    held-out ones is rate * dt; ds_by_coordinate: (transitions, n) its terms, which sum to it.
    coordinate_maps: for coordinates read off a movie, (n, H, W) how each spreads over the frame's pixels, each
    summing to 1, so that a transition's dissipation map ds_by_coordinate @ coordinate_maps sums to its ds.
    details: further JSON-ready results that the run's summary adds under their own names.
    network, history: a model-known estimator's fitted network (saved with the run as network.pt) and its
    training events (train_log.csv)."""

    rate: float
    rate_err: float
    debiased_rate: float | None = None
    lower_bound: bool = False
    coefficients: dict[str, np.ndarray] = field(default_factory=dict)
    transitions: int = 0           # held-out transitions the rate comes from
    blocks: int = 0                # bootstrap blocks they form
    ds: np.ndarray | None = None
    ds_by_coordinate: np.ndarray | None = None
    coordinate_maps: np.ndarray | None = None
    details: dict = field(default_factory=dict)
    network: object | None = None
    history: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """What a run's summary adds for this estimator, JSON-ready (debiased_rate only where it is defined)."""
        return {"lower_bound": self.lower_bound, "bootstrap_blocks": self.blocks,
                **({} if self.debiased_rate is None else {"debiased_rate": self.debiased_rate}),
                "coefficients": {k: np.asarray(v).tolist() for k, v in self.coefficients.items()}, **self.details}


@dataclass(frozen=True)
class Transitions:
    """Transitions whose two frames lie in the chosen parts: start x0, end x1, their trajectory and first frame."""

    x0: np.ndarray
    x1: np.ndarray
    series: np.ndarray
    frame: np.ndarray

    @property
    def dx(self) -> np.ndarray:
        return self.x1 - self.x0

    @property
    def midpoint(self) -> np.ndarray:
        """Stratonovich evaluation point (x_t + x_{t+1}) / 2."""
        return (self.x0 + self.x1) / 2


def series(data: Movie | Trajectories) -> int:
    """How many movies or trajectories `data` holds."""
    return data.n_movies if isinstance(data, Movie) else data.n_trajectories


def default_split(data: Movie | Trajectories) -> np.ndarray:
    """The split a training run with default settings would use."""
    from ..training import TrainConfig   # training builds on the estimators' table, so not at the top
    d = TrainConfig()
    return assign_parts(series(data), data.n_frames, d.val_fraction, d.test_fraction, seq_len=2)


def transitions(traj: Trajectories, split: np.ndarray | None, method: str,
                parts: tuple[int, ...] | None) -> Transitions:
    """The transitions of coordinate trajectories within `parts` of the split (None: all, those straddling two parts
    too), checked for what the estimators need."""
    if traj.kind != "coordinates":
        raise CneepError(f"{traj.name}: {method} needs coordinates, not discrete states")
    labels = default_split(traj) if split is None else np.asarray(split)
    if labels.shape != traj.data.shape[:2]:
        raise CneepError(f"{traj.name}: the split has shape {labels.shape}, the trajectories {traj.data.shape[:2]}")
    starts, part = window_starts(labels, 2)
    if parts is not None:
        starts = starts[np.isin(part, parts)]
    flat = np.asarray(traj.data).reshape(-1, traj.n_coordinates)
    x0, x1 = flat[starts].astype(np.float64), flat[starts + 1].astype(np.float64)
    if not (np.isfinite(x0).all() and np.isfinite(x1).all()):
        raise CneepError(f"{traj.name}: the coordinates contain NaN or infinite values")
    return Transitions(x0, x1, starts // traj.n_frames, starts % traj.n_frames)


def held_out_blocks(test: Transitions, name: str, *series: np.ndarray) -> np.ndarray:
    """Block index of each test transition: blocks of BLOCK_TAUS times the longest integrated autocorrelation
    time among the coordinates and the given per-transition series."""
    segment = segments(test.series, test.frame)
    taus = [integrated_time(s, segment) for s in (*test.x0.T, *series)]
    block, _ = blocks(segment, max(1, int(np.ceil(BLOCK_TAUS * max(taus)))))
    if block.size == 0 or block[-1] < 1:
        raise CneepError(f"{name}: the held-out part has {block.size} transitions, too few for two independent "
                         "blocks and an error bar; record longer or more movies or trajectories")
    return block


def block_sums(block: np.ndarray, stats: Callable[[slice], np.ndarray]) -> np.ndarray:
    """(blocks, k): `stats` of each block's contiguous slice of transitions, a vector of sums."""
    edges = np.r_[np.flatnonzero(np.diff(block)) + 1, block.size]
    return np.stack([stats(slice(a, b)) for a, b in zip(np.r_[0, edges[:-1]], edges)])


def bootstrap_error(sums: np.ndarray, statistic: Callable[[np.ndarray], float], n_boot: int, seed: int) -> float:
    """Standard error of `statistic` of the summed block statistics, from n_boot resamplings of the blocks."""
    n = len(sums)
    pick = np.random.default_rng(seed).integers(n, size=(n_boot, n))
    counts = np.zeros((n_boot, n))
    np.add.at(counts, (np.arange(n_boot)[:, None], pick), 1)
    values = [statistic(row) for row in counts @ sums]
    return float(np.std(values, ddof=1))
