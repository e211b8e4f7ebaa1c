"""Reading and writing movies. Source files are only ever opened for reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CneepError
from ..movie import Movie
from .tiff import read_tiff, write_tiff
from .truth import load_truth, save_truth, sidecar_path

__all__ = ["load_movie", "save_movie", "sidecar_path"]


def _read_npy(path: Path) -> Movie:
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise CneepError(f"{path}: not a readable .npy array ({e})") from e
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4:
        raise CneepError(f"{path}: array of shape {data.shape}; expected (frames, H, W) or (movies, frames, H, W)")
    return Movie(frames=data, path=path)


_READERS = {".tif": read_tiff, ".tiff": read_tiff, ".npy": _read_npy}


def load_movie(path: str | Path, truth: bool = True) -> Movie:
    """Open a movie and, when `NAME.truth.npz` lies beside it, its exact ground truth."""
    path = Path(path)
    if not path.is_file():
        raise CneepError(f"{path}: no such file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise CneepError(f"{path}: unsupported file type {path.suffix!r} (use {', '.join(_READERS)})")
    if path.stat().st_size == 0:
        raise CneepError(f"{path}: the file is empty")
    movie = reader(path)
    if movie.n_frames < 2:
        raise CneepError(f"{path}: each movie has {movie.n_frames} frame; at least 2 are needed")
    if movie.frames.dtype.kind == "f" and not np.isfinite(movie.frames).all():
        raise CneepError(f"{path}: the frames contain NaN or infinite values")
    if truth and sidecar_path(path).is_file():
        movie.truth = load_truth(sidecar_path(path), movie.n_movies, movie.n_frames)
    return movie


def save_movie(movie: Movie, path: str | Path) -> Path:
    """Write the frames as an ImageJ TIFF and, for synthetic movies, the ground-truth sidecar."""
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise CneepError(f"{path}: movies are saved as .tif")
    write_tiff(path, movie.frames, movie.dt, movie.pixel_size)
    if movie.truth is not None:
        save_truth(movie.truth, sidecar_path(path))
    movie.path = path
    return path
