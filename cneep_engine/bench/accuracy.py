"""Time to an accurate EP: train on the default N=2 bead-spring movie (Tc=1, Th=10, dt=0.01, 20x40 px) until
the held-out validation movies give R^2 >= 0.98 and an EP rate within 2% of the exact EP rate of the windows
validated on (sigma_2pt, in expectation), or a budget runs out; then the published loop on the same movies and
the same split, for its own budget.

Both are judged at each of their validations on held-out movies (never trained on), ours on its fixed
validation subset, the published loop on all validation transitions, as it does. Our kept model is then
evaluated on the test movies, as `cneep train` does. Wall times count everything each loop does: data
preparation, training, validations (and for ours the final test evaluation)."""

from __future__ import annotations

import resource
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import torch

from .. import allocator
from ..errors import CneepError
from ..run import train
from ..training import Progress, TrainConfig
from ..windows import assign_parts
from . import (ACCURACY_BATCH, ACCURACY_BUDGET_S, ACCURACY_FRAMES, ACCURACY_ITERATIONS, ACCURACY_MOVIES,
               ACCURACY_SEED, CHAIN, bench_movie)
from .baseline import BATCH, PublishedLoop
from .system_malloc import system_malloc_worker


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def _peak_gpu_mb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / (1 << 20) if device.type == "cuda" else None


def _against_windows(rate: float, truth_rate: float | None) -> dict:
    """The validation rate against the exact EP rate of the very windows it was estimated on: free of the
    scatter of a finite validation set around sigma_2pt (about 10% for 10,000 windows of this movie, whose
    per-window EP is 0.02 +- 0.2), so it shows the estimator's own error."""
    return {"truth_rate": truth_rate, "rel_err_windows": None if truth_rate is None else rate / truth_rate - 1}


def _line(name: str, p: dict) -> str:
    windows = "" if p["rel_err_windows"] is None else f", {p['rel_err_windows']:+.2%} vs these windows' exact rate"
    return (f"{name:<9} {p['wall_s']:7.1f} s  {p['samples']:>10} samples  R^2 {p['r2']:.4f}  "
            f"rate {p['rate']:.4f} ({p['rel_err']:+.2%} vs sigma_2pt{windows})")


def _met(point: dict, target_r2: float, target_err: float) -> bool:
    """Judged on the estimator's own error: the rate against the exact rate of the windows validated on, not
    against sigma_2pt, around which the exact rate of the default benchmark's 15 validation movies alone
    scatters by 3% (standard deviation), so that a perfect estimator would pass a 2% test against sigma_2pt only
    half the time (docs/benchmarks.md, "Judging a rate within 2%")."""
    return point["r2"] is not None and point["r2"] >= target_r2 and abs(point["rel_err_windows"]) <= target_err


