"""Frames read from their file only when asked for: a movie's shape and dtype without its bytes in memory.

`Movie.frames` is either a numpy array (in memory, or a read-only `numpy.memmap` of the file) or a
`LazyFrames`. Both index like a (movies, frames, height, width) array; `read_flat` reads frames by flat
number (movie * frames + t) from either.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from ..errors import CneepError

# (file frame numbers, ascending and unique) -> (n, H, W) frames as stored
Reader = Callable[[np.ndarray], np.ndarray]
# (frames (n, H0, W0), movie index of each (n,)) -> (n, H, W) frames as the movie shows them
Transform = Callable[[np.ndarray, np.ndarray], np.ndarray]


class LazyFrames:
    """(movies, frames, H, W) frames behind a reader; `index` holds the file frame number of each."""

    ndim = 4

    def __init__(self, read: Reader, index: np.ndarray, frame_shape: tuple[int, int], dtype,
                 transform: Transform | None = None, name: str = "movie"):
        self._read, self._transform, self.name = read, transform, name
        self.index = np.asarray(index, dtype=np.int64)
        if self.index.ndim != 2:
            raise ValueError("index must be (movies, frames)")
        self.shape = (*self.index.shape, *(int(n) for n in frame_shape))
        self.dtype = np.dtype(dtype)
        self._lock = threading.Lock()  # one reader at a time: file handles keep a position

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LazyFrames(shape={self.shape}, dtype={self.dtype}, source={self.name!r})"

    def read_flat(self, flat) -> np.ndarray:
        """Frames by flat number (movie * frames + t), (n, H, W), in the order asked."""
        flat = np.asarray(flat, dtype=np.int64).ravel()
        if flat.size == 0:
            return np.empty((0, *self.shape[2:]), dtype=self.dtype)
        src = self.index.ravel()[flat]
        wanted, back = np.unique(src, return_inverse=True)
        try:
            with self._lock:
                data = np.asarray(self._read(wanted))
        except CneepError:
            raise
        except Exception as e:  # a damaged page or packet deep inside a file the header promised
            raise CneepError(f"{self.name}: cannot read frames {wanted[0]}..{wanted[-1]} "
                             f"({type(e).__name__}: {e})") from e
        data = data[back.ravel()]
        if self._transform is not None:
            data = self._transform(data, flat // self.shape[1])
        return data.astype(self.dtype, copy=False)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (4 - len(key) + 1) + key[i + 1:]
        if len(key) > 4:
            raise IndexError(f"too many indices for a 4-D movie: {key!r}")
        key = key + (slice(None),) * (4 - len(key))
        grid = np.arange(self.shape[0] * self.shape[1]).reshape(self.shape[:2])[key[:2]]
        out = self.read_flat(grid.ravel()).reshape(*grid.shape, *self.shape[2:])
        return out[(Ellipsis, *key[2:])]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def read_flat(frames, flat) -> np.ndarray:
    """Frames by flat number from a (movies, frames, H, W) numpy array or LazyFrames, (n, H, W)."""
    if isinstance(frames, LazyFrames):
        return frames.read_flat(flat)
    flat = np.asarray(flat, dtype=np.int64).ravel()
    n_frames = frames.shape[1]
    return np.asarray(frames[flat // n_frames, flat % n_frames])  # touches only these frames of a memmap


def frames_from(data: np.ndarray | None, movies: int, read: Reader | None = None, n: int = 0,
                frame_shape: tuple[int, int] = (0, 0), dtype=None, name: str = "movie"):
    """A (frames, H, W) source cut into `movies` equal movies: a numpy view, or LazyFrames over `read`."""
    if data is not None:
        return data.reshape(movies, -1, *data.shape[1:])
    return LazyFrames(read, np.arange(n).reshape(movies, -1), frame_shape, dtype, name=name)


def is_lazy(frames) -> bool:
    """True when indexing reads the file: LazyFrames or a memmap."""
    return isinstance(frames, LazyFrames) or isinstance(frames, np.memmap) or (
        isinstance(frames, np.ndarray) and isinstance(frames.base, np.memmap))


def luminance(rgb: np.ndarray, channel: int | None) -> np.ndarray:
    """(..., S) colour samples -> one channel, or grey (ITU-R 601 weights, as FFmpeg's gray) in the same dtype."""
    if channel is not None:
        return rgb[..., channel]
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    grey = rgb[..., :3].astype(np.float32) @ weights
    if rgb.dtype.kind in "ui":
        return np.rint(grey).astype(rgb.dtype)
    return grey.astype(rgb.dtype)
