"""Preprocessing before training, applied on the fly as frames are read, and recorded with the run.

Order: time range, frame step, crop, bleach correction, registration, binning, per-movie normalisation, split.
Registration works at full resolution, before binning, where subpixel shifts are most accurate. dt is
multiplied by the frame step and the pixel size by the binning, so both stay physical.

    movie = preprocess(movie, Preprocess(crop=(0, 128, 64, 192), frame_step=2, bin=2, normalize=True))
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from ..errors import CneepError
from ..movie import GroundTruth, Movie
from ..params import check, param
from ..timearrow import remove_time_arrows
from .lazy import LazyFrames, read_flat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preprocess:
    crop: tuple[int, int, int, int] | None = None       # (y0, y1, x0, x1) pixels, ends exclusive
    time_range: tuple[int, int | None] | None = None    # (first, end) frame, end exclusive; None: to the end
    frame_step: int = param(1, "keep every k-th frame: the frame interval becomes k times (ground truth is dropped: "
                            "the exact EP of k-frame steps is not known)", low=1, high=10_000)
    bin: int = param(1, "average b x b pixel blocks: each doubling leaves 4 times fewer pixels, memory and time; "
                     "the pixel size becomes b times", low=1, high=64, label="Binning")
    normalize: bool = param(False, "scale each movie to zero mean and unit standard deviation", label="Normalise")
    split_into: int = param(1, "cut each movie into N consecutive movies", low=1, app=False)
    register: bool = param(False, "shift the moving content back by its measured uniform drift (the static "
                           "background stays), cropping the margin it sweeps; see cneep info",
                           label="Register (remove drift)")
    bleach_correct: bool = param(False, "standardize every frame, removing a trend of the intensity (bleaching) "
                                 "that a network would read as a time arrow", label="Bleach-correct")

    def __post_init__(self):
        check(self)

    @property
    def is_identity(self) -> bool:
        return self == Preprocess()

    def describe(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_record(cls, record: dict) -> Preprocess:
        """The options a run recorded (`describe`, beside what they measured on its movie, which is left out)."""
        return cls(**{f.name: tuple(record[f.name]) if isinstance(record[f.name], list) else record[f.name]
                      for f in fields(cls) if f.name in record})


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """'Y0:Y1,X0:X1' (pixels, ends exclusive) -> (y0, y1, x0, x1)."""
    try:
        ys, xs = text.split(",")
        (y0, y1), (x0, x1) = (map(int, ys.split(":")), map(int, xs.split(":")))
    except ValueError:
        raise CneepError(f"crop {text!r}: expected Y0:Y1,X0:X1 in pixels, e.g. 0:128,64:192") from None
    return y0, y1, x0, x1


def parse_time_range(text: str) -> tuple[int, int | None]:
    """'T0:T1' or 'T0:' (frames, end exclusive) -> (t0, t1 or None)."""
    try:
        a, b = text.split(":")
        return int(a or 0), int(b) if b else None
    except ValueError:
        raise CneepError(f"time range {text!r}: expected FIRST:END in frames, e.g. 100:2100 or 100:") from None


def preprocess(movie: Movie, options: Preprocess) -> Movie:
    """A new Movie whose frames are the options applied lazily to `movie`'s; the source is not touched."""
    if options.is_identity:
        return movie
    if options.register or options.bleach_correct:
        return _without_time_arrows(movie, options)
    name = movie.name
    n_movies, n_frames, height, width = movie.frames.shape
    t0, t1 = options.time_range or (0, None)
    t1 = n_frames if t1 is None else t1
    if not 0 <= t0 < t1 <= n_frames:
        raise CneepError(f"{name}: time range {t0}:{t1} lies outside the movie's {n_frames} frames")
    times = np.arange(t0, t1, options.frame_step)
    y0, y1, x0, x1 = options.crop or (0, height, 0, width)
    if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
        raise CneepError(f"{name}: crop {y0}:{y1},{x0}:{x1} lies outside the {height}x{width} frame")
    b = options.bin
    h, w = (y1 - y0) // b, (x1 - x0) // b
    if h < 1 or w < 1:
        raise CneepError(f"{name}: binning {b} leaves no pixels of the {y1 - y0}x{x1 - x0} region")
    y1, x1 = y0 + h * b, x0 + w * b          # drop the remainder rows and columns that do not fill a bin
    n = options.split_into
    length = times.size // n
    if length < 2:
        raise CneepError(f"{name}: {times.size} frames after time range and step cannot make {n} movies "
                         "of at least 2 frames")
    times = times[:n * length].reshape(n, length)
    notes = []
    if n * length < np.arange(t0, t1, options.frame_step).size:
        notes.append(f"split into {n} movies of {length} frames; the last "
                     f"{np.arange(t0, t1, options.frame_step).size - n * length} frames are left out")

    frames = _view(movie.frames, options, times, (y0, y1, x0, x1))
    stats = None
    if frames is None:
        frames, stats = _lazy(movie.frames, options, times, (y0, y1, x0, x1), name)
    truth, truth_note = _truth(movie.truth, options, times)
    if truth_note:
        notes.append(truth_note)
        log.info("%s: %s", name, truth_note)
    record = options.describe()
    if stats is not None:
        record["normalize_mean"], record["normalize_std"] = stats[0].tolist(), stats[1].tolist()
    provenance = dict(movie.provenance, preprocess=record)
    provenance["notes"] = list(movie.provenance.get("notes", [])) + notes
    return Movie(frames=frames, dt=movie.dt * options.frame_step, pixel_size=movie.pixel_size * b,
                 dt_source=movie.dt_source, pixel_size_source=movie.pixel_size_source, path=movie.path,
                 truth=truth, provenance=provenance)


