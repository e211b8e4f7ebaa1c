"""TIFF stacks with ImageJ metadata: Fiji opens what we write, and we read the frame interval and pixel size."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tifffile

from ..errors import CneepError
from ..movie import Movie
from .atomic import atomic_path

_TO_MICRON = {"um": 1.0, "micron": 1.0, "microns": 1.0, "µm": 1.0, "\\u00B5m": 1.0, "nm": 1e-3, "mm": 1e3}
_TO_SECOND = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3, "min": 60.0}
_MOVIES = re.compile(r"cneep movies=(\d+)")


def write_tiff(path: Path, frames: np.ndarray, dt: float, pixel_size: float, info: str = "") -> None:
    """(movies, frames, H, W) or (frames, H, W) as one ImageJ time stack, movies one after another."""
    stack = frames.reshape(-1, *frames.shape[-2:])
    metadata = {"axes": "TYX", "finterval": dt, "unit": "um"}
    if frames.ndim == 4:
        metadata["Info"] = f"cneep movies={frames.shape[0]}\n{info}"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, stack, imagej=True, resolution=(1 / pixel_size, 1 / pixel_size),
                         metadata=metadata)


def read_tiff(path: Path) -> Movie:
    try:
        with tifffile.TiffFile(path) as tf:
            series = tf.series[0]
            axes, data = series.axes, series.asarray()
            ij = tf.imagej_metadata or {}
            xres = tf.pages[0].tags.get("XResolution")
            xres = xres.value if xres is not None else None
    except Exception as e:  # tifffile raises many types on damaged files; all mean "cannot read"
        raise CneepError(f"{path}: not a readable TIFF ({type(e).__name__}: {e})") from e
    if data.ndim == 2:
        raise CneepError(f"{path}: holds a single frame; a movie needs at least 2 frames")
    if data.ndim != 3 or axes[-2:] != "YX":
        raise CneepError(f"{path}: has axes {axes!r} with shape {data.shape}; "
                         "only single-channel time stacks are supported")
    match = _MOVIES.search(str(ij.get("Info", "")))
    movies = int(match.group(1)) if match else 1
    if data.shape[0] % movies:
        raise CneepError(f"{path}: {data.shape[0]} frames cannot be split into {movies} movies")
    movie = Movie(frames=data.reshape(movies, -1, *data.shape[1:]), path=path)

    dt_unit = _TO_SECOND.get(str(ij.get("tunit", "s")).lower())
    if ij.get("finterval") and dt_unit:
        movie.dt, movie.dt_source = float(ij["finterval"]) * dt_unit, "metadata"
    unit = _TO_MICRON.get(str(ij.get("unit", "")).lower())
    if xres and xres[0] > 0 and unit:
        movie.pixel_size, movie.pixel_size_source = xres[1] / xres[0] * unit, "metadata"
    return movie
