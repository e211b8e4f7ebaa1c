"""Dissipation maps: where in the frame the predicted EP comes from.

A map at the network's feature resolution sums exactly to the window's dS (see CNEEP.ep_and_map).
`upsample` spreads each feature cell evenly over the pixels it covers, so the frame-resolution map keeps
that sum exactly and can be laid over the movie.
"""

from __future__ import annotations

import numpy as np


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

    Its sum is the EP rate over those windows."""
    return maps[select].mean(axis=0, dtype=np.float64).astype(np.float32) / per_time
