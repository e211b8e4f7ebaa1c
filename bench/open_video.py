"""Time to the first frame, to the packet index and to every frame of a video, and `cneep info`'s codec report.

    python bench/open_video.py movie.mov

Each step runs in a fresh process state (the per-process index cache is cleared between them)."""

import sys
import time

import numpy as np

from cneep_engine.io import describe, load_movie
from cneep_engine.io import video

path = sys.argv[1]
t = time.perf_counter()
video.index_video(path)
index_s = time.perf_counter() - t
video._INDEX.clear()
t = time.perf_counter()
movie = load_movie(path)
open_s = time.perf_counter() - t
t = time.perf_counter()
first = movie.frames[0, 0]
first_s = time.perf_counter() - t
t = time.perf_counter()
frames = movie.frames[0]
all_s = time.perf_counter() - t
t = time.perf_counter()
report = {k: v for k, v in describe(movie).items() if k in ("codec", "lossy", "gop_length", "frame_types")}
describe_s = time.perf_counter() - t
rng = np.random.default_rng(0)
picks = rng.integers(0, movie.n_frames, 20)
t = time.perf_counter()
for k in picks:
    movie.frames[0, int(k)]
random_s = (time.perf_counter() - t) / len(picks)
print(f"{path}: {movie.n_frames} frames of {movie.frame_shape}, {report}")
print(f"packet index {index_s * 1e3:.0f} ms; load_movie (index, first and last frame) {open_s:.2f} s; first frame "
      f"again {first_s * 1e3:.0f} ms; all frames in order {all_s:.2f} s ({movie.n_frames / all_s:.0f} frames/s); "
      f"a random frame {random_s * 1e3:.0f} ms on average; codec report {describe_s:.2f} s")
