"""A folder of numbered images (TIFF or PNG), one frame per file, in numeric order, read on demand."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile

from ..errors import CneepError
from ..movie import Movie
from .lazy import LazyFrames, luminance
from .tiff import tiff_calibration, quiet_tifffile

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")
_NUMBER = re.compile(r"(\d+)")


def numbered_images(folder: Path) -> list[Path]:
    """The folder's images of the most common kind, in natural order: frame2 before frame10."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
             and not p.name.startswith(".")]
    if not files:
        raise CneepError(f"{folder}: the folder holds no .tif, .tiff or .png images")
    kind = Counter(_kind(p) for p in files).most_common(1)[0][0]
    files = [p for p in files if _kind(p) == kind]
    return sorted(files, key=lambda p: [int(s) if s.isdigit() else s.lower() for s in _NUMBER.split(p.name)])


def _kind(p: Path) -> str:
    return ".tif" if p.suffix.lower() in (".tif", ".tiff") else p.suffix.lower()


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one image without decoding it."""
    try:
        if path.suffix.lower() == ".png":
            props = iio.improps(path)
            return tuple(props.shape), np.dtype(props.dtype)
        with quiet_tifffile(), tifffile.TiffFile(path) as tf:
            series = tf.series[0]
            return tuple(series.shape), np.dtype(series.dtype)
    except Exception as e:  # each image library has its own errors; all mean "cannot read"
        raise CneepError(f"{path}: not a readable image ({type(e).__name__}: {e})") from e


def _image(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".png":
        return iio.imread(path)
    with quiet_tifffile():
        return tifffile.imread(path)


def read_sequence(folder: Path, channel: int | None = None, z: int | None = None) -> Movie:
    if z not in (None, 0):
        raise CneepError(f"{folder}: an image sequence has no z-planes to choose from")
    files = numbered_images(folder)
    if len(files) < 2:
        raise CneepError(f"{folder}: holds a single image ({files[0].name}); a movie needs at least 2 frames")
    shape, dtype = _header(files[0])
    for f in files[1:]:
        s, d = _header(f)
        if s != shape or d != dtype:
            raise CneepError(f"{f}: frame of {s} {d} differs from the first frame {files[0].name} ({shape} {dtype}); "
                             "all frames of a folder must have one size and type")
    colour = len(shape) == 3 and shape[-1] in (3, 4)
    if len(shape) != 2 and not colour:
        raise CneepError(f"{files[0]}: holds an image of shape {shape}; a folder movie needs one 2-D image per file")
    n_samples = shape[-1] if colour else 1
    if channel is not None and not (colour and 0 <= channel < n_samples) and channel != 0:
        raise CneepError(f"{folder}: the images have {n_samples} channel(s); channel {channel} does not exist")
    frame_shape = shape[:2]

    def read(idx: np.ndarray) -> np.ndarray:
        data = np.stack([_image(files[k]) for k in idx])
        if data.shape[1:] != shape:
            raise CneepError(f"{folder}: an image differs in size from {files[0].name}")
        return luminance(data, channel) if colour else data

    frames = LazyFrames(read, np.arange(len(files))[None], frame_shape, dtype, name=str(folder))
    frames[0, 0], frames[0, -1]
    movie = Movie(frames=frames, path=folder)
    notes = [f"{len(files)} {_kind(files[0])} images, {files[0].name} .. {files[-1].name}"]
    if colour and channel is None:
        notes.append("colour images converted to grey (choose a channel with channel=)")
    if files[0].suffix.lower() != ".png":
        with quiet_tifffile(), tifffile.TiffFile(files[0]) as tf:
            pixel_size, dt, _ = tiff_calibration(tf, tf.imagej_metadata or {})
        if pixel_size is not None:
            movie.pixel_size, movie.pixel_size_source = pixel_size, "metadata"
    movie.provenance = {"source": str(folder), "format": "image sequence", "reader": "imageio/tifffile per file",
                        "shape": [len(files), *shape], "dtype": str(dtype), "channels": n_samples, "z_planes": 1,
                        "channel": channel, "notes": notes,
                        "file_bytes": sum(os.path.getsize(f) for f in files)}
    return movie
