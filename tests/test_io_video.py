"""Videos with B-frames in every common container: frame count, frame rate, every frame exactly as PyAV's own
sequential decoding gives it, random access, what the codec did (`cneep info`), cut files; and the list of file
types, declared once by the readers, wherever it is shown."""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cneep_engine.cli import main
from cneep_engine.errors import CneepError
from cneep_engine.io import SUFFIXES, TRAJECTORY_SUFFIXES, describe, input_formats, load_movie, video
from cneep_engine.io.video_write import write_video

FPS = Fraction(24000, 1001)


def blobs(n=48, h=32, w=48, seed=0):
    """Gaussian blobs drifting across the frame, uint8: enough motion for the encoder to use P- and B-frames."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    start, v = rng.uniform(0, 1, (4, 2)) * [h, w], rng.normal(0, 1.2, (4, 2))
    frames = np.zeros((n, h, w))
    for t in range(n):
        for cy, cx in (start + v * t) % [h, w]:
            frames[t] += np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 18.0)
    return np.clip(30 + 200 * frames, 0, 255).astype(np.uint8)


def plain_decode(path, fmt="gray"):
    """Every frame as one sequential PyAV pass gives it: the reference a reader must match exactly."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format=fmt) for f in container.decode(video=0)])


@pytest.mark.parametrize("suffix", [".mov", ".mp4", ".mkv", ".avi"])
def test_h264_with_b_frames_in_each_container(tmp_path, suffix):
    path = write_video(blobs(), tmp_path / f"b{suffix}", FPS, bframes=3, gop=12, crf=26)
    reference = plain_decode(path)
    m = load_movie(path)
    assert m.frames.shape == (1, 48, 32, 48) and m.frames.dtype == np.uint8
    assert m.dt == pytest.approx(1001 / 24000, rel=1e-9) and m.dt_source == "metadata"
    np.testing.assert_array_equal(m.frames[0], reference)
    order = [47, 3, 30, 12, 11, 0, 47, 25]           # backwards, across keyframes, at and just before them
    np.testing.assert_array_equal(load_movie(path).frames[0, order], reference[order])
    info = describe(m)
    assert (info["codec"], info["lossy"], info["gop_length"], info["keyframes"]) == ("h264", True, 12, 4)
    assert info["frame_types"]["I"] == 1 and info["frame_types"]["B"] > 0 and sum(info["frame_types"].values()) == 12
    assert info["frame_pattern"].startswith("I") and "B" in info["frame_pattern"]
    assert info["warnings"] == ["inter-frame compression (H.264, B-frames, 12-frame groups) can carry a time arrow "
                                "of its own; train on the microscope's lossless file if you have it"]


