"""Videos of any container PyAV opens (MOV, MP4, MKV, AVI, WebM, ...), read with PyAV directly (FFmpeg comes
inside the av wheel; nothing is downloaded). Frames are decoded on demand, as grey or one colour channel; dt is
1 / the stream's frame rate.

The frame count and every frame's place come from an index of the file's packets (a demux pass, no decoding:
milliseconds for thousands of frames), not from the container's announced count or from times computed from
the frame rate, which rounding in the container's time base can put a frame off. A frame is read by seeking to
the keyframe before it and decoding forward; ascending reads decode straight on without seeking again.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CneepError
from ..movie import Movie
from .lazy import LazyFrames

SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".wmv", ".mpg", ".mpeg")
_COLOURS = ("red", "green", "blue")


@dataclass(frozen=True)
class VideoIndex:
    """Where each frame of a video's first video stream lies, from its packets, in presentation order."""

    n_frames: int
    pts: np.ndarray | None     # (n_frames,) sorted timestamps; None: frames are counted in decoding order
    keyframes: np.ndarray      # frame numbers of the keyframes (I-frames), ascending
    announced: int             # the container's frame count, 0 where it records none
    duration: float | None     # the container's duration, s
    codec: str
    profile: str | None
    pix_fmt: str
    height: int
    width: int
    rate: float | None         # frames per second


_INDEX: dict[tuple, VideoIndex] = {}
_INDEX_LOCK = threading.Lock()