def benchmark(movies: int = ACCURACY_MOVIES, frames: int = ACCURACY_FRAMES,
              config: TrainConfig = TrainConfig(batch=ACCURACY_BATCH, iterations=ACCURACY_ITERATIONS, patience=0),
              budget_s: float = ACCURACY_BUDGET_S, baseline_budget_s: float | None = None, baseline_batch: int = BATCH,
              baseline_iters: int = 100_000, baseline_record_every: int = 500, target_r2: float = 0.98,
              target_err: float = 0.02, baseline: bool = True, seed: int = ACCURACY_SEED, log=None) -> dict:
    """Both loops on one simulated movie set; `log(text)` hears of each of our validations (the published
    loop's, from its worker process, go to stderr when `log` is given).

    Whole movies are held out, about 10% for validation and 20% for test (at least one each); the
    fractions in `config` are replaced accordingly."""
    if movies < 3:
        raise CneepError("the benchmark holds out whole movies for validation and test: use at least 3 movies")
    n_val, n_test = max(1, round(0.1 * movies)), max(1, round(0.2 * movies))
    config = replace(config, val_fraction=n_val / movies, test_fraction=n_test / movies)
    if budget_s <= 0 or (baseline_budget_s is not None and baseline_budget_s <= 0):
        raise CneepError("budgets must be positive")
    if min(baseline_batch, baseline_iters, baseline_record_every) < 1 or frames < 3:
        raise CneepError("movies, frames, baseline batch, iterations and record interval must be positive")
    t0 = time.perf_counter()
    movie = bench_movie(movies, frames, seed)
    sim_s = time.perf_counter() - t0
    sigma_2pt = CHAIN.ep_rate_two_frame
    say = log or (lambda text: None)

    curve, cancel = [], threading.Event()

    def watch(ev: Progress) -> None:
        if ev.val_loss is None:
            return
        wall = time.perf_counter() - start   # from before the data went to the device
        point = {"wall_s": wall, "iteration": ev.iteration, "samples": ev.iteration * config.batch,
                 "r2": ev.val_r2, "rate": ev.val_rate, "rel_err": ev.val_rate / sigma_2pt - 1,
                 **_against_windows(ev.val_rate, ev.val_truth_rate)}
        curve.append(point)
        say(_line("ours", point))
        if _met(point, target_r2, target_err) or wall >= budget_s:
            cancel.set()

    start = time.perf_counter()
    run = train(movie, config, callback=watch, cancel=cancel)
    s = run.summary
    reached = next((p for p in curve if _met(p, target_r2, target_err)), None)
    device = torch.device(run.models[0].head.weight.device)
    ours = {"config": {k: getattr(config, k) for k in ("batch", "lr", "schedule", "average", "iterations",
                                                        "eval_every", "val_samples", "seed")},
            "device": s["device"], "allocator": allocator.describe(), "reached": reached is not None,
            "time_to_target_s": reached["wall_s"] if reached else None,
            "samples_to_target": reached["samples"] if reached else None,
            "iterations": s["iterations"], "samples": s["iterations"] * config.batch,
            "wall_s": s["wall_s"], "peak_rss_mb": _peak_rss_mb(), "peak_gpu_mb": _peak_gpu_mb(device),
            "test": {"rate": s["ep_rate"], "rel_err_2pt": s["truth"]["rel_err_2pt"],
                     "rel_err_windows": s["truth"]["rel_err_empirical"], "r2": s["truth"]["r2"],
                     "best_iteration": s["best_iteration"]},
            "curve": curve}
    result = {"movie": {"movies": movies, "frames": frames, "frame_shape": list(movie.frame_shape),
                        "sigma": CHAIN.ep_rate, "sigma_2pt": sigma_2pt, "simulate_s": sim_s, "seed": seed},
              "target": {"r2": target_r2, "rel_err_windows": target_err}, "ours": ours}
    if baseline:
        with system_malloc_worker() as worker:
            result["baseline"] = worker.submit(
                _baseline, (movies, frames, seed), run.config, str(device), baseline_batch, baseline_iters,
                baseline_record_every, baseline_budget_s or budget_s, target_r2, target_err, log is not None).result()
    return result


def _baseline(simulation: tuple[int, int, int], config: TrainConfig, device: str, batch: int, iters: int,
              record_every: int, budget_s: float, target_r2: float, target_err: float, verbose: bool) -> dict:
    """The published loop on the same train and validation movies (its validation: all their transitions).
    It runs in a worker process with the system's allocator (see system_malloc.py), on the same movies,
    simulated again there from the same seed: `simulation` is (movies, frames, seed)."""
    movie, sigma_2pt, device = bench_movie(*simulation), CHAIN.ep_rate_two_frame, torch.device(device)
    t0 = time.perf_counter()
    parts = assign_parts(movie.n_movies, movie.n_frames, config.val_fraction, config.test_fraction, config.seq_len)
    train_movies = np.flatnonzero((parts == 0).all(axis=1))
    val_movies = np.flatnonzero((parts == 1).all(axis=1))
    loop = PublishedLoop(movie, train_movies, config.model_config, batch=batch, device=device, seed=config.seed)
    truth_rate = float(movie.truth.ds[val_movies].mean()) / movie.dt
    curve, reached, it = [], None, 0
    for it in range(1, iters + 1):
        loop.step()
        last = time.perf_counter() - t0 >= budget_s
        if it % record_every and not last and it != iters:
            continue
        loop.report(train_movies)   # the published loop evaluates the whole train file too: it costs time
        val = loop.report(val_movies)
        point = {"wall_s": time.perf_counter() - t0, "iteration": it, "samples": it * batch,
                 "r2": val.get("r2"), "rate": val["rate"], "rel_err": val["rate"] / sigma_2pt - 1,
                 **_against_windows(val["rate"], truth_rate)}
        curve.append(point)
        if verbose:
            print(_line("baseline", point), file=sys.stderr, flush=True)
        if _met(point, target_r2, target_err):
            reached = point
            break
        if last:
            break
    return {"config": {"batch": batch, "lr": loop.opt.param_groups[0]["lr"],
                       "weight_decay": loop.opt.param_groups[0]["weight_decay"], "record_every": record_every,
                       "budget_s": budget_s, "allocator": allocator.describe()},
            "reached": reached is not None, "time_to_target_s": reached["wall_s"] if reached else None,
            "samples_to_target": reached["samples"] if reached else None,
            "iterations": it, "samples": it * batch, "wall_s": time.perf_counter() - t0,
            "peak_rss_mb": _peak_rss_mb(), "peak_gpu_mb": _peak_gpu_mb(device), "curve": curve}