def test_timestamps_that_are_not_whole_frame_times(tmp_path):
    """23.976 fps in a time base of 1/600 s: frame k sits at floor(25.025 k), so a frame number computed from
    the time and the frame rate is one too small for most frames, and the last frame is never found that way."""
    path = tmp_path / "rounded.mov"
    with av.open(str(path), "w", options={"video_track_timescale": "600"}) as out:
        stream = out.add_stream("libx264", rate=FPS, options={"bf": "3", "g": "12", "sc_threshold": "0"})
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"

        def mux(packets):
            for p in packets:
                p.pts, p.dts = (None if t is None else int(t * p.time_base * 600) for t in (p.pts, p.dts))
                p.time_base = Fraction(1, 600)
                out.mux(p)
        for image in blobs():
            mux(stream.encode(av.VideoFrame.from_ndarray(image, format="gray")))
        mux(stream.encode())
    with av.open(str(path)) as container:
        pts = sorted(p.pts for p in container.demux(video=0) if p.size)
    assert sum(int(t // (600 / FPS)) != k for k, t in enumerate(pts)) > 20
    m = load_movie(path)
    assert m.n_frames == 48
    np.testing.assert_array_equal(m.frames[0], plain_decode(path))


def test_ascending_reads_decode_on_without_seeking(tmp_path, monkeypatch):
    path = write_video(blobs(), tmp_path / "s.mp4", 25, bframes=2, gop=12)
    seeks = []
    original = video._Decoder._seek
    monkeypatch.setattr(video._Decoder, "_seek", lambda self, k: (seeks.append(k), original(self, k)))
    m = load_movie(path)                 # reads the first frame, then the last (from the last keyframe)
    assert seeks == [0, 36]
    seeks.clear()
    for k in range(48):                  # frame by frame, as a viewer steps through the movie
        m.frames[0, k]
    assert seeks == [0]
    m.frames[0, 40]                      # from 47 back to 40: to the keyframe before it
    m.frames[0, 41], m.frames[0, 43]     # on from there
    m.frames[0, 5], m.frames[0, 30]      # 30 lies past keyframe 24: seek there rather than decode 6..29
    assert seeks == [0, 36, 0, 24]


def test_lossless_codecs_read_exactly_and_raise_no_warning(tmp_path):
    grey = blobs()
    path = write_video(grey, tmp_path / "g.mkv", 10, codec="ffv1", crf=None, pix_fmt="gray")
    m = load_movie(path)
    np.testing.assert_array_equal(m.frames[0], grey)
    assert m.dt == pytest.approx(0.1)
    info = describe(m)
    # FFV1 keeps its context states from one keyframe to the next, yet decodes exactly: no time arrow to fear
    assert (info["codec"], info["lossy"], info["gop_length"], info["warnings"]) == ("ffv1", False, 12, [])
    # x264 at crf 0 in 4:4:4 is lossless, but the stream only says "High 4:4:4 Predictive", which can be either
    info = describe(load_movie(write_video(grey, tmp_path / "x.mkv", 10, crf=0, pix_fmt="yuv444p")))
    assert info["lossy"] is None and "High 4:4:4 Predictive" in info["lossy_basis"]
    assert info["warnings"][0].endswith("whether this stream is lossless is unknown")
    deep = grey.astype(np.uint16) * 257
    m = load_movie(write_video(deep, tmp_path / "d.avi", 10, codec="ffv1", crf=None, pix_fmt="gray16le"))
    assert m.frames.dtype == np.uint16
    np.testing.assert_array_equal(m.frames[0], deep)


def test_info_json_reports_the_codec(tmp_path, capsys):
    path = write_video(blobs(), tmp_path / "i.mov", FPS, bframes=3, gop=24, crf=28)
    assert main(["info", str(path), "--json"]) in (None, 0)
    d = json.loads(capsys.readouterr().out)
    assert (d["codec"], d["lossy"], d["gop_length"], d["frames"]) == ("h264", True, 24, 48)
    assert "24-frame groups" in d["warnings"][0]
    assert main(["info", str(path)]) in (None, 0)
    text = capsys.readouterr().out
    assert "codec h264 (lossy" in text and "keyframe every 24 frames" in text and "warning: inter-frame" in text


@pytest.mark.parametrize("suffix, keep, match", [
    (".mkv", 0.5, "implies 48 frames but the file holds"),
    (".avi", 0.9, "the container announces 48 frames but holds"),
    (".mov", 0.9, "not a readable video (FFmpeg: "),
])
def test_a_cut_video_says_what_is_missing(tmp_path, suffix, keep, match):
    whole = write_video(blobs(), tmp_path / f"whole{suffix}", FPS, bframes=3, gop=12).read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[:int(len(whole) * keep)])
    with pytest.raises(CneepError) as err:
        load_movie(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and match in message, message
    assert not message.endswith("()") and "\n" not in message
    assert path.read_bytes() == whole[:int(len(whole) * keep)]


def test_damaged_packets_say_which_frames_fail(tmp_path):
    path = write_video(blobs(), tmp_path / "z.mp4", FPS, bframes=3, gop=12)
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    whole = path.read_bytes()

    def zeroed(which, name):
        pos, size = packets[which]
        damaged = tmp_path / name
        damaged.write_bytes(whole[:pos] + bytes(size) + whole[pos + size:])
        return damaged
    last = zeroed(-1, "last.mp4")      # caught on opening: the last frame is read at once
    with pytest.raises(CneepError, match=r"decoded \d+ of 48 frames; the last \d+ cannot be decoded"):
        load_movie(last)
    middle = load_movie(zeroed(20, "middle.mp4"))   # found when the frames are read
    with pytest.raises(CneepError, match=r"middle.mp4: frame \d+ \(of 0..47\) cannot be decoded \(Invalid data"):
        middle.frames[0]


def test_write_video_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(CneepError, match="videos are written as"):
        write_video(blobs(), tmp_path / "x.tif", 10)
    with pytest.raises(CneepError, match="cannot encode"):
        write_video(blobs(w=47), tmp_path / "odd.mp4", 10)     # 4:2:0 chroma needs even sides
    assert not list(tmp_path.iterdir())                         # nothing half-written is left behind


def test_file_types_come_from_the_readers_declarations():
    from cneep_engine.io import arrays, tiff
    from cneep_gui.main_window import OPEN_FILTER
    assert set(SUFFIXES) == {*tiff.SUFFIXES, *video.SUFFIXES, *arrays.SUFFIXES} and ".mov" in SUFFIXES
    movies_and_tracks = OPEN_FILTER.split(";;")[0]
    assert all(f"*{s}" in movies_and_tracks.split("(")[1].rstrip(")").split() for s in SUFFIXES + TRAJECTORY_SUFFIXES)
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert input_formats() in readme
    assert all(s in input_formats() for s in SUFFIXES + TRAJECTORY_SUFFIXES)
