"""TIFF stacks, ImageJ hyperstacks, OME-TIFF and BigTIFF: read lazily with their frame interval and pixel size.

Uncompressed contiguous files (what ImageJ, tifffile and most acquisition software write) are mapped with
`numpy.memmap`; others are read page by page on demand. We write ImageJ TIFFs, which Fiji opens calibrated.
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

from ..errors import CneepError
from ..movie import Movie
from .atomic import atomic_path
from .lazy import LazyFrames, luminance
from .ome import ome_calibration
from .units import micrometres, seconds

SUFFIXES = (".tif", ".tiff", ".btf", ".tf8")
_MOVIES = re.compile(r"cneep movies=(\d+)")
_DAMAGE = re.compile(r"invalid|corrupt|truncat|incomplete|offset", re.I)
_DEFAULT_DPI = {72.0, 96.0, 150.0, 300.0, 600.0}   # display and print defaults, not a calibration


def write_tiff(path: Path, frames: np.ndarray, dt: float, pixel_size: float, info: str = "") -> None:
    """(movies, frames, H, W) or (frames, H, W) as one ImageJ time stack, movies one after another."""
    stack = frames.reshape(-1, *frames.shape[-2:])
    metadata = {"axes": "TYX", "finterval": dt, "unit": "um"}
    if frames.ndim == 4:
        metadata["Info"] = f"cneep movies={frames.shape[0]}\n{info}"
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, stack, imagej=True, resolution=(1 / pixel_size, 1 / pixel_size),
                         metadata=metadata)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0][:200])


@contextmanager
def quiet_tifffile():
    """tifffile logs a warning for every damaged tag; we collect them (to explain a failure) instead."""
    log = logging.getLogger("tifffile")
    level, propagate, collect = log.level, log.propagate, _Collect()
    log.setLevel(logging.WARNING)
    log.propagate = False
    log.addHandler(collect)
    try:
        yield collect.messages
    finally:
        log.removeHandler(collect)
        log.setLevel(level)
        log.propagate = propagate


@dataclass
class AxisPlan:
    """Which leading axis is time, and which index the others are read at."""

    time: str
    select: tuple                  # one entry per leading axis: slice(None) for time, an int otherwise
    colour: bool                   # trailing S axis (RGB samples) present
    colour_channel: int | None     # sample kept, None for grey
    channels: int
    z_planes: int
    channel: int | None
    z: int | None
    notes: list[str] = field(default_factory=list)


def plan_axes(path: Path, axes: str, shape: tuple, channel: int | None, z: int | None) -> AxisPlan:
    """Time, channel and z-plane of a tifffile series, as the user asked or, when unsaid, the first."""
    page = 3 if axes.endswith("YXS") else 2 if axes.endswith("YX") else 0
    if not page:
        raise CneepError(f"{path}: has axes {axes!r} with shape {shape}; expected images with Y and X last")
    lead, lead_shape = axes[:-page], shape[:-page]
    size = dict(zip(lead, lead_shape))
    n_c, n_z, n_s = size.get("C", 1), size.get("Z", 1), shape[-1] if page == 3 else 1
    notes = []
    time_like = [a for a, n in zip(lead, lead_shape) if a not in "CZ" and n > 1]
    if len(time_like) > 1:
        raise CneepError(f"{path}: has axes {axes!r} with shape {shape}; cannot tell which of "
                         f"{', '.join(time_like)} is time")
    time = time_like[0] if time_like else None
    if time is None and n_z > 1 and z is None:
        time = "Z"
        notes.append(f"no time axis: the {n_z} z-slices are read as frames")
    elif time is None and n_c > 1 and channel is None:
        time = "C"
        notes.append(f"no time axis: the {n_c} channels are read as frames")
    if time is None:
        raise CneepError(f"{path}: holds a single frame (axes {axes!r}, shape {shape}); "
                         "a movie needs at least 2 frames")
    plan = AxisPlan(time=time, select=(), colour=page == 3, colour_channel=None,
                    channels=1, z_planes=n_z if time != "Z" else 1, channel=None, z=None, notes=notes)
    if "C" in size and time != "C":
        plan.channels = n_c
        plan.channel = _pick(path, "channel", channel, n_c, notes)
    elif plan.colour:
        plan.channels = n_s
        if channel is not None and not 0 <= channel < n_s:
            raise CneepError(f"{path}: has {n_s} colour channels; channel {channel} does not exist")
        plan.colour_channel = plan.channel = channel
        if channel is None:
            notes.append(f"{n_s} colour samples per pixel: converted to grey (choose one with channel=)")
    elif channel not in (None, 0):
        raise CneepError(f"{path}: has no channels to choose from; channel {channel} does not exist")
    if "Z" in size and time != "Z":
        plan.z = _pick(path, "z-plane", z, n_z, notes)
    elif z not in (None, 0):
        raise CneepError(f"{path}: has no z-planes to choose from; z-plane {z} does not exist")
    pick = {"C": plan.channel, "Z": plan.z}
    plan.select = tuple(slice(None) if a == time else pick.get(a) or 0 for a in lead)
    return plan


def _pick(path: Path, what: str, value: int | None, n: int, notes: list[str]) -> int:
    if value is None:
        if n > 1:
            notes.append(f"{n} {what}s: using {what} 0 (choose with --{what.split('-')[0]})")
        return 0
    if not 0 <= value < n:
        raise CneepError(f"{path}: has {n} {what}s (0..{n - 1}); {what} {value} does not exist")
    return value


def read_tiff(path: Path, channel: int | None = None, z: int | None = None, memmap: bool = True) -> Movie:
    """Open a TIFF lazily. `memmap=False` forces page-by-page reading (for tests of that path)."""
    with quiet_tifffile() as warnings:
        try:
            tf = tifffile.TiffFile(path)
        except Exception as e:  # tifffile raises many types on damaged files; all mean "cannot read"
            raise CneepError(f"{path}: not a readable TIFF ({type(e).__name__}: {e})") from e
        try:
            return _read(tf, path, channel, z, memmap)
        except Exception as e:
            tf.close()
            damage = [w for w in warnings if _DAMAGE.search(w)]
            if damage:   # the structure was damaged: say so rather than what the remains looked like
                raise CneepError(f"{path}: damaged or truncated TIFF ({damage[0]})") from e
            if isinstance(e, CneepError):
                raise
            raise CneepError(f"{path}: not a readable TIFF ({type(e).__name__}: {e})") from e


def _read(tf: tifffile.TiffFile, path: Path, channel, z, memmap: bool) -> Movie:
    if not tf.series:
        raise CneepError(f"{path}: holds no images")
    series = tf.series[0]
    axes, shape = series.axes, tuple(series.shape)
    plan = plan_axes(path, axes, shape, channel, z)
    if len(tf.series) > 1:
        plan.notes.append(f"the file holds {len(tf.series)} image series; reading the first")
    frame_shape = shape[-3:-1] if plan.colour else shape[-2:]
    n_time = shape[axes.index(plan.time)]
    dtype = np.dtype(series.dtype)
    ij = tf.imagej_metadata or {}
    pixel_size, dt, kind = tiff_calibration(tf, ij)
    if dtype.kind not in "uif" and dtype != np.bool_:
        raise CneepError(f"{path}: pixels of type {dtype} are not supported (integers or floats only)")

    file_bytes = os.path.getsize(path)
    contiguous = memmap and series.dataoffset is not None and series.keyframe.compression == 1
    if contiguous and series.dataoffset + series.nbytes > file_bytes:
        raise CneepError(f"{path}: is truncated: its images need {series.dataoffset + series.nbytes} bytes, "
                         f"the file has {file_bytes}")
    if contiguous:
        mm = np.memmap(path, dtype=dtype.newbyteorder(tf.byteorder), mode="r", offset=series.dataoffset,
                       shape=shape)
        tf.close()
        stack = mm[plan.select]                      # (T, Y, X[, S]): still a view of the file
        reader = "memmap"
        if plan.colour:
            frames = LazyFrames(lambda idx: luminance(stack[idx], plan.colour_channel),
                                np.arange(n_time)[None], frame_shape, dtype, name=str(path))
        else:
            frames = stack[None]
    else:
        frames = _page_frames(tf, series, path, plan, n_time, frame_shape, dtype)
        reader = "pages"
    # The first frame appears at once, and a file cut short fails here rather than mid-training.
    try:
        frames[0, 0], frames[0, -1]
    except CneepError as e:
        raise CneepError(f"{path}: damaged or truncated TIFF: {e.__cause__ or e}") from e

    movies = 1
    match = _MOVIES.search(str(ij.get("Info", "")))
    if match and plan.time in "TIQ":
        movies = int(match.group(1))
        if movies < 1 or n_time % movies:
            raise CneepError(f"{path}: {n_time} frames cannot be split into {movies} movies")
        frames = _split(frames, movies)

    movie = Movie(frames=frames, path=path)
    if dt is not None:
        movie.dt, movie.dt_source = dt, "metadata"
    if pixel_size is not None:
        movie.pixel_size, movie.pixel_size_source = pixel_size, "metadata"
    movie.provenance = {"source": str(path), "format": kind, "reader": f"tifffile ({reader})",
                        "axes": axes, "shape": list(shape), "dtype": str(dtype), "time_axis": plan.time,
                        "channels": plan.channels, "z_planes": plan.z_planes, "channel": plan.channel,
                        "z": plan.z, "notes": plan.notes}
    return movie


def _page_frames(tf, series, path: Path, plan: AxisPlan, n_time: int, frame_shape, dtype) -> LazyFrames:
    """Frames read page by page through tifffile; the file stays open (read-only) while they live."""
    lead_shape = tuple(series.shape[:len(plan.select)])
    n_pages = int(np.prod(lead_shape)) if lead_shape else 1
    if len(series.pages) != n_pages:
        raise CneepError(f"{path}: {len(series.pages)} pages do not match the series shape {series.shape} "
                         f"(axes {series.axes!r}); this layout is not supported")
    index = [np.arange(n_time) if isinstance(s, slice) else np.full(n_time, s) for s in plan.select]
    pages = np.ravel_multi_index(index, lead_shape)
    page_shape = tuple(series.shape[len(plan.select):])

    def read(idx: np.ndarray) -> np.ndarray:
        with quiet_tifffile():
            data = series.asarray(key=pages[idx].tolist()).reshape(len(idx), *page_shape)
        return luminance(data, plan.colour_channel) if plan.colour else data

    frames = LazyFrames(read, np.arange(n_time)[None], frame_shape, dtype, name=str(path))
    weakref.finalize(frames, tf.close)
    return frames


def _split(frames, movies: int):
    if isinstance(frames, LazyFrames):
        frames.index = frames.index.reshape(movies, -1)
        frames.shape = (*frames.index.shape, *frames.shape[2:])
        return frames
    return frames.reshape(movies, -1, *frames.shape[2:])


def tiff_calibration(tf: tifffile.TiffFile, ij: dict) -> tuple[float | None, float | None, str]:
    """(pixel size µm, frame interval s, format name): OME-XML first, then ImageJ, then TIFF resolution."""
    kind = "OME-TIFF" if tf.is_ome else "ImageJ hyperstack" if ij.get("hyperstack") else \
        "ImageJ TIFF" if tf.is_imagej else "TIFF"
    if tf.is_bigtiff:
        kind += " (BigTIFF)"
    tags = tf.pages.first.tags
    xres = tags["XResolution"].value if "XResolution" in tags else None
    res_unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    ome = tf.ome_metadata if tf.is_ome else None
    pixel_size = dt = None
    if ome:
        pixel_size, dt = ome_calibration(ome)
    if ij:
        if dt is None and ij.get("finterval"):
            dt = seconds(ij["finterval"], ij.get("tunit", "s"))
        if pixel_size is None and xres and xres[0] > 0 and "unit" in ij:
            pixel_size = micrometres(xres[1] / xres[0], ij["unit"])
    elif pixel_size is None and xres and xres[0] > 0 and xres[1] > 0:
        per_unit = xres[0] / xres[1]
        if res_unit == 3:
            pixel_size = 1e4 / per_unit
        elif res_unit == 2 and per_unit not in _DEFAULT_DPI:
            pixel_size = 25400 / per_unit
    return pixel_size, dt, kind
