"""Training samples per second: our step against the published loop's, same network and batch, one process.

The two are timed in alternating rounds after a warm-up, so that whatever else the machine is doing
slows both alike and their ratio stays meaningful."""

from __future__ import annotations

import time

import numpy as np
import torch

from ..synth import BeadRenderer, BeadSpringChain, simulate_bead_spring
from ..training import TrainConfig, Trainer
from .baseline import PublishedLoop


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _passes(model: torch.nn.Module, step) -> dict:
    """How the network is called in one step: trunk calls and windows per call, counted with a hook."""
    calls = []
    hook = model.trunk.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    try:
        step()
    finally:
        hook.remove()
    return {"passes": len(calls), "inputs_per_pass": calls[0]}


def measure(device: str = "auto", batch: int = 4096, seconds: float = 20.0, rounds: int = 4,
            warmup: int = 3, movies: int = 4, frames: int = 2000, channels: int = 32, depth: int = 2) -> dict:
    """Samples/s of `Trainer.step` (what `cneep train` runs) and of `PublishedLoop.step`, on the default
    N=2 bead-spring movie (20x40 px), each timed for about seconds / 2 in `rounds` alternating rounds."""
    movie = simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=movies, frames=frames, seed=0)
    trainer = Trainer(movie, TrainConfig(batch=batch, channels=channels, depth=depth, device=device,
                                         val_fraction=0.25, test_fraction=0.25))
    model = trainer.new_model(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator(device=trainer.device).manual_seed(0)
    train_movies = np.flatnonzero((trainer.parts == 0).all(axis=1))
    base = PublishedLoop(movie, train_movies if train_movies.size else np.arange(movies),
                         trainer.config.model_config, batch=batch, device=trainer.device)
    steps = {"ours": lambda: trainer.step(model, opt, gen), "baseline": base.step}
    shape = {"ours": _passes(model, steps["ours"]), "baseline": _passes(base.model, steps["baseline"])}
    for step in steps.values():
        for _ in range(warmup):
            step()
        _sync(trainer.device)
    done = {k: 0 for k in steps}
    spent = {k: 0.0 for k in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds / (2 * rounds):
                step()
                done[name] += 1
            _sync(trainer.device)   # a GPU may still be running queued steps: they count in this round
            spent[name] += time.perf_counter() - t0
    rate = {k: done[k] * batch / spent[k] for k in steps}
    return {
        "device": trainer.device_label, "batch": batch, "frame_shape": list(movie.frame_shape),
        "model": model.describe(), "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "ours": {"samples_per_s": rate["ours"], "steps": done["ours"], "seconds": spent["ours"],
                 "frames": f"{trainer.gather.frames.dtype} on {trainer.device}".replace("torch.", ""),
                 **shape["ours"]},
        "baseline": {"samples_per_s": rate["baseline"], "steps": done["baseline"], "seconds": spent["baseline"],
                     "frames": f"{base.frames.dtype} on host".replace("torch.", ""),
                     "lr": base.opt.param_groups[0]["lr"], "weight_decay": base.opt.param_groups[0]["weight_decay"],
                     **shape["baseline"]},
        "ratio": rate["ours"] / rate["baseline"],
    }
