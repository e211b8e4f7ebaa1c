"""What a movie of motility-induced phase separation looks like, and what drawing it costs.

Draws the positions of a phase-separated run of `cneep simulate mips` (N = 1024, phi 0.6, the defaults: 256 x 256
px, 3.5 px per R, PSF 2 px, periodic) with the generator's own renderer, times the drawing per frame, and writes
one frame as a PNG. The positions are simulated once and kept (the cache: minutes at the default burn-in):

    nice python bench/mips_movie.py [--coordinates bench/out/mips_movie/coords.npz] [--png docs/mips_movie_frame.png]

which runs `cneep simulate mips --trajectories 1 --frames 50 --interval 0.5 --reuse -o COORDINATES` first.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cneep_engine.cli import main as cneep
from cneep_engine.io import load_trajectories
from cneep_engine.synth.mips_movie import DiscRenderer, mips_movie


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coordinates", type=Path, default=Path("bench/out/mips_movie/coords.npz"))
    parser.add_argument("--png", type=Path, default=Path("docs/mips_movie_frame.png"))
    parser.add_argument("--repeats", type=int, default=5, help="times the movie is drawn; the fastest counts")
    args = parser.parse_args()
    args.coordinates.parent.mkdir(parents=True, exist_ok=True)
    assert cneep(["simulate", "mips", "--trajectories", "1", "--frames", "50", "--interval", "0.5", "--reuse",
                  "-o", str(args.coordinates)]) == 0
    data = load_trajectories(args.coordinates)
    renderer = DiscRenderer()
    best = np.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        movie = mips_movie(renderer, data, data.truth.params["eps"] == 0, seed=0)
        best = min(best, time.perf_counter() - t0)
    frames = movie.frames[0]
    Image.fromarray(frames[-1]).save(args.png, optimize=True)
    packing = data.truth.particles["packing"][0, -1]
    report = {"command": "nice python bench/mips_movie.py", "frames": int(movie.n_frames),
              "frame": list(movie.frame_shape), "pixel_size_um": movie.pixel_size,
              "ms_per_frame": 1e3 * best / movie.n_frames,
              "counts_mean": float(frames.mean()), "counts_max": int(frames.max()),
              "clipped_fraction": float((frames == 255).mean()),
              "dense_fraction": float((packing >= 0.55).mean()), "png": str(args.png)}
    (args.coordinates.parent / "results.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
