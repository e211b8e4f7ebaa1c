"""How sure each pixel of a time-averaged dissipation map is: its standard error, and the pixels left in doubt.

Two sources of doubt, one per kind of run:

- seeds (K >= 2 networks trained with different seeds, evaluated on the same held-out windows): the spread of
  their K time-averaged maps (standard deviation, ddof 1) and the standard error of the mean map, spread / sqrt(K).
  It is what training leaves open; it rests on K - 1 degrees of freedom (one with two seeds), so a pixel's
  standard error is itself rough with few seeds.
- bootstrap (one seed, or a training-free estimator): the held-out windows cut into the verdict's blocks
  (`verdict.verdict_blocks`), resampled with replacement. Its standard error is taken in closed form, the limit
  of infinitely many resamples: sqrt(sum_b (S_b - n_b m)^2) / N, with S_b the summed map of block b, n_b its
  windows, m the mean map per window and N the held-out windows. For blocks of equal length that is the standard
  deviation of the block means over sqrt(B), exactly; otherwise it is the ratio's first order. It is the sampling
  noise of the held-out movie, for the estimator as trained.

A pixel is significant when its mean is further from 0 than a pixel without dissipation would be by chance in
4.6% of cases: Z = 2 standard errors for the bootstrap, whose standard error is nearly exact; for seeds the same
tail of Student's t with K - 1 degrees of freedom (14 standard errors with two seeds, 4.5 with four, 2.3 with ten),
since with few seeds the standard error is itself rough and a fixed 2 would pass a null pixel 30% of the time with
two. `hide_uncertain` sets the others to 0, which the overlay draws transparent.

    u = seed_uncertainty(seed_maps) or bootstrap_uncertainty(maps, movie, frame, held_out, window_time)
    u = u.at_resolution(frame_shape); summary["map_uncertainty"] = u.describe(mean_map)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from .maps import upsample
from .verdict import verdict_blocks

Z = 2.0                 # standard errors from 0 beyond which a pixel counts as significant
CHUNK_BYTES = 64 << 20  # map values read at a time from a (memory-mapped) maps array


@dataclass(frozen=True)
class MapUncertainty:
    method: str                         # "seeds" or "bootstrap"
    sem: np.ndarray                     # (H, W) standard error of the time-averaged map, per unit time
    seed_spread: np.ndarray | None = None   # (H, W) standard deviation over seeds (method "seeds")
    seeds: int | None = None
    blocks: int | None = None           # blocks resampled (method "bootstrap")

    def at_resolution(self, frame_shape: tuple[int, int]) -> MapUncertainty:
        """The same at frame resolution, scaled as `maps.upsample` scales the map (each cell spread evenly)."""
        return replace(self, sem=upsample(self.sem, frame_shape),
                       seed_spread=None if self.seed_spread is None else upsample(self.seed_spread, frame_shape))

    @property
    def threshold(self) -> float:
        """Standard errors from 0 beyond which a pixel is significant (the module's docstring says why)."""
        if self.method != "seeds":
            return Z
        return float(stats.t.ppf(stats.norm.cdf(Z), self.seeds - 1))

    def significant(self, mean_map: np.ndarray) -> np.ndarray:
        """Pixels whose mean is more than `threshold` standard errors from 0."""
        return np.abs(mean_map) > self.threshold * self.sem

    def hide_uncertain(self, mean_map: np.ndarray) -> np.ndarray:
        """The map with the pixels that are not significant set to 0."""
        return np.where(self.significant(mean_map), mean_map, 0).astype(mean_map.dtype)

    def describe(self, mean_map: np.ndarray) -> dict:
        """What summary.json records: the method, seeds or blocks, and the fraction of pixels significant."""
        out = {"method": self.method, "z": self.threshold, "significant_fraction": float(self.significant(mean_map).mean())}
        out.update({"seeds": self.seeds} if self.method == "seeds" else {"blocks": self.blocks})
        return out


def seed_uncertainty(seed_maps: np.ndarray) -> MapUncertainty:
    """From (K, h, w) time-averaged maps of K >= 2 seeds."""
    k = len(seed_maps)
    spread = np.std(np.asarray(seed_maps, np.float64), axis=0, ddof=1)
    return MapUncertainty("seeds", (spread / np.sqrt(k)).astype(np.float32), spread.astype(np.float32), seeds=k)


def bootstrap_uncertainty(maps: np.ndarray, movie: np.ndarray, frame: np.ndarray, held_out: np.ndarray,
                          per_time: float) -> MapUncertainty | None:
    """From (windows, h, w) per-window maps, in Run order (movie, frame of each window; held_out: the windows
    averaged); None with fewer than two blocks. Read in chunks, so a memory-mapped maps file is never loaded whole."""
    idx = np.flatnonzero(held_out)
    block = verdict_blocks(movie, frame, held_out)[2]
    n_blocks = int(block[-1]) + 1 if block.size else 0
    if n_blocks < 2:
        return None
    counts = np.bincount(block).astype(np.float64)
    # Sums are taken about a pilot mean (the first window's map), so that sum (S_b - n_b c)^2 loses no digits to
    # a mean far larger than the spread; the shift to the true mean m is exact: d_b = (S_b - n_b c) - n_b (m - c).
    pilot = np.asarray(maps[idx[0]], np.float64)
    total = np.zeros_like(pilot)            # sum_b (S_b - n_b c)
    squares = np.zeros_like(pilot)          # sum_b (S_b - n_b c)^2
    weighted = np.zeros_like(pilot)         # sum_b n_b (S_b - n_b c)
    step = max(1, CHUNK_BYTES // (4 * pilot.size))
    for b, summed in _block_sums(maps, idx, block, step):
        s = summed - counts[b] * pilot
        total += s
        squares += s * s
        weighted += counts[b] * s
    n = counts.sum()
    shift = total / n                       # m - c
    deviations = squares - 2 * shift * weighted + shift**2 * (counts**2).sum()
    sem = np.sqrt(np.maximum(deviations, 0)) / n / per_time
    return MapUncertainty("bootstrap", sem.astype(np.float32), blocks=n_blocks)


def _block_sums(maps: np.ndarray, idx: np.ndarray, block: np.ndarray, step: int):
    """(block, its summed map) of each block in turn, from the maps of windows `idx` read `step` at a time."""
    current, open_sum = 0, 0.0
    for a in range(0, idx.size, step):
        b = block[a:a + step]
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        sums = np.add.reduceat(np.asarray(maps[idx[a:a + step]]), starts, axis=0, dtype=np.float64)
        for k, s in zip(b[starts], sums):
            if k != current:
                yield current, open_sum
                current, open_sum = int(k), 0.0
            open_sum = open_sum + s
    yield current, open_sum