def index_video(path: Path) -> VideoIndex:
    """The packet index of `path`, made once per process for each version of the file (path, size, mtime)."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    with _INDEX_LOCK:
        if key not in _INDEX:
            _INDEX[key] = _make_index(path)
        return _INDEX[key]


def _open(path: Path):
    import av   # here, not at the top: loading FFmpeg's libraries is needed for videos alone
    try:
        container = av.open(str(path))
    except Exception as e:  # PyAV raises many types on damaged or foreign files
        raise CneepError(f"{path}: not a readable video (FFmpeg: {_why(e)})") from e
    if not container.streams.video:
        container.close()
        raise CneepError(f"{path}: holds no video stream")
    return container


def _make_index(path: Path) -> VideoIndex:
    with _open(path) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        pts, key = [], []
        try:
            for packet in container.demux(stream):
                if packet.size and not packet.is_discard:   # flush packets and frames an edit list cuts
                    pts.append(packet.pts)
                    key.append(packet.is_keyframe)
        except Exception as e:
            raise CneepError(f"{path}: the video's packets stop being readable after {len(pts)} frames "
                             f"({_why(e)})") from e
        rate = stream.average_rate or stream.guessed_rate
        reorders = ctx.codec.reorder
        # AVI keeps decoding times only: with B-frames its frames are counted in decoding order instead
        by_count = (None in pts or len(set(pts)) < len(pts) or ("avi" in container.format.name and reorders))
        key = np.asarray(key, dtype=bool)
        if by_count:
            order, times = np.arange(len(pts)), None
        else:
            order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
            times = np.asarray(pts, dtype=np.int64)[order]
        keyframes = np.flatnonzero(key[order])
        return VideoIndex(n_frames=len(pts), pts=times, keyframes=keyframes, announced=max(0, stream.frames or 0),
                          duration=container.duration / 1e6 if container.duration else None,
                          codec=ctx.name, profile=ctx.profile, pix_fmt=ctx.pix_fmt or "", height=ctx.height,
                          width=ctx.width, rate=float(rate) if rate else None)


def _why(e: Exception) -> str:
    """An exception as words: its message, or its type where it has none."""
    text = getattr(e, "strerror", None) or str(e).strip()   # FFmpeg's errors: the reason without the path
    return text or f"{type(e).__name__} without a message"


class _Decoder:
    """Frames by number from one open container: seeks to the keyframe before a frame, then decodes forward."""

    def __init__(self, path: Path, index: VideoIndex, fmt: str, channel: int | None):
        self.path, self.index, self.fmt, self.channel = path, index, fmt, channel
        self._slot = {int(t): i for i, t in enumerate(index.pts)} if index.pts is not None else None
        self._container = self._frames = None
        self._next = None   # number of the frame the decoder gives next (at least), None before the first read

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def read(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), self.index.height, self.index.width),
                       dtype=np.uint16 if self.fmt.endswith("16le") else np.uint8)
        for i, k in enumerate(idx):   # ascending: at most one seek, then the decoder's sequential path
            frame = self._frame(int(k)).to_ndarray(format=self.fmt)
            out[i] = frame[..., self.channel] if self.channel is not None else frame
        return out

    def _frame(self, k: int):
        keyframe = self._keyframe_before(k)
        if self._next is None or k < self._next or keyframe > self._next:
            self._seek(keyframe)
        from_start = self._next == 0
        while True:
            try:
                frame = next(self._frames)
            except StopIteration:
                missing = self.index.n_frames - self._next
                raise CneepError(f"{self.path}: decoded {self._next} of {self.index.n_frames} frames; the last "
                                 f"{missing} cannot be decoded (a cut or damaged file?)") from None
            except Exception as e:
                raise CneepError(f"{self.path}: frame {k} (of 0..{self.index.n_frames - 1}) cannot be decoded "
                                 f"({_why(e)})") from e
            if self._slot is None:
                got = self._next
            elif frame.pts is None or frame.pts not in self._slot:
                continue   # leading frames of an open group of pictures, which this seek cannot complete
            else:
                got = self._slot[frame.pts]
            self._next = got + 1
            if got == k:
                return frame
            if got > k and not from_start:   # the seek landed past its keyframe: decode from the start
                self._seek(0)
                from_start = True
            elif got > k:
                raise CneepError(f"{self.path}: the decoder skipped frame {k} (of 0..{self.index.n_frames - 1}) "
                                 f"(went on with frame {got})")

    def _keyframe_before(self, k: int) -> int:
        if self.index.pts is None:
            return 0   # counted frames: only the file's start is a known place
        i = np.searchsorted(self.index.keyframes, k, side="right") - 1
        return int(self.index.keyframes[i]) if i >= 0 else 0

    def _seek(self, keyframe: int) -> None:
        if keyframe == 0 or self._container is None:
            self.close()
            self._container = _open(self.path)
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"   # frame threads: about 1.5x faster sequential decoding on 2 cores
        stream = self._container.streams.video[0]
        if keyframe:
            self._container.seek(int(self.index.pts[keyframe]), stream=stream, backward=True)
        self._frames = self._container.decode(stream)
        self._next = keyframe


def read_video(path: Path, channel: int | None = None, z: int | None = None) -> Movie:
    if z not in (None, 0):
        raise CneepError(f"{path}: a video has no z-planes to choose from")
    if channel is not None and not 0 <= channel < 3:
        raise CneepError(f"{path}: a video has 3 colour channels (0 red, 1 green, 2 blue); "
                         f"channel {channel} does not exist")
    index = index_video(path)
    if index.n_frames == 0:
        raise CneepError(f"{path}: the video has no frames")
    if index.announced > index.n_frames:
        raise CneepError(f"{path}: the container announces {index.announced} frames but holds {index.n_frames}; "
                         f"{index.announced - index.n_frames} at the end are missing (a cut file?)")
    implied = round(index.duration * index.rate) if not index.announced and index.duration and index.rate else 0
    if index.n_frames < implied - max(1, implied // 100):   # 1% leeway: a variable frame rate is only on average
        raise CneepError(f"{path}: the container's duration ({index.duration:.3f} s at {index.rate:g} fps) "
                         f"implies {implied} frames but the file holds {index.n_frames} (a cut file?)")
    deep = any(bits in index.pix_fmt for bits in ("10", "12", "16"))   # keep 10-16 bit grey as uint16
    fmt = ("rgb48le" if deep else "rgb24") if channel is not None else "gray16le" if deep else "gray"
    decoder = _Decoder(path, index, fmt, channel)
    frame_shape = (index.height, index.width)
    frames = LazyFrames(decoder.read, np.arange(index.n_frames)[None], frame_shape,
                        np.uint16 if deep else np.uint8, name=str(path))
    weakref.finalize(frames, decoder.close)
    frames[0, 0], frames[0, -1]   # the first frame at once; a cut file fails now, not mid-training
    if index.n_frames < 2:
        raise CneepError(f"{path}: holds a single frame; a movie needs at least 2 frames")
    movie = Movie(frames=frames, path=path)
    notes = []
    if index.rate:
        movie.dt, movie.dt_source = 1.0 / index.rate, "metadata"
        notes.append(f"frame interval from the stream's frame rate ({index.rate:g} fps); "
                     "check it matches the acquisition")
    notes.append("grey from the decoded luma" if channel is None else f"{_COLOURS[channel]} channel")
    movie.provenance = {"source": str(path), "format": f"video ({index.codec}, {index.pix_fmt or '?'})",
                        "reader": "pyav", "shape": [index.n_frames, *frame_shape], "dtype": str(frames.dtype),
                        "channels": 1 if index.pix_fmt.startswith("gray") else 3, "z_planes": 1,
                        "channel": channel, "notes": notes}
    return movie
