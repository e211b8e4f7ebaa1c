"""Training samples per second: our step against the published loop's, same network and batch.

The two are timed in alternating rounds after a warm-up, so that whatever else the machine is doing
slows both alike and their ratio stays meaningful."""

from __future__ import annotations

import time

import numpy as np
import torch

from .. import allocator
from ..models import CNEEPConfig
from ..training import TrainConfig, Trainer
from . import bench_movie
from .baseline import PublishedLoop
from .system_malloc import system_malloc_worker


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _passes(trunk: torch.nn.Module, step) -> dict:
    """How the network is called in one step: trunk calls and windows per call, counted with a hook."""
    calls = []
    hook = trunk.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    try:
        step()
    finally:
        hook.remove()
    return {"passes": len(calls), "inputs_per_pass": calls[0]}


_loop: PublishedLoop | None = None   # the published loop, in the worker process that runs it


def _start_baseline(movies: int, frames: int, train_movies: np.ndarray, config: CNEEPConfig, batch: int,
                    device: str, warmup: int) -> dict:
    """In the worker: the published loop on the same movie (simulated again from the same seed)."""
    global _loop
    _loop = PublishedLoop(bench_movie(movies, frames, seed=0), train_movies, config, batch=batch, device=device)
    shape = _passes(_loop.trunk, _loop.step)
    for _ in range(warmup):
        _loop.step()
    _sync(_loop.device)
    return {"frames": f"{_loop.frames.dtype} on host".replace("torch.", ""), "lr": _loop.opt.param_groups[0]["lr"],
            "weight_decay": _loop.opt.param_groups[0]["weight_decay"], "allocator": allocator.describe(), **shape}


def _baseline_round(seconds: float) -> tuple[int, float]:
    return _timed(_loop.step, seconds, _loop.device)


def _timed(step, seconds: float, device: torch.device) -> tuple[int, float]:
    """Steps done in about `seconds`, and the time they took."""
    t0, done = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        step()
        done += 1
    _sync(device)   # a GPU may still be running queued steps: they count in this round
    return done, time.perf_counter() - t0


def measure(device: str = "auto", batch: int = 4096, seconds: float = 20.0, rounds: int = 4,
            warmup: int = 3, movies: int = 4, frames: int = 2000, channels: int = 32, depth: int = 2) -> dict:
    """Samples/s of `Trainer.step` (what `cneep train` runs) and of `PublishedLoop.step`, on the default
    N=2 bead-spring movie (20x40 px), each timed for about seconds / 2 in `rounds` alternating rounds.
    The published loop runs in a worker process with the system's allocator (see system_malloc.py); the
    worker waits while ours runs, and the other way round."""
    movie = bench_movie(movies, frames, seed=0)
    trainer = Trainer(movie, TrainConfig(batch=batch, channels=channels, depth=depth, device=device,
                                         val_fraction=0.25, test_fraction=0.25))
    train_movies = np.flatnonzero((trainer.parts == 0).all(axis=1))
    model = trainer.new_model(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator(device=trainer.device).manual_seed(0)

    def ours():
        return trainer.step(model, opt, gen)

    with system_malloc_worker() as worker:
        base = worker.submit(_start_baseline, movies, frames, train_movies if train_movies.size else np.arange(movies),
                             trainer.config.model_config, batch, str(trainer.device), warmup).result()
        shape = _passes(model.trunk, ours)
        for _ in range(warmup):
            ours()
        _sync(trainer.device)
        done, spent = {"ours": 0, "baseline": 0}, {"ours": 0.0, "baseline": 0.0}
        for _ in range(rounds):
            for name in done:
                n, t = (_timed(ours, seconds / (2 * rounds), trainer.device) if name == "ours"
                        else worker.submit(_baseline_round, seconds / (2 * rounds)).result())
                done[name] += n
                spent[name] += t
    rate = {k: done[k] * batch / spent[k] for k in done}
    return {
        "device": trainer.device_label, "batch": batch, "frame_shape": list(movie.frame_shape),
        "model": model.describe(), "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "ours": {"samples_per_s": rate["ours"], "steps": done["ours"], "seconds": spent["ours"],
                 "frames": f"{trainer.gather.frames.dtype} on {trainer.device}".replace("torch.", ""),
                 "allocator": allocator.describe(), **shape},
        "baseline": {"samples_per_s": rate["baseline"], "steps": done["baseline"], "seconds": spent["baseline"],
                     **base},
        "ratio": rate["ours"] / rate["baseline"],
    }
