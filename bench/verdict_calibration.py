"""Calibration of the run verdict (cneep_engine/verdict.py) on synthetic data with exact answers.

Five experiments, each repeated with independent data (and training) seeds:
  exact     the exact per-transition EP of driven N=2 bead-spring trajectories taken as the estimator's dS
            (no training): the 95% interval must cover sigma_2pt, the exact mean, in ~95% of repeats.
  eq-movie  CNEEP, short training on equilibrium movies (Tc = Th): p_equilibrium uniform on [0, 1] (KS test).
  eq-neep   NEEP, short training on equilibrium bead coordinates: p_equilibrium uniform.
  driven    CNEEP, short training on the N=2 chain at Tc=1, Th=10 (10 movies): p_equilibrium < 1e-3; coverage
            of the test windows' exact rate (empirical_rate), of sigma_2pt and of the trained estimator's own
            expectation (its rate on 5x more windows of fresh movies), with the convergence flag.
Movies are small (12 x 24 px, as in tests/test_training.py) so that CNEEP learns in a few minutes of one core.

    OMP_NUM_THREADS=1 python bench/verdict_calibration.py --jobs 2      # ~30 min on 2 cores
Writes bench/out/verdict/calibration.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import kstest



def _renderer():
    from cneep_engine import BeadRenderer
    return BeadRenderer(cell=12, pixel_size=2.0, psf_sigma=12 / 7)


def _train(data, config):
    import torch
    torch.set_num_threads(1)
    from cneep_engine import train
    return train(data, config)


def exact(seed: int, movies: int, frames: int) -> dict:
    from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
    from cneep_engine.verdict import verdict
    chain = BeadSpringChain(tc=1, th=10, dt=0.01)
    data = simulate_bead_spring_trajectories(chain, movies, frames, seed=10_000 + seed)
    ds = data.truth.ds.ravel()
    movie = np.repeat(np.arange(movies), frames - 1)
    frame = np.tile(np.arange(frames - 1), movies)
    v = verdict(ds, movie, frame, np.ones(ds.size, bool), chain.dt, seed=seed)
    return {"rate": float(ds.mean() / chain.dt), "sigma_2pt": chain.ep_rate_two_frame, **v}


def eq_movie(seed: int, movies: int, frames: int, train: dict) -> dict:
    from cneep_engine import BeadSpringChain, TrainConfig, simulate_bead_spring
    data = simulate_bead_spring(BeadSpringChain(tc=1, th=1, dt=0.01), _renderer(), movies, frames, seed=seed)
    return _fields(_train(data, TrainConfig(**train, seed=seed)).summary)


def eq_neep(seed: int, movies: int, frames: int, train: dict) -> dict:
    from cneep_engine import BeadSpringChain, TrainConfig, simulate_bead_spring_trajectories
    data = simulate_bead_spring_trajectories(BeadSpringChain(tc=1, th=1, dt=0.01), movies, frames, seed=seed)
    config = TrainConfig(**{**train, "channels": 32}, model="neep", hidden=64, seed=seed)
    return _fields(_train(data, config).summary)


def driven(seed: int, movies: int, frames: int, train: dict) -> dict:
    from cneep_engine import BeadSpringChain, TrainConfig, simulate_bead_spring
    from cneep_engine.run import evaluate
    from cneep_engine.training import Trainer
    from cneep_engine.windows import window_starts
    chain = BeadSpringChain(tc=1, th=10, dt=0.01)
    config = TrainConfig(**train, seed=seed)
    run = _train(simulate_bead_spring(chain, _renderer(), movies, frames, seed=seed), config)
    # The trained estimator's own expectation: its mean dS on 5x more windows of fresh movies (25x the test part).
    fresh = Trainer(simulate_bead_spring(chain, _renderer(), 5 * movies, frames, seed=50_000 + seed), config)
    starts, _ = window_starts(fresh.parts, 2)
    ds, _, _ = evaluate(fresh, run.models, starts)
    t = run.summary["truth"]
    return {**_fields(run.summary), "empirical_rate": t["empirical_rate"], "sigma_2pt": t["sigma_2pt"],
            "r2": t["r2"], "expectation": float(ds.mean() / chain.dt)}


def _fields(s: dict) -> dict:
    keys = ("ep_rate", "ep_rate_err", "ep_rate_ci95", "p_equilibrium", "noise_floor", "block", "converged",
            "warnings", "wall_s")
    return {k: s[k] for k in keys}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def _covered(rows: list[dict], key: str, ci: str = "ep_rate_ci95") -> float:
    return float(np.mean([r[ci][0] <= r[key] <= r[ci][1] for r in rows]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=20, help="repeats of each trained experiment")
    p.add_argument("--exact-repeats", type=int, default=400)
    p.add_argument("--movies", type=int, default=10)
    p.add_argument("--frames", type=int, default=2000, help="frames per driven movie")
    p.add_argument("--iters", type=int, default=2000, help="training iterations on driven movies")
    p.add_argument("--eq-frames", type=int, default=1000, help="frames per equilibrium movie")
    p.add_argument("--eq-iters", type=int, default=1000, help="training iterations at equilibrium")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--channels", type=int, default=8, help="cneep: channels of the first block")
    p.add_argument("--eval-every", type=int, default=25, help="iterations between validations")
    p.add_argument("--neep-frames", type=int, default=5000, help="frames per equilibrium trajectory")
    p.add_argument("--jobs", type=int, default=2, help="processes, one torch thread each")
    p.add_argument("-o", "--output", type=Path, default=Path("bench/out/verdict/calibration.json"))
    a = p.parse_args()
    train = {"iterations": a.iters, "lr": a.lr, "batch": a.batch, "channels": a.channels,
             "eval_every": a.eval_every, "patience": 0, "device": "cpu"}
    eq_train = train | {"iterations": a.eq_iters}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.jobs) as pool:
        futures = {
            "driven": [pool.submit(driven, s, a.movies, a.frames, train) for s in range(a.repeats)],
            "eq-movie": [pool.submit(eq_movie, s, a.movies, a.eq_frames, eq_train) for s in range(a.repeats)],
            "eq-neep": [pool.submit(eq_neep, s, a.movies, a.neep_frames, eq_train) for s in range(a.repeats)],
            "exact": [pool.submit(exact, s, a.movies, a.frames) for s in range(a.exact_repeats)],
        }
        rows = {name: [f.result() for f in fs] for name, fs in futures.items()}
    out = {"args": vars(a) | {"output": str(a.output)}, "machine": f"{_cpu()}, {os.cpu_count()} cores",
           "date": time.strftime("%Y-%m-%d"), "wall_s": time.perf_counter() - t0, "rows": rows, "results": {}}
    res = out["results"]
    res["exact"] = {"coverage_sigma_2pt": _covered(rows["exact"], "sigma_2pt"),
                    "mean_err": float(np.mean([r["ep_rate_err"] for r in rows["exact"]])),
                    "sd_of_rates": float(np.std([r["rate"] for r in rows["exact"]], ddof=1)),
                    "p_max": max(r["p_equilibrium"] for r in rows["exact"])}
    for name in ("eq-movie", "eq-neep"):
        ps = [r["p_equilibrium"] for r in rows[name]]
        res[name] = {"ks_p_uniform": float(kstest(ps, "uniform").pvalue), "p_values": sorted(ps),
                     "rejected_at_5pct": float(np.mean(np.array(ps) < 0.05)),
                     "mean_noise_floor": float(np.mean([r["noise_floor"] for r in rows[name]])),
                     "converged": float(np.mean([bool(r["converged"]) for r in rows[name]]))}
    d = rows["driven"]
    res["driven"] = {"p_max": max(r["p_equilibrium"] for r in d),
                     "coverage_empirical": _covered(d, "empirical_rate"),
                     "coverage_sigma_2pt": _covered(d, "sigma_2pt"),
                     "coverage_expectation": _covered(d, "expectation"),
                     "mean_rate": float(np.mean([r["ep_rate"] for r in d])),
                     "sd_of_rates": float(np.std([r["ep_rate"] for r in d], ddof=1)),
                     "mean_err": float(np.mean([r["ep_rate_err"] for r in d])),
                     "mean_expectation": float(np.mean([r["expectation"] for r in d])),
                     "sigma_2pt": d[0]["sigma_2pt"], "mean_r2": float(np.mean([r["r2"] for r in d])),
                     "converged": float(np.mean([bool(r["converged"]) for r in d]))}
    a.output.parent.mkdir(parents=True, exist_ok=True)
    a.output.write_text(json.dumps(out, indent=1))
    print("| experiment | repeats | result |\n|---|---|---|")
    for name, r in res.items():
        shown = {k: v for k, v in r.items() if k != "p_values"}
        print(f"| {name} | {len(rows[name])} | " + ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()) + " |")
    print(f"wall {out['wall_s']:.0f} s; {out['machine']}; written to {a.output}")


if __name__ == "__main__":
    main()
