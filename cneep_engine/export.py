"""What a run shows and writes out: per-frame dissipation maps, the overlay as RGB, traces and files.

The desktop app draws exactly what these functions compute, so an exported PNG or movie matches the screen.
The overlay is a diverging colour map centred at zero whose opacity grows with |map|: where the estimator
sees no dissipation the movie shows through unchanged.

    rgb = overlay_rgb(frame, frame_map(run, movie=0, frame=10), levels=(0, 255), limit=map_limits(run)[0])
    write_overlay_movie("overlay.mp4", (overlay_rgb(...) for ...), fps=20)

Figures (enlarged, with colour and scale bars) are drawn by `figure.render_figure` from the same overlay.
"""

from __future__ import annotations

from dataclasses import asdict
import threading
from pathlib import Path
from typing import Iterable

import imageio.v3 as iio
import numpy as np
import tifffile

from .errors import CneepError
from .io import Preprocess, load_movie, load_trajectories, save_movie, save_trajectories
from .io.atomic import atomic_path, write_json
from .maps import upsample
from .movie import Movie
from .progress import Callback, PhaseReporter, reported
from .run import Run, load_run
from .trajectories import Trajectories
from .windows import PARTS

# Cold (negative EP) to hot (positive EP), through a neutral grey that is transparent anyway.
_ANCHORS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_COLOURS = np.array([[33, 102, 172], [103, 169, 207], [200, 200, 200], [239, 138, 98], [178, 24, 43]])
LUT_SIZE = 256


def diverging_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA table for values from -limit (row 0) to +limit (row 255); alpha rises with |value| /
    limit as a smoothstep, half at half the limit."""
    x = np.linspace(0.0, 1.0, LUT_SIZE)
    rgb = np.stack([np.interp(x, _ANCHORS, _COLOURS[:, c]) for c in range(3)], axis=1)
    # The two middle rows (zero falls between them) are fully transparent; the end rows opaque. Alpha leaves 0
    # with zero slope: rising as |value|, a smoothly interpolated map that changes sign drew a dark line along
    # every zero crossing over a dark frame (the frame itself, between two faint tints).
    a = np.clip((np.abs(np.arange(LUT_SIZE) - (LUT_SIZE - 1) / 2) - 0.5) / (LUT_SIZE / 2 - 1), 0, 1)
    return np.rint(np.column_stack([rgb, a * a * (3 - 2 * a) * 255])).astype(np.uint8)


def lut_index(values: np.ndarray, low: float, high: float, n: int = LUT_SIZE) -> np.ndarray:
    """Table row of each value for levels (low, high): the same truncating rule pyqtgraph's ImageItem uses."""
    scaled = (np.asarray(values, dtype=np.float64) - low) * (n / (high - low))
    return np.clip(scaled, 0, n - 1).astype(np.intp)


def window_at(run: Run, movie: int, frame: int) -> int | None:
    """The evaluation window that shows `frame` of `movie`: the last one starting at or before it."""
    sel = np.flatnonzero(run.movie == movie)
    if sel.size == 0:
        return None
    k = np.searchsorted(run.frame[sel], frame, side="right") - 1
    return int(sel[max(k, 0)])


def frame_map(run: Run, movie: int, frame: int) -> np.ndarray | None:
    """Frame-resolution dissipation map (EP per pixel) of the transition(s) starting at `frame`."""
    i = window_at(run, movie, frame)
    return None if i is None else upsample(run.maps[i], run.frame_shape)


