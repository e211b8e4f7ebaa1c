"""Does lossy inter-frame compression carry a time arrow of its own? The same synthetic movies trained on
losslessly and after a round trip through H.264 with B-frames (what a camera's or phone's export does).

Two systems with exact EP: an equilibrium bead pair (Tc = Th: sigma = 0) and the driven N=2 chain (Tc = 1,
Th = 10). Each movie is encoded on its own (one file per movie, as recorded), decoded by the app's reader, and
trained on with the same settings; the summary's rate, error bar and equilibrium test are printed as one JSON
line per case.

    python bench/codec_arrow.py [--movies 10 --frames 2000 --crf 23 --iters 1500 --out bench/out/codec
                                 --systems equilibrium,chain --inputs lossless,h264]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, load_movie, simulate_bead_spring, train
from cneep_engine.io.video_write import write_video

FPS = Fraction(100)   # dt = 0.01 s, the chain's default


def through_codec(movie, folder: Path, crf: int, bframes: int, gop: int):
    """The movie's frames after encoding each movie as H.264 and decoding it with the app's reader."""
    decoded = []
    for i, frames in enumerate(np.asarray(movie.frames)):
        path = write_video(frames, folder / f"movie{i}.mp4", FPS, crf=crf, bframes=bframes, gop=gop)
        decoded.append(np.asarray(load_movie(path, truth=False).frames[0]))
    return replace(movie, frames=np.stack(decoded))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--movies", type=int, default=10)
    p.add_argument("--frames", type=int, default=2000)
    p.add_argument("--crf", type=int, default=23, help="x264 quality (23 is its default)")
    p.add_argument("--bframes", type=int, default=3)
    p.add_argument("--gop", type=int, default=60)
    p.add_argument("--iters", type=int, default=1500)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench/out/codec"))
    p.add_argument("--systems", default="equilibrium,chain", help="which of equilibrium and chain to run")
    p.add_argument("--inputs", default="lossless,h264", help="which of lossless and h264 to train on")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    # 32 x 64 px frames: H.264 works on 16 x 16 blocks, so the beads span a few of them, as in a real movie.
    render = BeadRenderer(cell=32, psf_sigma=4.8)
    config = TrainConfig(iterations=a.iters, batch=a.batch, eval_every=100, seed=a.seed)
    systems = {"equilibrium": BeadSpringChain(tc=10, th=10), "chain": BeadSpringChain()}
    for name in a.systems.split(","):
        chain = systems[name]
        clean = simulate_bead_spring(chain, render, movies=a.movies, frames=a.frames, seed=a.seed)
        with tempfile.TemporaryDirectory() as tmp:
            coded = through_codec(clean, Path(tmp), a.crf, a.bframes, a.gop)
        err = np.abs(coded.frames.astype(np.int16) - clean.frames).mean()
        inputs = {"lossless": clean, f"h264 crf {a.crf}, {a.bframes} B-frames, gop {a.gop}": coded}
        for label, movie in inputs.items():
            if label.split()[0] not in a.inputs.split(","):
                continue
            s = train(movie, config, run_dir=a.out / f"{name}_{label.split()[0]}").summary
            print(json.dumps({"system": name, "input": label, "sigma": chain.ep_rate,
                              "sigma_2pt": chain.ep_rate_two_frame, "mean_abs_pixel_error": float(err),
                              **{k: s.get(k) for k in ("ep_rate", "ep_rate_err", "ep_rate_ci95", "p_equilibrium",
                                                        "noise_floor", "converged", "stopped", "wall_s")},
                              "r2": s.get("truth", {}).get("r2"), "warnings": s.get("warnings")}), flush=True)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
