"""Time arrows that are not dissipation: drift and bleaching added to bead-spring movies, with and without
the corrections (--register, --bleach-correct).

    nice -n 10 python bench/drift_bleach.py compare     # N=2, Tc=1, Th=10: clean, drifted+bleached, corrected
    nice -n 10 python bench/drift_bleach.py calibrate   # equilibrium (Tc = Th): the smallest arrow that shows
    nice -n 10 python bench/drift_bleach.py measure     # the drift read on chains with and without one
    nice -n 10 python bench/drift_bleach.py noise       # 30 movies of pixel noise alone: no arrow to find

The drift is put into the physics, not the pixels: the beads are rendered at x + v (t - t_mid), so the content
moves v px/frame across a fixed field of view (the beads move along x only, so does the drift). A movie of T
frames sweeps v T pixels; the 20 x 40 px frames allow about 200 frames at 0.05 px/frame, so the movies are
many and short. Bleaching multiplies frame t by exp(-k t), k set by the loss over a movie, before camera noise.
Registration crops the margin the content sweeps (5 px left and right here), which clips the beads' flanks;
the clean movie cropped the same way is reported beside the clean one.

calibrate: short trainings on an equilibrium chain (sigma = 0) at growing drift and bleach, each beside the
arrow `cneep_engine.timearrow` predicts from the movie, to check timearrow.ARROW_THRESHOLD against the
smallest arrow that gives a clearly non-zero rate.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, train
from cneep_engine.io import Preprocess, preprocess
from cneep_engine.movie import GroundTruth, Movie
from cneep_engine.timearrow import _pair_drift, measure_bleaching, measure_drift


def bead_movie(chain: BeadSpringChain, movies: int, frames: int, drift: float = 0.0, bleach: float = 0.0,
               read_noise: float = 0.0, seed: int = 0) -> Movie:
    """Bead-spring movies whose content drifts `drift` px/frame along x and loses `bleach` of its intensity
    over each movie; the ground truth is the chain's own EP."""
    renderer = BeadRenderer()
    positions = chain.sample(movies, frames, seed=seed)
    t = np.arange(frames)
    moved = positions + (drift * (t - (frames - 1) / 2) * renderer.pixel_size)[None, :, None]
    rate = -np.log1p(-bleach) / (frames - 1)
    video = renderer.expected_counts(moved) * np.exp(-rate * t).astype(np.float32)[None, :, None, None]
    if read_noise > 0:
        video += np.random.default_rng(seed + 1).normal(0, read_noise, video.shape).astype(np.float32)
    truth = GroundTruth(ds=chain.transition_ep(positions), sigma=chain.ep_rate, sigma_2pt=chain.ep_rate_two_frame,
                        positions=positions)
    return Movie(frames=video, dt=chain.dt, pixel_size=renderer.pixel_size, dt_source="metadata",
                 pixel_size_source="metadata", truth=truth)


def estimate(movie: Movie, config: TrainConfig) -> dict:
    t0 = time.perf_counter()
    s = train(movie, config).summary
    out = {"ep_rate": s["ep_rate"], "ep_rate_err": s.get("ep_rate_err"), "p_equilibrium": s.get("p_equilibrium"),
           "converged": s.get("converged"), "ep_per_frame": s["ep_per_frame"],
           "wall_s": round(time.perf_counter() - t0)}
    if "truth" in s:
        out.update(r2=s["truth"]["r2"], sigma_2pt=s["truth"]["sigma_2pt"], test_exact_rate=s["truth"]["empirical_rate"])
    return out


def arrows(movie: Movie) -> dict:
    d, b = measure_drift(movie), measure_bleaching(movie)
    return {"drift_px_per_frame": d.velocity.round(4).tolist(), "drift_stderr": d.stderr.round(4).tolist(),
            "drift_arrow_per_frame": d.arrow_per_frame, "intensity_change_per_frame": b.change_per_frame,
            "bleach_arrow_per_frame": b.arrow_per_frame}


def compare(a) -> None:
    chain = BeadSpringChain(beads=2, tc=1, th=10, dt=0.01)
    config = TrainConfig(iterations=a.iters, batch=a.batch, eval_every=100, patience=0, val_samples=5000, device="cpu")
    clean = bead_movie(chain, a.movies, a.frames, read_noise=a.read_noise, seed=a.seed)
    dirty = bead_movie(chain, a.movies, a.frames, drift=a.drift, bleach=a.bleach, read_noise=a.read_noise,
                       seed=a.seed)
    corrected = preprocess(dirty, Preprocess(register=True, bleach_correct=True))
    margin = corrected.provenance["preprocess"]["register_margin_px"]
    h, w = clean.frame_shape
    cases = {"clean": clean,
             "clean, cropped like registration": preprocess(clean, Preprocess(
                 crop=(margin[0], h - margin[0], margin[1], w - margin[1]))),
             f"drift {a.drift} px/frame + bleach {a.bleach:.0%}, uncorrected": dirty,
             "same, --register --bleach-correct": corrected}
    if a.no_cropped:
        del cases["clean, cropped like registration"]
    rows = []
    for name, movie in cases.items():
        row = {"case": name, **arrows(movie), **estimate(movie, config)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\nN=2 bead-spring, Tc=1, Th=10, dt=0.01; {a.movies} movies x {a.frames} frames; {a.iters} iterations "
          f"of batch {a.batch}; sigma_2pt {rows[0]['sigma_2pt']:.4f} per s")
    print("| case | EP rate (per s) | p_equilibrium | converged | R^2 | measured drift [dy, dx] px/frame "
          "| intensity change per frame | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['ep_rate']:.3f} ± {r['ep_rate_err']:.3f} | {r['p_equilibrium']:.2g} "
              f"| {r['converged']} | {r['r2']:.3f} | {r['drift_px_per_frame']} ± {r['drift_stderr']} "
              f"| {r['intensity_change_per_frame']:+.4%} | {r['wall_s']} |")


