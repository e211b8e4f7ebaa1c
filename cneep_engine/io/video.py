"""AVI, MP4 and other videos through imageio's PyAV plugin (FFmpeg comes inside the av wheel; nothing is
downloaded). Frames are decoded on demand, as grey or one colour channel; dt is 1 / the container's frame rate."""

from __future__ import annotations

import weakref
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from ..errors import CneepError
from ..movie import Movie
from .lazy import LazyFrames

VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".wmv", ".mpg", ".mpeg")
_COLOURS = ("red", "green", "blue")


def read_video(path: Path, channel: int | None = None, z: int | None = None) -> Movie:
    if z not in (None, 0):
        raise CneepError(f"{path}: a video has no z-planes to choose from")
    if channel is not None and not 0 <= channel < 3:
        raise CneepError(f"{path}: a video has 3 colour channels (0 red, 1 green, 2 blue); "
                         f"channel {channel} does not exist")
    try:
        plugin = iio.imopen(path, "r", plugin="pyav")
    except Exception as e:  # PyAV and imageio raise many types on damaged or foreign files
        raise CneepError(f"{path}: not a readable video ({type(e).__name__}: {e})") from e
    try:
        return _open(plugin, path, channel)
    except CneepError:
        plugin.close()
        raise
    except Exception as e:
        plugin.close()
        raise CneepError(f"{path}: not a readable video ({type(e).__name__}: {e})") from e


def _open(plugin, path: Path, channel: int | None) -> Movie:
    meta = plugin.metadata()
    pix_fmt = meta.get("video_format") or ""
    deep = any(bits in pix_fmt for bits in ("10", "12", "16"))  # keep 10-16 bit grey as uint16
    fmt = "rgb24" if channel is not None else "gray16le" if deep else "gray"
    props = plugin.properties(format=fmt)
    n = props.shape[0] or _count_frames(path)
    if n == 0:
        raise CneepError(f"{path}: the video has no frames")
    frame_shape = props.shape[1:3]

    def read(idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), *frame_shape), dtype=props.dtype)
        for i, k in enumerate(idx):    # ascending: one seek, then the decoder's sequential fast path
            frame = plugin.read(index=int(k), format=fmt)
            out[i] = frame[..., channel] if channel is not None else frame
        return out

    frames = LazyFrames(read, np.arange(n)[None], frame_shape, props.dtype, name=str(path))
    weakref.finalize(frames, plugin.close)
    try:
        frames[0, 0], frames[0, -1]  # the first frame at once; a cut file fails now, not mid-training
    except CneepError as e:
        raise CneepError(f"{path}: the container announces {n} frames but they cannot all be decoded "
                         f"({e.__cause__ or e})") from e
    if n < 2:
        raise CneepError(f"{path}: holds a single frame; a movie needs at least 2 frames")
    movie = Movie(frames=frames, path=path)
    fps = meta.get("fps")
    notes = []
    if fps and fps > 0:
        movie.dt, movie.dt_source = 1.0 / float(fps), "metadata"
        notes.append(f"frame interval from the container's frame rate ({float(fps):g} fps); "
                     "check it matches the acquisition")
    notes.append("grey from the decoded luma" if channel is None else f"{_COLOURS[channel]} channel")
    movie.provenance = {"source": str(path), "format": f"video ({meta.get('codec')}, {pix_fmt or '?'})",
                        "reader": "imageio pyav", "shape": [n, *frame_shape], "dtype": str(props.dtype),
                        "channels": 3 if not pix_fmt.startswith("gray") else 1, "z_planes": 1,
                        "channel": channel, "notes": notes}
    return movie


def _count_frames(path: Path) -> int:
    """Containers that do not record a frame count (MKV, WebM): count the video packets."""
    import av   # here, not at the top: loading FFmpeg's libraries is needed for videos alone
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)
