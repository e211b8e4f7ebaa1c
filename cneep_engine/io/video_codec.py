"""What a video's codec did to the frames: lossy or not, and whether frames were predicted from other frames.

Inter-frame codecs (H.264, HEVC, MPEG-4, VP9) store most frames as differences from frames before and after
them (P- and B-frames) and spend their error budget unevenly along time, so the decoded movie can carry a
time arrow that the sample never had. `video_warnings` says so before an EP estimate is trusted.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .video import index_video

_NAMES = {"h264": "H.264", "hevc": "H.265/HEVC", "mpeg4": "MPEG-4 Part 2", "mpeg2video": "MPEG-2",
          "mpeg1video": "MPEG-1", "vp8": "VP8", "vp9": "VP9", "av1": "AV1", "wmv3": "WMV 9", "vc1": "VC-1"}
_TYPED_FRAMES = 600      # frame types come from decoding the first group of pictures, this many frames at most
_PATTERN = 24            # letters of the opening frame types shown


def codec_report(path: str | Path) -> dict:
    """codec (FFmpeg's name), lossy (True, False, or None when the stream does not say), lossy_basis (why),
    gop_length (frames from one keyframe to the next, the commonest gap; the whole movie when it has one
    keyframe), keyframes (their number),
    frame_types (I/P/B counts in the first group of pictures) and frame_pattern (its opening types)."""
    import av
    index = index_video(Path(path))
    gaps = np.diff(index.keyframes)
    gop = int(Counter(gaps.tolist()).most_common(1)[0][0]) if len(gaps) else index.n_frames
    lossy, basis = _lossy(av.codec.Codec(index.codec, "r"), index.profile)
    types = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            types.append(av.video.frame.PictureType(int(frame.pict_type)).name)
            if len(types) >= min(gop, _TYPED_FRAMES):
                break
    return {"codec": index.codec, "lossy": lossy, "lossy_basis": basis, "gop_length": gop,
            "keyframes": len(index.keyframes),
            "frame_types": dict(Counter(types)), "frame_pattern": "".join(t[0] for t in types[:_PATTERN])}


def _lossy(codec, profile: str | None) -> tuple[bool | None, str]:
    if codec.lossless and not codec.lossy:
        return False, f"{codec.name} is a lossless codec"
    if codec.lossy and not codec.lossless:
        return True, f"{codec.name} is a lossy codec"
    if codec.lossy and codec.name == "h264":
        if profile and "4:4:4" in profile:
            return None, "H.264 High 4:4:4 Predictive can be lossless (x264 at qp 0) or lossy; the stream does not say"
        return True, f"H.264 is lossless only in the High 4:4:4 Predictive profile; this stream is {profile or '?'}"
    if codec.lossy:
        return True, f"{codec.name} has lossless modes too, which the stream does not announce; taken as lossy"
    return None, f"FFmpeg does not say whether {codec.name} is lossy"


def video_warnings(info: dict) -> list[str]:
    """Sentences for a video whose compression can fake a time arrow; `info` is what `describe` returns."""
    if "codec" not in info or info["lossy"] is False or info["gop_length"] <= 1:
        return []
    name = _NAMES.get(info["codec"], info["codec"])
    parts = [name] + (["B-frames"] if info["frame_types"].get("B") else [])
    gop = info["gop_length"]
    parts.append(f"one {gop}-frame group" if info["keyframes"] == 1 else f"{gop}-frame groups")
    unknown = "; whether this stream is lossless is unknown" if info["lossy"] is None else ""
    return [f"inter-frame compression ({', '.join(parts)}) can carry a time arrow of its own; train on the "
            f"microscope's lossless file if you have it{unknown}"]
