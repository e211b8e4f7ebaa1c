"""Which windows of consecutive frames train, validate and test an estimator, gathered on the device."""

from __future__ import annotations

import numpy as np
import torch

from .errors import CneepError

PARTS = ("train", "val", "test")


def assign_parts(n_movies: int, n_frames: int, val_fraction: float, test_fraction: float,
                 seq_len: int) -> np.ndarray:
    """Part index (0 train, 1 val, 2 test) of every frame, (movies, frames).

    With three or more movies whole movies are held out (the last ones for test, the ones before for
    validation), so held-out data never touches a training frame. With fewer, each movie is cut into
    consecutive time blocks: train first, then validation, then test."""
    if not (0 < val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
        raise CneepError("validation and test fractions must be positive and sum to less than 1")
    parts = np.zeros((n_movies, n_frames), dtype=np.int8)
    n_test, n_val = round(test_fraction * n_movies), round(val_fraction * n_movies)
    if n_test >= 1 and n_val >= 1 and n_test + n_val < n_movies:
        parts[n_movies - n_test - n_val:] = 1
        parts[n_movies - n_test:] = 2
        return parts
    a = round((1 - val_fraction - test_fraction) * n_frames)
    b = round((1 - test_fraction) * n_frames)
    if min(a, b - a, n_frames - b) < seq_len:
        raise CneepError(f"movies of {n_frames} frames are too short to split into train, validation and "
                         f"test blocks of at least {seq_len} frames each; use longer or more movies")
    parts[:, a:b], parts[:, b:] = 1, 2
    return parts


def window_starts(parts: np.ndarray, seq_len: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Flat start index (movie * frames + t) and part of every window, tiled with `stride`.

    A window whose frames straddle two parts gets part -1 and counts nowhere."""
    n_movies, n_frames = parts.shape
    t = np.arange(0, n_frames - seq_len + 1, stride)
    first, last = parts[:, t], parts[:, t + seq_len - 1]
    label = np.where(first == last, first, -1).astype(np.int8)
    flat = (np.arange(n_movies)[:, None] * n_frames + t).astype(np.int64)
    return flat.ravel(), label.ravel()


class WindowGather:
    """Frames kept in their stored dtype on the device; windows gathered there by flat start index."""

    def __init__(self, frames: np.ndarray, seq_len: int, device: torch.device):
        stack = np.ascontiguousarray(frames.reshape(-1, *frames.shape[2:]))
        if stack.dtype == np.uint16:  # torch has no general uint16 arithmetic; int32 holds it exactly
            stack = stack.astype(np.int32)
        elif stack.dtype.kind == "f":
            stack = stack.astype(np.float32)
        self.frames = torch.from_numpy(stack).to(device)
        self.offsets = torch.arange(seq_len, device=device)

    def __call__(self, starts: torch.Tensor) -> torch.Tensor:
        return self.frames[starts[:, None] + self.offsets]


def frame_statistics(frames: np.ndarray, parts: np.ndarray, samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the training frames' pixels, from a random subset of frames."""
    idx = np.flatnonzero(parts.ravel() == 0)
    idx = np.random.default_rng(seed).choice(idx, size=min(samples, idx.size), replace=False)
    sub = frames.reshape(-1, *frames.shape[2:])[np.sort(idx)].astype(np.float64)
    return float(sub.mean()), float(sub.std()) or 1.0
