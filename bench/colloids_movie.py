"""A movie like a phone or camera export of passive colloids in water: the real-movie benchmark's input.

Brownian spheres (diffusion D per axis, px^2 per frame) carried by a slow uniform flow, bright blobs on a
static uneven background with dirt on the optics, camera noise, optional bleaching, encoded as H.264 High
with B-frames in a QuickTime file at 23.976 fps. Passive particles dissipate nothing: any EP an estimator
reports on it comes from the flow, the bleaching or the codec.

    python bench/colloids_movie.py out.mov [--frames 480 --height 424 --width 640 --particles 200
        --flow 0.029,0.093 --bleach 0 --lossless out.tif]
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

from cneep_engine.io import write_tiff
from cneep_engine.io.video_write import write_video


def colloids(frames=480, height=424, width=640, particles=200, diffusion=0.15, flow=(0.029, 0.093),
             radius=2.5, bleach=0.0, seed=0) -> np.ndarray:
    """(frames, H, W) uint8. flow: (dy, dx) px per frame; bleach: the fraction of brightness lost by the end."""
    rng = np.random.default_rng(seed)
    margin = 20 + frames * max(map(abs, flow))
    lo, hi = -margin, np.array([height, width]) + margin
    pos = rng.uniform(lo, hi, (particles, 2))
    yy, xx = np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32)
    # Static: a smooth illumination gradient and dark dirt specks that do not move with the content.
    background = 60 + 25 * np.exp(-((yy[:, None] - height / 2) ** 2 + (xx - width / 2) ** 2) / (0.5 * width**2))
    for y, x, r in zip(rng.uniform(0, height, 30), rng.uniform(0, width, 30), rng.uniform(2, 8, 30)):
        background -= 25 * np.exp(-((yy[:, None] - y) ** 2 + (xx - x) ** 2) / (2 * r**2))
    out = np.empty((frames, height, width), np.uint8)
    for t in range(frames):
        gy = np.exp(-(yy[:, None] - pos[:, 0]) ** 2 / (2 * radius**2))    # (H, N)
        gx = np.exp(-(pos[:, 1][:, None] - xx) ** 2 / (2 * radius**2))    # (N, W)
        gain = 1 - bleach * t / max(1, frames - 1)
        img = background + 140 * gain * (gy @ gx) + rng.normal(0, 3, (height, width))
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
        pos += np.sqrt(2 * diffusion) * rng.standard_normal(pos.shape) + flow
        pos = lo + np.mod(pos - lo, hi - lo)   # particles leaving one side enter at the other, off screen
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("output", type=Path)
    p.add_argument("--frames", type=int, default=480)
    p.add_argument("--height", type=int, default=424)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--particles", type=int, default=200)
    p.add_argument("--diffusion", type=float, default=0.15, help="px^2 per frame, per axis")
    p.add_argument("--flow", default="0.029,0.093", help="dy,dx in px per frame")
    p.add_argument("--bleach", type=float, default=0.0)
    p.add_argument("--crf", type=int, default=28)
    p.add_argument("--gop", type=int, default=238)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lossless", type=Path, help="also write the frames as a TIFF")
    a = p.parse_args()
    movie = colloids(a.frames, a.height, a.width, a.particles, a.diffusion,
                     tuple(float(v) for v in a.flow.split(",")), bleach=a.bleach, seed=a.seed)
    fps = Fraction(24000, 1001)
    write_video(movie, a.output, fps, crf=a.crf, bframes=3, gop=a.gop)
    if a.lossless:
        write_tiff(a.lossless, movie[None], 1 / float(fps), 1.0)
    print(f"wrote {a.output}" + (f" and {a.lossless}" if a.lossless else ""))


if __name__ == "__main__":
    main()
