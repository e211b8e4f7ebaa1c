"""Movies encoded as video files, with the codec's choices made explicit: for tests and for measuring what a
codec's compression does to the time arrow of a movie whose EP is known."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import CneepError
from .atomic import atomic_path

# the temporary file's name ends in .part, so the container is named, not guessed from the suffix
_CONTAINERS = {".mov": "mov", ".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}


def write_video(frames: np.ndarray, path: str | Path, fps: float | Fraction, codec: str = "libx264",
                crf: int | None = 23, bframes: int = 3, gop: int = 12, pix_fmt: str = "yuv420p") -> Path:
    """(frames, H, W) grey or (frames, H, W, 3) RGB uint8 frames (grey also uint16) as a video.

    gop: frames from one keyframe to the next (scene-cut keyframes are off, so the groups are exact);
    bframes: B-frames between reference frames, where the codec has them; crf: x264/x265/VP9 quality
    (lower is closer to the original; None for codecs without it). fps may be a Fraction (24000/1001)."""
    import av   # loading FFmpeg's libraries is needed for videos alone
    path, frames = Path(path), np.asarray(frames)
    container = _CONTAINERS.get(path.suffix.lower())
    if container is None:
        raise CneepError(f"{path}: videos are written as {', '.join(_CONTAINERS)}")
    layout = {(3, "u1"): "gray", (3, "u2"): "gray16le", (4, "u1"): "rgb24"}.get((frames.ndim, frames.dtype.str[1:]))
    if layout is None or (frames.ndim == 4 and frames.shape[-1] != 3):
        raise CneepError(f"{path}: frames of shape {frames.shape} {frames.dtype}; write (frames, H, W) uint8 or "
                         "uint16, or (frames, H, W, 3) uint8")
    rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1_000_000)
    options = {"sc_threshold": "0", "keyint_min": str(gop)} if codec in ("libx264", "libx265") else {}
    if crf is not None:
        options["crf"] = str(crf)
    with atomic_path(path) as tmp:
        try:
            with av.open(str(tmp), "w", format=container) as out:
                stream = out.add_stream(codec, rate=rate, options=options)
                stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
                stream.codec_context.gop_size, stream.codec_context.max_b_frames = gop, bframes
                for image in frames:
                    out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=layout)))
                out.mux(stream.encode())
        except CneepError:
            raise
        except Exception as e:  # FFmpeg refuses sizes, formats or options it cannot encode
            raise CneepError(f"{path}: cannot encode {codec} {pix_fmt} {frames.shape[2]}x{frames.shape[1]} "
                             f"({str(e).strip() or type(e).__name__})") from e
    return path