def prepare(movie: Movie, options: Preprocess) -> Movie:
    """`preprocess`, with the calibration that results (dt, pixel size and their sources) recorded in the
    provenance that a run saves as its input. The CLI (through `load_movie`) and the app both read movies
    through here, so the same options are recorded alike; `movie` itself is left as it is."""
    out = preprocess(movie, options)
    if out is movie:
        out = replace(movie, provenance=dict(movie.provenance))
    out.provenance.update(dt=out.dt, dt_source=out.dt_source, pixel_size=out.pixel_size,
                          pixel_size_source=out.pixel_size_source)
    return out


def _without_time_arrows(movie: Movie, options: Preprocess) -> Movie:
    """Time range, step and crop; then bleach correction and registration on what they kept; then the rest."""
    kept = preprocess(movie, Preprocess(crop=options.crop, time_range=options.time_range,
                                        frame_step=options.frame_step))
    corrected, record = remove_time_arrows(kept, register=options.register, bleach_correct=options.bleach_correct)
    truth = corrected.truth
    if truth is not None and truth.sites is not None and "register_margin_px" in record:
        my, mx = record["register_margin_px"]
        corrected.truth = replace(truth, sites=truth.sites.in_frame(mx, my))
    rest = preprocess(corrected, replace(options, crop=None, time_range=None, frame_step=1, register=False,
                                         bleach_correct=False))
    done = rest.provenance.get("preprocess", {}) if rest is not corrected else {}
    stats = {k: v for k, v in done.items() if k.startswith("normalize_")}
    rest.provenance = dict(rest.provenance, preprocess={**options.describe(), **record, **stats})
    return rest


def _view(frames, options: Preprocess, times: np.ndarray, box) -> np.ndarray | None:
    """Time range, step and crop of a numpy array (or memmap) are a view: no copy, no reader."""
    if not isinstance(frames, np.ndarray) or options.bin > 1 or options.normalize or options.split_into > 1:
        return None
    y0, y1, x0, x1 = box
    t = times[0]
    return frames[:, t[0]:t[-1] + 1:options.frame_step, y0:y1, x0:x1]


def _lazy(frames, options: Preprocess, times: np.ndarray, box, name: str):
    n_movies, n_frames = frames.shape[:2]
    n, length = times.shape
    y0, y1, x0, x1 = box
    b = options.bin
    source = (np.arange(n_movies)[:, None, None] * n_frames + times[None]).reshape(n_movies * n, length)
    source_movie = np.repeat(np.arange(n_movies), n)

    def spatial(data: np.ndarray) -> np.ndarray:
        data = data[:, y0:y1, x0:x1]
        if b > 1:
            data = data.reshape(len(data), (y1 - y0) // b, b, (x1 - x0) // b, b).mean(axis=(2, 4), dtype=np.float32)
        return data

    stats = None
    if options.normalize:
        mean, std = np.empty(n_movies), np.empty(n_movies)
        for m in range(n_movies):   # up to 32 frames spread over each movie's kept time range
            pick = times.ravel()[np.unique(np.linspace(0, times.size - 1, min(32, times.size)).astype(int))]
            sample = spatial(read_flat(frames, m * n_frames + pick)).astype(np.float64)
            mean[m], std[m] = sample.mean(), sample.std() or 1.0
        stats = (mean, std)

    def transform(data: np.ndarray, movies: np.ndarray) -> np.ndarray:
        data = spatial(data)
        if stats is not None:
            m = source_movie[movies]
            data = ((data - stats[0][m, None, None]) / stats[1][m, None, None]).astype(np.float32)
        return data

    dtype = np.float32 if (b > 1 or options.normalize) else frames.dtype.newbyteorder("=")
    out = LazyFrames(lambda idx: read_flat(frames, idx), source, ((y1 - y0) // b, (x1 - x0) // b), dtype,
                     transform=transform, name=name)
    return out, stats


def _truth(truth: GroundTruth | None, options: Preprocess, times: np.ndarray):
    """The ground truth cut like the frames; dropped, with the reason, where it cannot follow."""
    if truth is None:
        return None, ""
    if options.frame_step > 1:
        return None, ("ground truth dropped: with frame step > 1 the exact EP of frame pairs is not the sum "
                      "of the per-transition EP, and sigma_2pt changes with dt")
    n_movies = truth.ds.shape[0]
    n, length = times.shape
    ds = truth.ds[:, times[:, :-1]].reshape(n_movies * n, length - 1)
    positions = None
    if truth.positions is not None:
        positions = truth.positions[:, times].reshape(n_movies * n, length, *truth.positions.shape[2:])
    sites = None
    if truth.sites is not None:   # rest positions in the cropped and binned frame's pixels
        y0, _, x0, _ = options.crop or (0, None, 0, None)
        sites = truth.sites.in_frame(x0, y0, options.bin)
    kept = replace(truth, ds=ds, positions=positions, sites=sites)
    spatial = options.crop is not None or options.bin > 1 or options.normalize
    return kept, ("ground truth kept: it is the EP of the whole system, whatever part of it the cropped "
                  "or binned frames still show") if spatial else ""
