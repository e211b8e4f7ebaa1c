"""Before training: the memory and time a run will take on this device, and a batch that fits.

A training window's activations grow with the frame: a 424 x 640 frame costs some 300 times a 20 x 40 one,
about 100 MB per window with the default network, so the default batch of 1024 would need 100 GB. The plan
measures the network's activations for one window, lowers the batch to what fits (and says so), refuses
with what would fit when not even one window does, and times a few steps to say how long the run will take.

    plan = plan_training(movie, TrainConfig())
    print(plan.text()); run = train(movie, plan.config)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import distributed
from .device import describe_device, resolve_device
from .errors import CneepError
from .losses import make_loss
from .movie import Movie
from .trajectories import Trajectories
from .training import EVAL_BUDGET, TrainConfig, build_model
from .windows import assign_parts, available_memory, bytes_from_env, data_budget

# Peak memory of a training step per window, as a multiple of the activations of its forward pass (forward and
# reversed): what the backward pass keeps and computes on top. Measured 1.55-1.85 on the CPU for 20 x 40 and
# 424 x 640 frames (docs/benchmarks.md, "Memory and time of a full-frame training"); 2 leaves room.
BACKWARD_FACTOR = 2.0
# Training activations on a CPU stay within this (CNEEP_TRAIN_BUDGET overrides, e.g. "8G"): per-window
# throughput does not grow past a few hundred MB of activations, and the app should leave the machine usable.
CPU_TRAIN_BUDGET = 2 << 30
# What the process adds to its resident size after planning, whatever the movie: the weight average, the
# optimiser's state, libraries loaded for the evaluation and the files, the allocator's slack (measured 190 MB
# beyond the activations for a batch of 28 windows of 160 x 240 px).
OVERHEAD = 256 << 20
HOURS = 3600.0


@dataclass(frozen=True)
class Plan:
    config: TrainConfig            # what to train with: the requested config, with a batch that fits
    requested_batch: int
    window_bytes: int              # training memory per window of the batch
    data_bytes: int                # frames held in memory (or on the GPU) during training
    peak_bytes: int                # estimated peak memory of the process while training
    available_bytes: int           # free memory of the device now (RAM for the CPU)
    device: str
    s_per_iteration: float | None = None   # measured (None: not timed)
    total_s: float | None = None   # every iteration, validation and the evaluation, all seeds: an upper bound
    faster: list[tuple[str, float]] = field(default_factory=list)   # (option, estimated seconds) when slow

    @property
    def lowered(self) -> bool:
        return self.config.batch < self.requested_batch

    def lines(self) -> list[str]:
        """The plan in short phrases: the app shows one a line, the CLI joins them (`text`)."""
        batch = (f"batch {self.config.batch}, lowered from {self.requested_batch} to fit "
                 f"({_size(self.window_bytes)} per window)" if self.lowered else f"batch {self.config.batch}")
        out = [f"estimate on {self.device}: {batch}",
               f"peak memory about {_size(self.peak_bytes)} of {_size(self.available_bytes)} available"]
        if self.total_s is not None:
            out.append(f"{self.s_per_iteration:.3g} s per iteration, at most {_duration(self.total_s)} for "
                       f"{self.config.iterations} iterations x {self.config.seeds} seed(s) and the evaluation")
        if self.faster:
            out.append("faster: " + ", ".join(f"{opt} about {_duration(s)}" for opt, s in self.faster))
        return out

    def text(self) -> str:
        return "; ".join(self.lines())

    def as_dict(self) -> dict:
        return {"batch": self.config.batch, "requested_batch": self.requested_batch,
                "window_mb": self.window_bytes / 2**20, "data_mb": self.data_bytes / 2**20,
                "peak_mb": self.peak_bytes / 2**20, "available_mb": self.available_bytes / 2**20,
                "device": self.device, "s_per_iteration": self.s_per_iteration, "total_s": self.total_s}


def plan_training(data: Movie | Trajectories, config: TrainConfig, timed: bool = True) -> Plan:
    """The plan for training `config` on `data`: a batch that fits the device's free memory (and, on a CPU,
    CPU_TRAIN_BUDGET), the peak memory, and with `timed` the time, from a few steps on random windows of
    the data's shape (a second or two for large frames)."""
    device = resolve_device(config.device)
    model = build_model(data, config)
    window = _random_windows(data, config.seq_len, 1)
    window_bytes = int(BACKWARD_FACTOR * _activation_bytes(model, window))
    data_bytes = _data_bytes(data, device)
    available = available_memory(device)
    budget = max(0, (available - data_bytes) // 2)
    if device.type == "cpu":
        budget = min(budget, bytes_from_env("CNEEP_TRAIN_BUDGET") or CPU_TRAIN_BUDGET)
    fits = budget // max(1, window_bytes)
    if fits < 1:
        raise CneepError(_too_large(data, config, window_bytes, budget))
    ranks = distributed.world_size()   # under torchrun each process trains on batch / ranks windows
    planned = replace(config, batch=min(config.batch, int(fits) * ranks))
    peak = (_resident_bytes() + OVERHEAD + data_bytes + planned.batch // ranks * window_bytes
            + EVAL_BUDGET[device.type])
    plan = Plan(planned, config.batch, window_bytes, data_bytes, peak, available, describe_device(device))
    return _timed(plan, data, model, device) if timed else plan


def _timed(plan: Plan, data, model: torch.nn.Module, device: torch.device) -> Plan:
    cfg = plan.config
    model = model.to(device)
    # A probe batch of about 32 MB of activations: per-window time is then close to the full batch's on a CPU
    # (an overestimate on a GPU), and the timing takes a second or two.
    probe = max(1, min(cfg.batch, (32 << 20) // max(1, plan.window_bytes)))
    windows = _random_windows(data, cfg.seq_len, probe).to(device)
    opt, loss = torch.optim.Adam(model.parameters(), lr=cfg.lr), make_loss(cfg.loss, cfg.alpha)

    def step():
        l = loss(model(windows)).mean()
        opt.zero_grad(set_to_none=True)
        l.backward()
        opt.step()

    def infer():
        with torch.no_grad():
            model(windows)

    train_s, eval_s = _seconds(step, device) / probe, _seconds(infer, device) / probe
    s_it = train_s * cfg.batch
    n_windows = data.n_movies if isinstance(data, Movie) else data.n_trajectories
    parts = assign_parts(n_windows, data.n_frames, cfg.val_fraction, cfg.test_fraction, cfg.seq_len)
    n_val = min(cfg.val_samples, int((parts == 1).sum()))
    per_seed = cfg.iterations * s_it + (cfg.iterations // cfg.eval_every + 1) * n_val * eval_s
    n_eval = n_windows * (data.n_frames - 1) // (cfg.seq_len - 1)
    total = cfg.seeds * (per_seed + n_eval * eval_s)
    faster = []
    if total > HOURS and isinstance(data, Movie):
        # The convolutions' work scales with the pixels of a window; the batch and iterations stay.
        done = _binned(data)
        faster = [(f"--bin {done * b}", total / b**2) for b in (2, 4) if min(data.frame_shape) // b >= 16]
        iters = max(cfg.eval_every, int(cfg.iterations * HOURS / 4 / total))
        if iters < cfg.iterations:
            faster.append((f"--iters {iters}", total * iters / cfg.iterations))
    return replace(plan, s_per_iteration=s_it, total_s=total, faster=faster)


def _seconds(fn, device: torch.device) -> float:
    """Seconds per call of fn, after one untimed call (allocations, kernel choice); timed for 0.3 s or once."""
    fn()
    calls, t0 = 0, time.perf_counter()
    while calls < 20 and time.perf_counter() - t0 < 0.3:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        calls += 1
    return (time.perf_counter() - t0) / calls


def _random_windows(data, seq_len: int, n: int) -> torch.Tensor:
    if isinstance(data, Movie):
        return torch.randint(0, 256, (n, seq_len, *data.frame_shape), dtype=torch.uint8)
    if data.n_states:
        return torch.randint(0, data.n_states, (n, seq_len))
    return torch.randn(n, seq_len, data.n_coordinates)


def _activation_bytes(model: torch.nn.Module, windows: torch.Tensor) -> int:
    """Bytes of every layer's output for these windows (forward and reversed), from one pass on the CPU."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        for t in output if isinstance(output, tuple) else (output,):
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            model(windows)
    finally:
        for h in hooks:
            h.remove()
    return total // len(windows)


def _data_bytes(data, device: torch.device) -> int:
    """The frames training holds: a copy on the device, unless integer frames are indexed where they lie
    (see WindowGather), up to the data budget beyond which batches stream from the file."""
    values = data.frames if isinstance(data, Movie) else data.data
    if device.type == "cpu" and isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return 0
    itemsize = 4 if values.dtype.kind == "f" or values.dtype == np.uint16 else values.dtype.itemsize
    return min(int(np.prod(values.shape)) * itemsize, data_budget(device))


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _binned(data) -> int:
    """The binning the movie already had: a further binning b is offered as the total, the option's value."""
    return data.provenance.get("preprocess", {}).get("bin", 1) if isinstance(data, Movie) else 1


def _too_large(data, config: TrainConfig, window_bytes: int, budget: int) -> str:
    what = f"one window of {config.seq_len} frames of {data.frame_shape[0]}x{data.frame_shape[1]} px" \
        if isinstance(data, Movie) else "one window"
    need = lambda b: window_bytes / b**2  # noqa: E731  (activations scale with the pixels)
    fits = next((b for b in (2, 3, 4, 6, 8) if need(b) <= budget), None)
    hint = (f"--bin {_binned(data) * fits} (about {_size(need(fits))} per window) or a --crop of a quarter of the "
            "area per 2x bin"
            if fits and isinstance(data, Movie) else "fewer --channels or a smaller --depth")
    return (f"{data.name}: training on {what} needs about {_size(window_bytes)}, more than the "
            f"{_size(budget)} that can be used; use {hint}")


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def _duration(s: float) -> str:
    return f"{s / HOURS:.1f} h" if s >= HOURS else f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"
