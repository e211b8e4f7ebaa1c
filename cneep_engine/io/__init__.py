"""Reading and writing movies and trajectories. Source files are only ever opened for reading.

    movie = load_movie("cells.ome.tif", channel=1, z=0, crop=(0, 256, 0, 256), frame_step=2)
    describe(movie)     # what `cneep info --json` prints
    tracks = load_trajectories("tracks.csv")             # or load_input(path): whichever the file holds
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import numpy as np

from ..errors import CneepError
from ..movie import Movie
from ..trajectories import Trajectories
from . import arrays, tiff, trajectories, video
from .lazy import LazyFrames, read_flat
from .preprocess import Preprocess, parse_crop, parse_time_range, prepare, preprocess
from .sequence import IMAGE_SUFFIXES, read_sequence
from .tiff import write_tiff
from .trajectories import describe_trajectories, is_trajectory_file, load_trajectories, save_trajectories
from .truth import check_sidecar_free, load_truth, save_truth, sidecar_path
from .video_codec import codec_report, video_warnings

__all__ = ["LazyFrames", "Preprocess", "SUFFIXES", "TRAJECTORY_SUFFIXES", "describe", "describe_trajectories",
           "input_formats", "is_trajectory_file", "load_input", "load_movie", "load_trajectories", "parse_crop",
           "parse_time_range", "prepare", "preprocess",
           "read_flat", "save_movie", "save_trajectories", "sidecar_path", "video_warnings"]

# Each reader module declares the suffixes it reads; the app's file filter, the CLI's help and the README's
# list of formats all come from here.
_READERS = {suffix: read for module, read in ((tiff, tiff.read_tiff), (video, video.read_video),
                                              (arrays, arrays.read_array)) for suffix in module.SUFFIXES}
SUFFIXES = tuple(_READERS)   # plus folders of numbered .tif/.png images
TRAJECTORY_SUFFIXES = trajectories.SUFFIXES
_PREPROCESS = {f.name for f in fields(Preprocess)}


def input_formats() -> str:
    """The file types `load_input` reads, in the words the CLI's help and the README use."""
    return (f"movies {' '.join(SUFFIXES)} or a folder of numbered {'/'.join(IMAGE_SUFFIXES)} images; "
            f"trajectories {' '.join(TRAJECTORY_SUFFIXES)}")


