"""NumPy arrays: .npy (memory-mapped, read-only) and .npz (the array named `frames`, or the only one)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import CneepError
from ..movie import Movie

SUFFIXES = (".npy", ".npz")


def read_array(path: Path, channel: int | None = None, z: int | None = None) -> Movie:
    return (read_npy if path.suffix.lower() == ".npy" else read_npz)(path, channel, z)


NPY_MAGIC = b"\x93NUMPY"


def check_npy(path: Path) -> None:
    """Refuse a file that is not an .npy array before numpy, seeing no header, takes it for a pickle."""
    try:
        with open(path, "rb") as f:
            start = f.read(len(NPY_MAGIC))
    except OSError as e:
        raise CneepError(f"{path}: cannot read the file ({e.strerror or e})") from e
    if start != NPY_MAGIC:
        raise CneepError(f"{path}: not a NumPy .npy file (it lacks the .npy header; was another kind of file "
                         "given this name?)")


def read_npy(path: Path, channel: int | None = None, z: int | None = None) -> Movie:
    _no_choice(path, channel, z)
    check_npy(path)
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise CneepError(f"{path}: not a readable .npy array ({e})") from e
    return _movie(path, data, "numpy .npy (memmap)")


def read_npz(path: Path, channel: int | None = None, z: int | None = None) -> Movie:
    _no_choice(path, channel, z)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = archive.files
            name = "frames" if "frames" in names else names[0] if len(names) == 1 else None
            if name is None:
                raise CneepError(f"{path}: holds arrays {', '.join(names) or 'none'}; "
                                 "name the movie 'frames' or keep one array")
            data = archive[name]
    except CneepError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise CneepError(f"{path}: not a readable .npz archive ({type(e).__name__}: {e})") from e
    return _movie(path, data, f"numpy .npz ({name!r})")


def _movie(path: Path, data: np.ndarray, reader: str) -> Movie:
    if data.ndim == 2:
        raise CneepError(f"{path}: holds a single frame {data.shape}; a movie needs at least 2 frames")
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4:
        raise CneepError(f"{path}: array of shape {data.shape}; expected (frames, H, W) or (movies, frames, H, W)")
    if data.dtype.kind not in "uifb":
        raise CneepError(f"{path}: pixels of type {data.dtype} are not supported (integers or floats only)")
    movie = Movie(frames=data, path=path)
    movie.provenance = {"source": str(path), "format": "NumPy array", "reader": reader,
                        "shape": list(data.shape), "dtype": str(data.dtype), "channels": 1, "z_planes": 1,
                        "notes": []}
    return movie


def _no_choice(path: Path, channel, z) -> None:
    if channel not in (None, 0) or z not in (None, 0):
        raise CneepError(f"{path}: a NumPy movie has no channels or z-planes to choose from")