def map_limits(run: Run, percentile: float = 99.5) -> tuple[float, float]:
    """Symmetric colour limits (per-window maps, time-averaged map) at frame resolution.

    A high percentile of |map| rather than the maximum, so one extreme pixel does not wash out the rest. Taken
    over at most about 20,000 windows spread evenly through the run: the limits of a colour scale need no more,
    and a long run's maps (memory-mapped, 0.8 GB for 4 M windows) are not read whole."""
    cell_area = np.prod(run.frame_shape) / np.prod(run.maps.shape[-2:])
    sample = run.maps[::max(1, len(run.maps) // 20_000)]
    return symmetric_limit(sample / cell_area, percentile), symmetric_limit(run.mean_map, percentile)


def symmetric_limit(a: np.ndarray, percentile: float = 99.5) -> float:
    """The colour scale's limit for map values `a`: a high percentile of |a|, or 1 when that is not positive."""
    value = float(np.percentile(np.abs(a), percentile)) if a.size else 0.0
    return value if value > 0 and np.isfinite(value) else 1.0


def overlay_rgb(frame: np.ndarray, ep_map: np.ndarray | None, levels: tuple[float, float], limit: float,
                opacity: float = 0.7, frame_lut: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8: the frame under `levels` (and an optional (n, 3+) LUT), with the map blended over it."""
    low, high = levels
    if frame_lut is None:
        frame_lut = np.repeat(np.arange(LUT_SIZE, dtype=np.uint8)[:, None], 3, axis=1)
    base = frame_lut[lut_index(frame, low, high if high > low else low + 1, len(frame_lut))][..., :3]
    if ep_map is None or opacity <= 0:
        return base.astype(np.uint8)
    rgba = diverging_lut()[lut_index(ep_map, -limit, limit)]
    alpha = opacity * rgba[..., 3:].astype(np.float32) / 255
    out = (1 - alpha) * base + alpha * rgba[..., :3]
    return np.rint(out).astype(np.uint8)


def cumulative_trace(run: Run, movie: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Time (s), predicted cumulative EP and true cumulative EP (or None) along one movie, starting at 0."""
    sel = run.movie == movie
    if not sel.any():
        raise CneepError(f"the run has no windows in movie {movie}")
    first = run.frame[sel][0]
    t = np.concatenate([[first], run.frame[sel] + run.config.seq_len - 1]) * run.dt
    cum = np.concatenate([[0.0], run.cumulative(run.ds)[sel]])
    true = None if run.true_ds is None else np.concatenate([[0.0], run.cumulative(run.true_ds)[sel]])
    return t, cum, true


def trace_parts(run: Run, movie: int) -> list[tuple[float, float, str]]:
    """The stretches of one movie's trace (start and end time in s, as in `cumulative_trace`) whose windows belong
    to one part of the split, in order, each with the part's name in `PARTS`; windows straddling two parts belong
    to none. The EP of windows trained on can run high: a network tells the windows it saw from their reverse
    better than new ones."""
    sel = run.movie == movie
    frame, part = run.frame[sel], run.part[sel]
    cuts = np.flatnonzero(np.diff(part)) + 1
    spans = []
    for first, last in zip(np.r_[0, cuts], np.r_[cuts, len(part)] - 1):
        if part[first] >= 0:
            spans.append((float(frame[first] * run.dt), float((frame[last] + run.config.seq_len - 1) * run.dt),
                          PARTS[part[first]]))
    return spans


def _calibration(run: Run) -> dict:
    return {"resolution": (1 / run.pixel_size, 1 / run.pixel_size)}


def _needs_maps(run: Run, path: Path) -> None:
    if run.maps is None:
        raise CneepError(f"{path}: a {run.config.model} run on trajectories has no dissipation maps to write")


def write_map_stack(run: Run, path: str | Path, progress: Callback | None = None,
                    cancel: threading.Event | None = None) -> Path:
    """Every window's map at frame resolution (EP per pixel), float32 ImageJ stack, written frame by frame.
    "export" events go to `progress`; `cancel` stops the write (Cancelled) and leaves no file."""
    path = Path(path)
    _needs_maps(run, path)
    n, (h, w) = len(run.maps), run.frame_shape
    report = PhaseReporter("export", n, progress, cancel, f"{path}: export", "maps", "; no file written")
    frames = reported((upsample(m, run.frame_shape).astype(np.float32) for m in run.maps), report)
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, frames, shape=(n, h, w), dtype=np.float32, imagej=True, **_calibration(run),
                         metadata={"axes": "TYX", "unit": "um", "finterval": run.window_time,
                                   "Info": "EP per pixel of each window (k_B); windows listed in the EP trace CSV"})
    report(n)
    return path


def write_mean_map(run: Run, path: str | Path) -> Path:
    """The time-averaged map over the test windows, EP per second per pixel, float32 ImageJ TIFF; beside it
    (`*_sem`, `*_seed_spread`) its standard error and spread over seeds when the run has them."""
    path = Path(path)
    _needs_maps(run, path)
    run.write_mean_map(path)
    return path


def write_image(rgb: np.ndarray, path: str | Path) -> Path:
    """An RGB image as PNG or (uncompressed) TIFF, by the path's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".tif", ".tiff"):
        raise CneepError(f"{path}: images are written as .png, .tif or .tiff")
    with atomic_path(path) as tmp:
        if suffix == ".png":
            iio.imwrite(tmp, rgb, extension=".png")
        else:
            tifffile.imwrite(tmp, rgb, photometric="rgb")
    return path


_VIDEO = {".mp4": ("mp4", "libx264", "yuv420p"),     # small, plays everywhere, lossy
          ".avi": ("avi", "ffv1", "bgr0")}           # lossless RGB


def write_overlay_movie(path: str | Path, frames: Iterable[np.ndarray], fps: float, scale: int = 1,
                        total: int | None = None, progress: Callback | None = None,
                        cancel: threading.Event | None = None) -> Path:
    """Write RGB frames as MP4 (H.264) or AVI (lossless FFV1), each pixel repeated `scale` times per axis.
    With `total` (the number of frames), "export" events go to `progress`; `cancel` stops the write
    (Cancelled) and leaves no file."""
    path = Path(path)
    try:
        container, codec, pixel_format = _VIDEO[path.suffix.lower()]
    except KeyError:
        raise CneepError(f"{path}: overlay movies are written as {' or '.join(_VIDEO)}") from None
    report = PhaseReporter("export", total or 0, progress if total else None, cancel, f"{path}: export", "frames",
                           "; no file written")
    with atomic_path(path) as tmp:
        with iio.imopen(tmp, "w", plugin="pyav", container=container) as out:
            out.init_video_stream(codec, fps=fps, pixel_format=pixel_format)
            for rgb in reported(frames, report):
                rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
                if codec == "libx264":  # 4:2:0 chroma needs even sides
                    rgb = np.pad(rgb, ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0)), mode="edge")
                out.write_frame(np.ascontiguousarray(rgb))
    report(report.total)
    return path


def write_trace_csv(run: Run, path: str | Path) -> Path:
    run.write_trace(Path(path))
    return Path(path)


def write_summary_json(run: Run, path: str | Path) -> Path:
    write_json(path, run.summary)
    return Path(path)


MOVIE_IN_RUN = "movie.tif"
TRAJECTORIES_IN_RUN = "trajectories.npz"


def save_input(data: Movie | Trajectories, run_dir: Path) -> Path:
    """Input that exists only in memory, saved into the run folder (which must exist) so that the run reopens
    with it; `data.path` becomes that file."""
    if isinstance(data, Movie):
        return save_movie(data, run_dir / MOVIE_IN_RUN)
    return save_trajectories(data, run_dir / TRAJECTORIES_IN_RUN)


def save_run(run: Run, data: Movie | Trajectories, run_dir: str | Path) -> Path:
    """Save a run so it reopens with its input; input that exists only in memory is saved into the folder."""
    run_dir = Path(run_dir)
    if data.path is None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CneepError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from e
        save_input(data, run_dir)
    run.summary["input"] = str(Path(data.path).resolve())
    return run.save(run_dir)


def open_run(run_dir: str | Path) -> tuple[Run, Movie | Trajectories]:
    """A saved run and the movie or trajectories it was trained on, read as they were for training: the same
    channel, z-plane and preprocessing, calibrated alike."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    source = run.summary.get("input") or run.input.get("source")
    if not source:
        raise CneepError(f"{run_dir}: the run does not say which input it was trained on")
    # Absolute path first; then the path from the run folder, and the name inside it, for a run folder moved
    # together with its input.
    relative = run.input.get("source_from_run")
    candidates = [Path(source), *([run_dir / relative] if relative else []), run_dir / Path(source).name]
    found = next((p for p in candidates if p.exists()), None)
    what = "movie" if run.maps is not None else "trajectories"
    if found is None:
        raise CneepError(f"{run_dir}: the {what} it was trained on, {source}, is missing")
    if run.maps is None:
        data = load_trajectories(found, kind=run.input.get("kind"))
        shape = (data.n_trajectories, data.n_frames, tuple(data.data.shape[2:]))
    else:
        options = asdict(Preprocess.from_record(run.input.get("preprocess", {})))
        data = load_movie(found, channel=run.input.get("channel"), z=run.input.get("z"), **options)
        shape = (data.n_movies, data.n_frames, data.frame_shape)
    if shape != (run.summary["movies"], run.summary["frames"], tuple(run.frame_shape)):
        raise CneepError(f"{found}: does not match the run in {run_dir} (different size)")
    # The calibration the run trained with, and where it came from (a value typed by the user is the user's).
    data.dt, data.dt_source = run.dt, run.input.get("dt_source", data.dt_source)
    if isinstance(data, Movie):
        data.pixel_size = run.pixel_size
        data.pixel_size_source = run.input.get("pixel_size_source", data.pixel_size_source)
    return run, data