def load_movie(path: str | Path, truth: bool = True, *, channel: int | None = None, z: int | None = None,
               dt: float | None = None, pixel_size: float | None = None, default_dt: float = 1.0,
               default_pixel_size: float = 1.0, **preprocessing) -> Movie:
    """Open a movie lazily and, when `NAME.truth.npz` lies beside it, its exact ground truth.

    channel, z: which channel (or colour: 0 red, 1 green, 2 blue; None = grey) and z-plane to read.
    dt (s) and pixel_size (µm) override the file's metadata (source "user"); default_dt and
    default_pixel_size stand in where the file says nothing (source "default", with a note).
    dt is the interval of the file's frames: a frame_step multiplies it. Further keywords are
    `Preprocess` options: crop, time_range, frame_step, bin, normalize, split_into, register, bleach_correct."""
    unknown = set(preprocessing) - _PREPROCESS
    if unknown:
        raise TypeError(f"load_movie() got unknown options {sorted(unknown)}")
    options = Preprocess(**preprocessing)
    for name, value in (("dt", dt), ("pixel_size", pixel_size), ("default_dt", default_dt),
                        ("default_pixel_size", default_pixel_size)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise CneepError(f"{name} must be a positive number, not {value}")
    path = Path(path)
    if path.is_dir():
        reader = read_sequence
    elif not path.exists():
        raise CneepError(f"{path}: no such file")
    else:
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            raise CneepError(f"{path}: unsupported file type {path.suffix!r} "
                             f"(use {', '.join(_READERS)} or a folder of numbered images)")
        if path.stat().st_size == 0:
            raise CneepError(f"{path}: the file is empty")
    movie = reader(path, channel=channel, z=z)
    if movie.n_frames < 2:
        raise CneepError(f"{path}: each movie has {movie.n_frames} frame; at least 2 are needed")
    _calibrate(movie, dt, pixel_size, default_dt, default_pixel_size)
    _check_finite(movie, path)
    movie.provenance.setdefault("notes", [])
    if truth and path.is_file() and sidecar_path(path).is_file():
        movie.truth = load_truth(sidecar_path(path), path, movie.frames, movie.provenance["notes"])
        movie.provenance["truth"] = str(sidecar_path(path))
    return prepare(movie, options)


def load_input(path: str | Path, kind: str | None = None, **options) -> Movie | Trajectories:
    """Trajectories when `kind` says so ("coordinates" or "states") or the file holds them
    (`is_trajectory_file`), else a movie.

    options go to `load_trajectories` (truth, dt, id_column) or `load_movie`."""
    if kind is not None or is_trajectory_file(path):
        return load_trajectories(path, kind=kind, **options)
    return load_movie(path, **options)


def _check_finite(movie: Movie, path: Path, limit: int = 256 << 20) -> None:
    """NaN or infinity in float frames: checked here for files up to `limit` bytes (in chunks), and
    for larger ones as training reads them (WindowGather), so opening stays instant."""
    frames = movie.frames
    if frames.dtype.kind != "f" or frames.nbytes > limit:
        return
    n = movie.n_movies * movie.n_frames
    step = max(1, (32 << 20) // max(1, frames.nbytes // n))
    for a in range(0, n, step):
        if not np.isfinite(read_flat(frames, np.arange(a, min(n, a + step)))).all():
            raise CneepError(f"{path}: the frames contain NaN or infinite values")


def _calibrate(movie: Movie, dt, pixel_size, default_dt: float, default_pixel_size: float) -> None:
    notes = movie.provenance.setdefault("notes", [])
    if dt is not None:
        movie.dt, movie.dt_source = float(dt), "user"
    elif movie.dt_source != "metadata":
        movie.dt, movie.dt_source = default_dt, "default"
        notes.append(f"no frame interval in the file: using dt = {default_dt:g} s (set it with --dt)")
    if pixel_size is not None:
        movie.pixel_size, movie.pixel_size_source = float(pixel_size), "user"
    elif movie.pixel_size_source != "metadata":
        movie.pixel_size, movie.pixel_size_source = default_pixel_size, "default"
        notes.append(f"no pixel size in the file: using {default_pixel_size:g} µm (set it with --pixel-size)")


def describe(movie: Movie) -> dict:
    """What was found, as `cneep info --json` prints it; for videos also what the codec did (`codec_report`)
    and `warnings` (`video_warnings`)."""
    p = movie.provenance
    path = Path(movie.path) if movie.path else None
    file_bytes = p.get("file_bytes") or (os.path.getsize(path) if path is not None and path.is_file() else None)
    info = {"path": str(path) if path else None, "format": p.get("format"), "movies": movie.n_movies,
            "frames": movie.n_frames, "height": movie.frame_shape[0], "width": movie.frame_shape[1],
            "dtype": str(np.dtype(movie.frames.dtype).newbyteorder("=")), "dt": movie.dt,
            "dt_source": movie.dt_source, "pixel_size": movie.pixel_size,
            "pixel_size_source": movie.pixel_size_source, "channels": p.get("channels", 1),
            "z_planes": p.get("z_planes", 1), "file_bytes": file_bytes, "notes": p.get("notes", [])}
    if p.get("reader") == "pyav":
        info.update(codec_report(path))
        info["warnings"] = video_warnings(info)
    return info


def check_output_suffix(path: Path, kind: str) -> None:
    """Refuse a file name that data of this kind ("movie", else trajectories) cannot be saved under: checked
    before a simulation of minutes, not after it."""
    if kind == "movie" and path.suffix.lower() not in (".tif", ".tiff"):
        raise CneepError(f"{path}: movies are saved as .tif")
    if kind != "movie":
        trajectories.check_suffix(path)


def save_movie(movie: Movie, path: str | Path) -> Path:
    """Write the frames as an ImageJ TIFF and, for synthetic movies, the ground-truth sidecar."""
    path = Path(path)
    check_output_suffix(path, "movie")
    if movie.path is not None and path.exists() and Path(movie.path).resolve() == path.resolve():
        raise CneepError(f"{path}: is the movie's own source file; save to another name")
    if movie.truth is not None:
        check_sidecar_free(path)
    write_tiff(path, np.asarray(movie.frames), movie.dt, movie.pixel_size)
    if movie.truth is not None:
        save_truth(movie.truth, sidecar_path(path), movie.frames, path.name)
    movie.path = path
    return path
