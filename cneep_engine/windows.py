"""Which windows of consecutive frames train, validate and test an estimator, gathered on the device."""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import torch

from .errors import CneepError
from .io.lazy import read_flat

log = logging.getLogger(__name__)

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


def data_budget(device: torch.device) -> int:
    """Bytes of frames that may be held on `device`: CNEEP_DATA_BUDGET (e.g. "2G", "512M") when set,
    otherwise half the device's free memory."""
    budget = bytes_from_env("CNEEP_DATA_BUDGET")
    return available_memory(device) // 2 if budget is None else budget


def available_memory(device: torch.device) -> int:
    """Free memory of the GPU, or the RAM available to a new allocation on the CPU (4 GB if unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
        return kib * 1024
    except (OSError, StopIteration, ValueError):
        return 4 << 30


def bytes_from_env(name: str) -> int | None:
    """A size such as "2G", "512M" or "1000000" from the environment variable `name`; None when unset."""
    text = os.environ.get(name, "").strip().upper()
    if not text:
        return None
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1], 1)
    try:
        return int(float(text.rstrip("KMGB") if scale > 1 else text) * scale)
    except ValueError:
        raise CneepError(f"{name}={text!r}: expected bytes, e.g. 2G or 512M") from None


def _device_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype frames are kept in on the device: their own where torch has arithmetic for it."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32):
        return dtype
    if dtype == np.uint16:   # torch has no general uint16 arithmetic; int32 holds it exactly
        return np.dtype(np.int32)
    if dtype == np.bool_:
        return np.dtype(np.uint8)
    return np.dtype(np.float32) if dtype.kind == "f" else np.dtype(np.int64)


class WindowGather:
    """Windows of seq_len consecutive frames by flat start index, as (B, seq_len, H, W) on the device.

    On a CPU, integer frames in memory or memory-mapped are indexed where they are. Otherwise a movie
    within the data budget is copied to the device once, read in chunks; a larger one stays in its file
    (memmap or lazy reader) and each call reads just the frames its windows need, so a movie larger than
    GPU or CPU memory streams instead of failing. All give the same windows."""

    def __init__(self, frames, seq_len: int, device: torch.device, budget: int | None = None):
        self.source, self.device = frames, torch.device(device)
        n = frames.shape[0] * frames.shape[1]
        self.dtype = _device_dtype(frames.dtype)
        self.nbytes = n * int(np.prod(frames.shape[2:])) * self.dtype.itemsize
        self.budget = data_budget(self.device) if budget is None else int(budget)
        self.streaming = self.nbytes > self.budget
        self.offsets = torch.arange(seq_len, device=self.device)
        self.frames = None
        if (self.device.type == "cpu" and isinstance(frames, np.ndarray) and frames.dtype == self.dtype
                and self.dtype.kind in "iu" and frames.flags.c_contiguous):
            # On the CPU an integer array (or a file's memory map) is indexed in place: no second copy of
            # the movie in memory, and the OS pages a file larger than RAM in and out by itself. Float
            # movies are still copied, as the copy is where NaNs are caught.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)   # a read-only memmap: it is never written
                self.frames = torch.from_numpy(frames).reshape(n, *frames.shape[2:])
            self.streaming = False
            return
        if self.streaming:
            log.info("%.3g GB of frames exceed the %.3g GB data budget on %s: streaming batches from the file",
                     self.nbytes / 1e9, self.budget / 1e9, self.device)
            return
        self.frames = torch.empty((n, *frames.shape[2:]), dtype=_TORCH[self.dtype], device=self.device)
        chunk = max(1, (64 << 20) // max(1, self.nbytes // n))
        for a in range(0, n, chunk):
            block = self._read(np.arange(a, min(n, a + chunk)))
            self.frames[a:a + len(block)] = torch.from_numpy(block).to(self.device)

    def _read(self, flat: np.ndarray) -> np.ndarray:
        block = np.ascontiguousarray(read_flat(self.source, flat), dtype=self.dtype)
        if self.dtype.kind == "f" and not np.isfinite(block).all():
            name = getattr(self.source, "name", None) or getattr(self.source, "filename", None) or "movie"
            raise CneepError(f"{name}: the frames contain NaN or infinite values")
        return block

    def __call__(self, starts: torch.Tensor) -> torch.Tensor:
        idx = starts[:, None] + self.offsets
        if not self.streaming:
            return self.frames[idx]
        wanted, back = np.unique(idx.cpu().numpy().ravel(), return_inverse=True)
        block = torch.from_numpy(self._read(wanted)).to(self.device)
        return block[torch.from_numpy(back.ravel()).to(self.device)].reshape(*idx.shape, *block.shape[1:])


_TORCH = {np.dtype(np.uint8): torch.uint8, np.dtype(np.int8): torch.int8, np.dtype(np.int16): torch.int16,
          np.dtype(np.int32): torch.int32, np.dtype(np.int64): torch.int64, np.dtype(np.float32): torch.float32}


def frame_statistics(frames, parts: np.ndarray, samples: int = 2000, seed: int = 0,
                     max_bytes: int = 256 << 20) -> tuple[float, float]:
    """Mean and standard deviation of the training frames' pixels, from a random subset of frames.

    At most `max_bytes` of stored frames are read, so a huge movie costs a bounded read."""
    idx = np.flatnonzero(parts.ravel() == 0)
    frame_bytes = int(np.prod(frames.shape[2:])) * np.dtype(frames.dtype).itemsize
    size = min(samples, idx.size, max(1, max_bytes // frame_bytes))
    idx = np.sort(np.random.default_rng(seed).choice(idx, size=size, replace=False))
    pixels = int(np.prod(frames.shape[2:]))
    if size * pixels * 8 <= 256 << 20:
        sub = read_flat(frames, idx).astype(np.float64)
        return float(sub.mean()), float(sub.std()) or 1.0
    total = total_sq = 0.0
    per_chunk = max(1, (32 << 20) // (pixels * 8))
    for part in np.array_split(idx, -(-size // per_chunk)):   # 32 MB of float64 at a time
        sub = read_flat(frames, part).astype(np.float64)
        total, total_sq = total + sub.sum(), total_sq + np.square(sub).sum()
    count = size * pixels
    mean = total / count
    return float(mean), float(np.sqrt(max(total_sq / count - mean * mean, 0.0))) or 1.0
