"""How fast a video opens: the packet index, load_movie (index, first and last frame), every frame in order, random
frames, and `cneep info`'s codec report; wall and CPU seconds (CPU counts all decoding threads).

    python bench/open_video.py movie.mov          # a movie of yours; or, where the file does not exist yet,
                                                  # writes a 480-frame 424x640 H.264 MOV like a phone's first

The written movie: drifting blobs plus noise, 23.976 fps, H.264 High with 3 B-frames, 238-frame groups, crf 26.
"""

import sys
import time
from fractions import Fraction
from pathlib import Path

import av   # loaded before the timing starts: FFmpeg's libraries take a fixed ~0.2 s to load
import numpy as np

from cneep_engine.io import describe, load_movie, video
from cneep_engine.io.video_write import write_video


def drifting_blobs(n=480, h=424, w=640, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w].astype(np.float32)
    start, v = rng.uniform(0, 1, (12, 2)) * [h, w], rng.normal(0, 1.5, (12, 2))
    frames = np.empty((n, h, w), np.uint8)
    for t in range(n):
        image = rng.normal(0, 0.05, (h, w)).astype(np.float32)
        for cy, cx in (start + v * t) % [h, w]:
            image += np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * (h / 20) ** 2))
        frames[t] = np.clip(image * 180 + 30, 0, 255)
    return frames


def timed(step):
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


path = Path(sys.argv[1])
if not path.exists():
    write_video(drifting_blobs(), path, Fraction(24000, 1001), bframes=3, gop=238, crf=26)
_, index_s, index_cpu = timed(lambda: video.index_video(path))
video._INDEX.clear()   # load_movie below indexes afresh
movie, open_s, open_cpu = timed(lambda: load_movie(path))
_, all_s, all_cpu = timed(lambda: movie.frames[0])
picks = np.random.default_rng(0).integers(0, movie.n_frames, 20)
_, random_s, _ = timed(lambda: [movie.frames[0, int(k)] for k in picks])
info, describe_s, _ = timed(lambda: describe(movie))
print(f"{path}: {movie.n_frames} frames of {movie.frame_shape[0]}x{movie.frame_shape[1]}, {info['codec']}, "
      f"keyframe every {info['gop_length']}, first group {info['frame_types']}, {av.__version__=}")
print(f"packet index {index_s * 1e3:.0f} ms (cpu {index_cpu * 1e3:.0f}); load_movie with first and last frame "
      f"{open_s:.2f} s (cpu {open_cpu:.2f}); all frames in order {all_s:.2f} s (cpu {all_cpu:.2f}, "
      f"{movie.n_frames / all_s:.0f} frames/s); a random frame {random_s / len(picks) * 1e3:.0f} ms on average; "
      f"codec report {describe_s:.2f} s")