def calibrate(a) -> None:
    chain = BeadSpringChain(beads=2, tc=1, th=1, dt=0.01)
    config = TrainConfig(iterations=a.iters, batch=a.batch, eval_every=100, patience=0, val_samples=5000, device="cpu")
    cases = [(v, 0.0) for v in a.drifts] + [(0.0, b) for b in a.bleaches if b > 0]
    print("| drift px/frame | bleach over a movie | predicted drift arrow | predicted bleach arrow "
          "| CNEEP EP per frame | wall s |")
    print("|---|---|---|---|---|---|")
    for v, b in cases:
        movie = bead_movie(chain, a.movies, a.frames, drift=v, bleach=b, read_noise=a.read_noise, seed=a.seed)
        x, e = arrows(movie), estimate(movie, config)
        print(f"| {v} | {b:.0%} | {x['drift_arrow_per_frame']:.3g} | {x['bleach_arrow_per_frame']:.3g} "
              f"| {e['ep_per_frame']:.4f} | {e['wall_s']} |", flush=True)


def measure(a) -> None:
    """The drift read (`measure_drift`, and the frame pairs' reading alone) against the truth, a row per case."""
    print("| chain | truth dx px/frame | measured [dy, dx] px/frame | frame pairs alone | wall s |")
    print("|---|---|---|---|---|")
    for th, drift, seed in [(10, 0.05, 0), (10, 0.05, 1), (10, 0.01, 0), (10, 0.0, 0), (10, 0.0, 1), (1, 0.0, 0),
                            (1, 0.05, 0)]:
        movie = bead_movie(BeadSpringChain(beads=2, tc=1, th=th, dt=0.01), a.movies, a.frames, drift=drift,
                           bleach=a.bleach, read_noise=a.read_noise, seed=seed)
        t0 = time.perf_counter()
        d = measure_drift(movie)
        wall = time.perf_counter() - t0
        p = _pair_drift(movie)
        print(f"| Th {th}, seed {seed} | {drift} | {d.velocity.round(4).tolist()} ± {d.stderr.round(4).tolist()} "
              f"| {p.velocity.round(4).tolist()} ± {p.stderr.round(4).tolist()} | {wall:.1f} |", flush=True)


def noise(a) -> None:
    """Movies of nothing but pixel noise (Poisson or Gaussian, 48 x 48 to 200 x 160 px, 40 to 200 frames): how
    many read a significant drift or bleaching, and the largest drift in its own errors."""
    found, largest = {"drift": 0, "bleaching": 0}, 0.0
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        shape, frames = [(48, 48), (96, 96), (200, 160)][seed % 3], [40, 100, 200][(seed // 3) % 3]
        f = rng.poisson(50, (1, frames, *shape)) if seed % 2 else rng.normal(100, 10, (1, frames, *shape))
        movie = Movie(frames=f.astype(np.float32))
        drift, bleach = measure_drift(movie), measure_bleaching(movie)
        found["drift"] += drift.significant
        found["bleaching"] += bleach.significant
        largest = max(largest, float(np.max(np.abs(drift.velocity) / drift.stderr)))
    print(f"30 movies of pixel noise: significant drift in {found['drift']}, bleaching in {found['bleaching']}; "
          f"the largest drift {largest:.2f} of its errors")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["compare", "calibrate", "measure", "noise"])
    p.add_argument("--movies", type=int, help="default: compare and measure 100, calibrate 20")
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--iters", type=int, help="default: compare 1500, calibrate 300")
    p.add_argument("--batch", type=int, help="default: compare 512, calibrate 256")
    p.add_argument("--drift", type=float, default=0.05, help="compare: px/frame along x")
    p.add_argument("--bleach", type=float, default=0.3, help="compare: fraction of the intensity lost per movie")
    p.add_argument("--drifts", type=float, nargs="+", default=[0, 0.0025, 0.005, 0.01, 0.02, 0.04])
    p.add_argument("--bleaches", type=float, nargs="+", default=[0.003, 0.01, 0.03, 0.1])
    p.add_argument("--read-noise", type=float, default=2.0, help="Gaussian camera noise, counts (peak 255)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cropped", action="store_true",
                   help="compare: without the clean movie cropped like registration")
    a = p.parse_args()
    big = a.mode != "calibrate"
    a.movies = a.movies or (100 if big else 20)
    a.iters = a.iters or (1500 if big else 300)
    a.batch = a.batch or (512 if big else 256)
    {"compare": compare, "calibrate": calibrate, "measure": measure, "noise": noise}[a.mode](a)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
