"""Calibration of the run verdict (cneep_engine/verdict.py) on synthetic data with exact answers.

Five experiments, each repeated with independent data and training seeds:
  exact         the exact per-transition EP of driven N=2 bead-spring trajectories taken as the estimator's dS (no
                training): the 95% interval must cover sigma_2pt, the exact mean, in ~95% of repeats.
  eq-neep       NEEP, short training on equilibrium (Tc = Th) bead coordinates: p_equilibrium uniform (KS test).
  eq-movie      CNEEP, short training on equilibrium movies: p_equilibrium uniform.
  driven-neep   NEEP on the N=2 chain at Tc=1, Th=10: p_equilibrium; coverage of the test windows' exact rate
                (empirical_rate), of sigma_2pt and of the trained estimator's own expectation (its rate on 5x
                more windows of fresh trajectories); the convergence flag.
  driven-movie  the same with CNEEP on 10 movies (fewer repeats: they cost minutes each).
Movies are small (12 x 24 px, as in tests/test_training.py) so that CNEEP learns in a minute or two of one core.
At equilibrium also: the correlation of neighbouring block sums and the p-values of flipping every block (the
blocks the verdict leaves as gaps included), which show what the telescoping part g(x') - g(x) of dS does.

    OMP_NUM_THREADS=1 python bench/verdict_calibration.py --jobs 2
Writes bench/out/verdict/calibration.json after each experiment and prints a markdown table.
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


def equilibrium(seed: int, kind: str, movies: int, frames: int, train: dict) -> dict:
    from cneep_engine import BeadSpringChain, TrainConfig
    data = _simulate(kind, BeadSpringChain(tc=1, th=1, dt=0.01), movies, frames, seed)
    run = _train(data, TrainConfig(**train, seed=seed, **_model(kind)))
    return _fields(run.summary) | _telescoping(run)


def _telescoping(run) -> dict:
    """On the verdict's blocks of held-out dS: the correlation of neighbouring block sums within a movie (a
    telescoping part g(x') - g(x) makes it -1/2 for blocks longer than the relaxation time) and the p-value of
    sign flips of every block, touching ones included."""
    from cneep_engine.verdict import MIN_BLOCKS, blocks, p_value, segments, sign_flip_null
    test = run.part == 2
    x = run.ds[test]
    seg = segments(run.movie[test], run.frame[test])
    block, _ = blocks(seg, max(1, x.size // MIN_BLOCKS))
    sums = np.bincount(block, weights=x)
    first = np.bincount(block, weights=seg) / np.bincount(block)
    same = first[1:] == first[:-1]
    return {"neighbour_corr": float(np.corrcoef(sums[:-1][same], sums[1:][same])[0, 1]),
            "p_every_block": p_value(float(x.sum()), sign_flip_null(sums))}


def driven(seed: int, kind: str, movies: int, frames: int, train: dict, fresh: int) -> dict:
    from cneep_engine import BeadSpringChain, TrainConfig
    from cneep_engine.run import evaluate
    from cneep_engine.training import Trainer
    from cneep_engine.windows import window_starts
    chain = BeadSpringChain(tc=1, th=10, dt=0.01)
    config = TrainConfig(**train, seed=seed, **_model(kind))
    run = _train(_simulate(kind, chain, movies, frames, seed), config)
    # The trained estimator's own expectation: its mean dS on `fresh` times more windows of new data.
    new = Trainer(_simulate(kind, chain, fresh * movies, frames, 50_000 + seed), config)
    ds = evaluate(new, run.models, window_starts(new.parts, 2)[0])[0]
    t = run.summary["truth"]
    return {**_fields(run.summary), "empirical_rate": t["empirical_rate"], "sigma_2pt": t["sigma_2pt"],
            "r2": t["r2"], "expectation": float(ds.mean() / chain.dt)}


def _simulate(kind, chain, movies, frames, seed):
    from cneep_engine import simulate_bead_spring, simulate_bead_spring_trajectories
    if kind == "movie":
        return simulate_bead_spring(chain, _renderer(), movies, frames, seed=seed)
    return simulate_bead_spring_trajectories(chain, movies, frames, seed=seed)


def _model(kind: str) -> dict:
    return {} if kind == "movie" else {"model": "neep", "hidden": 64}


def _fields(s: dict) -> dict:
    keys = ("ep_rate", "ep_rate_err", "ep_rate_ci95", "p_equilibrium", "noise_floor", "block", "converged",
            "warnings", "wall_s")
    return {k: s[k] for k in keys}


EXPERIMENTS = ["exact", "eq-neep", "driven-neep", "eq-movie", "driven-movie"]


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def _covered(rows: list[dict], key: str, ci: str = "ep_rate_ci95") -> float | None:
    return float(np.mean([r[ci][0] <= r[key] <= r[ci][1] for r in rows])) if rows else None


def _summary(name: str, rows: list[dict]) -> dict:
    ps = [r["p_equilibrium"] for r in rows]
    if name == "exact":
        return {"coverage_sigma_2pt": _covered(rows, "sigma_2pt"), "p_max": max(ps),
                "mean_err": float(np.mean([r["ep_rate_err"] for r in rows])),
                "sd_of_rates": float(np.std([r["rate"] for r in rows], ddof=1))}
    out = {"converged": float(np.mean([bool(r["converged"]) for r in rows])),
           "mean_noise_floor": float(np.mean([r["noise_floor"] for r in rows]))}
    if name.startswith("eq"):
        every = [r["p_every_block"] for r in rows]
        return out | {"ks_p_uniform": float(kstest(ps, "uniform").pvalue),
                      "rejected_at_5pct": float(np.mean(np.array(ps) < 0.05)),
                      "mean_neighbour_corr": float(np.mean([r["neighbour_corr"] for r in rows])),
                      "ks_p_every_block": float(kstest(every, "uniform").pvalue),
                      "p_values": sorted(ps), "p_values_every_block": sorted(every)}
    return out | {"p_max": max(ps), "coverage_empirical": _covered(rows, "empirical_rate"),
                  "coverage_sigma_2pt": _covered(rows, "sigma_2pt"),
                  "coverage_expectation": _covered(rows, "expectation"),
                  "coverage_empirical_if_converged": _covered([r for r in rows if r["converged"]], "empirical_rate"),
                  "mean_rate": float(np.mean([r["ep_rate"] for r in rows])),
                  "sd_of_rates": float(np.std([r["ep_rate"] for r in rows], ddof=1)),
                  "mean_err": float(np.mean([r["ep_rate_err"] for r in rows])),
                  "mean_expectation": float(np.mean([r["expectation"] for r in rows])),
                  "mean_empirical": float(np.mean([r["empirical_rate"] for r in rows])),
                  "sigma_2pt": rows[0]["sigma_2pt"], "mean_r2": float(np.mean([r["r2"] for r in rows]))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=20, help="repeats of eq-neep, eq-movie and driven-neep")
    p.add_argument("--exact-repeats", type=int, default=400)
    p.add_argument("--movie-repeats", type=int, default=10, help="repeats of driven-movie")
    p.add_argument("--movies", type=int, default=10, help="movies or trajectories per data set")
    p.add_argument("--frames", type=int, default=4000, help="frames per driven movie")
    p.add_argument("--iters", type=int, default=1200, help="CNEEP training iterations on driven movies")
    p.add_argument("--eq-frames", type=int, default=4000, help="frames per equilibrium movie")
    p.add_argument("--eq-iters", type=int, default=200, help="CNEEP training iterations at equilibrium")
    p.add_argument("--neep-frames", type=int, default=5000, help="frames per trajectory")
    p.add_argument("--neep-iters", type=int, default=600, help="NEEP training iterations")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--channels", type=int, default=8, help="cneep: channels of the first block")
    p.add_argument("--eval-every", type=int, default=25, help="iterations between validations")
    p.add_argument("--jobs", type=int, default=2, help="processes, one torch thread each")
    p.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=EXPERIMENTS, help="experiments to run")
    p.add_argument("-o", "--output", type=Path, default=Path("bench/out/verdict/calibration.json"))
    a = p.parse_args()
    base = {"lr": a.lr, "batch": a.batch, "channels": a.channels, "eval_every": a.eval_every, "patience": 0,
            "device": "cpu"}
    n, m = a.repeats, a.movies
    plan = {"exact": [(exact, s, m, a.frames) for s in range(a.exact_repeats)],
            "eq-neep": [(equilibrium, s, "neep", m, a.neep_frames, base | {"iterations": a.neep_iters})
                        for s in range(n)],
            "driven-neep": [(driven, s, "neep", m, a.neep_frames, base | {"iterations": a.neep_iters}, 5)
                            for s in range(n)],
            "eq-movie": [(equilibrium, s, "movie", m, a.eq_frames, base | {"iterations": a.eq_iters})
                         for s in range(n)],
            "driven-movie": [(driven, s, "movie", m, a.frames, base | {"iterations": a.iters}, 3)
                             for s in range(a.movie_repeats)]}
    plan = {name: jobs for name, jobs in plan.items() if name in a.only}
    out = {"args": vars(a) | {"output": str(a.output)}, "machine": f"{_cpu()}, {os.cpu_count()} cores",
           "date": time.strftime("%Y-%m-%d"), "rows": {}, "results": {}, "wall_s": {}}
    a.output.parent.mkdir(parents=True, exist_ok=True)
    print("| experiment | repeats | wall s | result |\n|---|---|---|---|", flush=True)
    with ProcessPoolExecutor(a.jobs) as pool:
        futures = {name: [pool.submit(*job) for job in jobs] for name, jobs in plan.items()}
        t0 = time.perf_counter()
        for name, fs in futures.items():     # in order, each written as soon as it is complete
            rows = out["rows"][name] = [f.result() for f in fs]
            r = out["results"][name] = _summary(name, rows)
            out["wall_s"][name] = time.perf_counter() - t0
            a.output.write_text(json.dumps(out, indent=1))
            shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()
                              if not k.startswith("p_values"))
            print(f"| {name} | {len(rows)} | {out['wall_s'][name]:.0f} | {shown} |", flush=True)
    print(f"{out['machine']}; {out['date']}; written to {a.output}")


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
