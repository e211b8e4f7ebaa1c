"""Dissipation maps: where in the frame the predicted EP comes from.

A map at the network's feature resolution sums exactly to the window's dS (see CNEEP.ep_and_map).
`upsample` spreads each feature cell evenly over the pixels it covers, so the frame-resolution map keeps
that sum exactly and can be laid over the movie.
"""

from __future__ import annotations

import numpy as np

CHUNK = 1 << 16   # windows summed at a time


def _cell_of_pixel(n_pixels: int, n_cells: int) -> np.ndarray:
    return np.minimum(np.arange(n_pixels) * n_cells // n_pixels, n_cells - 1)


def upsample(maps: np.ndarray, frame_shape: tuple[int, int]) -> np.ndarray:
    """(..., h, w) feature-resolution maps -> (..., H, W), sum-preserving and piecewise constant."""
    h, w = maps.shape[-2:]
    rows, cols = _cell_of_pixel(frame_shape[0], h), _cell_of_pixel(frame_shape[1], w)
    area = np.outer(np.bincount(rows, minlength=h), np.bincount(cols, minlength=w)).astype(np.float32)
    return (maps / area)[..., rows[:, None], cols[None, :]]


def time_average(maps: np.ndarray, select: np.ndarray, per_time: float) -> np.ndarray:
    """Mean map over the selected windows, divided by the time a window spans: an EP rate density.

    Its sum is the EP rate over those windows. Summed in chunks: a copy of all selected maps at once would
    double the memory of a long run (and read a memory-mapped run's maps whole into memory)."""
    idx = np.flatnonzero(select)
    total = np.zeros(maps.shape[1:], np.float64)
    for a in range(0, len(idx), CHUNK):
        total += maps[idx[a:a + CHUNK]].sum(axis=0, dtype=np.float64)
    with np.errstate(invalid="ignore"):   # no windows selected: NaN, as the mean of nothing
        return (total / len(idx)).astype(np.float32) / per_time
