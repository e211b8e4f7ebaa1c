"""Training an estimator: NEEP (or alpha) loss, batches sampled on the device, validation, early stopping, cancel.

The same loop trains CNEEP on movies and NEEP or RNEEP on trajectories. Progress leaves as plain `Progress`
events through a callback, so the CLI's progress bar, the GUI's worker and the tests all read the same stream.
A `threading.Event` set from any thread cancels a run at the next step; the best model so far is kept, and
so are its checkpoint and the log when a run folder is given.
"""

from __future__ import annotations

import copy
import csv
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import distributed
from .device import describe_device, resolve_device
from .errors import CneepError
from .io.atomic import atomic_path
from .losses import LOSSES, make_loss
from .metrics import compare
from .estimators import estimator
from .models import CNEEPConfig
from .movie import Movie
from .params import check, param
from .progress import Callback, Progress, Throttle, seconds_left
from .trajectories import Trajectories, coordinate_statistics
from .windows import PARTS, WindowGather, assign_parts, frame_statistics, window_starts


SCHEDULES = ("cosine", "plateau", "constant")
# How a seed's training ended; the BROKEN ones stop at once and keep the last sane model (Trainer.train_seed).
BROKEN = ("ran away", "overfitted", "diverged")
STOPS = ("finished", "stopped early", "cancelled") + BROKEN
# ln <exp(-dS)> over held-out windows above which an estimator has run away. The integral fluctuation theorem
# makes <exp(-dS)> = 1 for the true EP; an untrained estimator gives 1, a good one about 1. A network that
# separates the training windows from their reverses by a time arrow the held-out windows do not share
# assigns some of them a huge negative dS, and this mean explodes (1e23 on a drifting real movie).
RUNAWAY_LOG_IFT = float(np.log(1e3))
# What the held-out windows do then tells the two causes apart. A time arrow in the data (drift, bleaching)
# carries over: the held-out rate follows the training rate up (622 against 919 k_B/s when a drifting colloids
# movie ran away). A network memorising too few training windows does not: its held-out rate stays near 0 or
# turns negative (-44 against +233 k_B/s on the same movie, registered). Below this fraction it "overfitted".
CARRY_OVER = 1 / 3
EVAL_BUDGET = {"cpu": 64 << 20, "cuda": 512 << 20}   # bytes of activations of one inference batch (eval_batch)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training, each declared once (help, range, option, app label: see params.py)."""

    model: str = "cneep"          # the estimator (estimators.ESTIMATORS): cneep for movies, neep etc. for trajectories
    seq_len: int = param(2, "consecutive frames the network sees at once: 2 learns from single transitions; longer "
                         "windows can pick up slower dynamics but give coarser maps in time", low=2, high=512,
                         label="Frames per window")
    depth: int = param(2, "convolutional blocks; each block after the first halves the map's resolution (as many "
                       "as the frame's size allows)", low=1, only=("cneep",))
    channels: int = param(32, "channels of the first block; each later block doubles them", low=1, high=512,
                          only=("cneep",))
    hidden: int = param(128, "units per hidden layer (and the size of a discrete state's embedding)", low=1,
                        high=4096, only=("neep", "rneep"), label="Hidden units")
    layers: int | None = param(None, "hidden layers of the MLP (neep, default 2) or GRU layers (rneep, default 1)",
                               low=1, high=16, only=("neep", "rneep"), app=False)
    loss: str = param("neep", "neep: the published objective; alpha: the alpha-divergence family (Kwon & Baek 2024), "
                      "same optimum, lower variance", choices=LOSSES, app=False)
    alpha: float = param(-0.5, "alpha of the alpha loss", app=False)
    iterations: int = param(5000, "training steps at most: the learning rate decays to zero over them (cosine "
                            "schedule); early stopping usually ends sooner", low=1, high=10_000_000, option="iters")
    batch: int = param(1024, "windows per training step: larger is smoother but slower per step", low=1,
                       high=65536)
    # 1e-3 ended 0.01-0.03 lower in test R^2 on bead-spring movies (docs/benchmarks.md, "The learning rate")
    lr: float = param(4e-4, "Adam's step size at the start; the schedule lowers it from there", low=1e-6, high=1.0,
                      label="Learning rate", decimals=6, step=1e-4)
    weight_decay: float = param(0.0, "Adam's weight decay", low=0.0, app=False)
    eval_every: int = param(200, "training steps between validations; each validation updates the plots and may "
                            "keep a new best model", low=1, high=1_000_000, label="Validate every")
    patience: int = param(15, "validations without a new lowest validation loss before stopping (0: never stop "
                          "early)", low=0, high=10_000, label="Early stopping")
    schedule: str = param("cosine", "learning rate: cosine decay to 0 over --iters, halving on plateaus, or "
                          "constant", choices=SCHEDULES, app=False)
    average: float = param(0.998, "decay per step of a moving average of the weights, which is what validation "
                           "judges and the run keeps: 0.998 averages over about the last 500 steps; 0 keeps the raw "
                           "weights", low=0.0, high=0.9999, label="Weight average", decimals=4, step=0.001)
    lr_patience: int = param(5, "plateau schedule: validations without improvement before halving", low=0,
                             app=False)
    val_fraction: float = param(0.2, "share of the data held out to pick the best model (whole movies when there "
                                "are 3 or more)", low=0.01, high=0.9, label="Validation part")
    test_fraction: float = param(0.2, "share held out for the reported EP rate and the time-averaged map; never seen "
                                 "in training", low=0.01, high=0.9, label="Test part")
    val_samples: int = param(50_000, "validation windows (a fixed random subset, so a validation costs the same on "
                             "any movie); more resolve smaller differences between models", low=1, app=False)
    seed: int = param(0, "random seed of the first estimator", low=0, high=2**31 - 1)
    seeds: int = param(1, "independent estimators trained one after another, seeds seed .. seed + seeds - 1: their "
                       "spread is a second error bar", low=1, high=100)
    device: str = param("auto", "auto (the first GPU when there is one), cpu, cuda or cuda:N", app=False)

    def __post_init__(self):
        estimator(self.model)   # refuses an unknown name
        check(self)
        make_loss(self.loss, self.alpha)   # refuses the alphas the loss cannot take

    @property
    def model_config(self) -> CNEEPConfig:
        return CNEEPConfig(seq_len=self.seq_len, depth=self.depth, channels=self.channels)


@dataclass
class SeedRun:
    """The best model of one seed and how it was found."""

    seed: int
    model: torch.nn.Module
    best_iteration: int
    best_val_loss: float
    iterations: int
    stopped: str                  # how training ended: one of STOPS
    history: list[Progress] = field(default_factory=list)


class Evaluator:
    """The data on the device and what evaluating estimators on its windows takes: the gather, the inference
    batch, the rate per unit time. Every window is held out (all frames test): trained models applied to data
    they never saw. `Trainer` splits the data and trains on it as well.

    A movie is (movies, frames, H, W) and runs CNEEP; trajectories are (trajectories, frames, coordinates)
    or (trajectories, frames) states and run NEEP or RNEEP."""

    train_windows: int | None = None   # windows the models trained on, when known (for the run's warnings)

    def __init__(self, data: Movie | Trajectories, config: TrainConfig = TrainConfig()):
        self.data, self.config = data, config
        check_model_reads(data, config)
        self.values = data.frames if isinstance(data, Movie) else data.data   # (series, frames, ...) as stored
        self.device = distributed.rank_device(resolve_device(config.device))
        self.device_label = describe_device(self.device)
        if distributed.world_size() > 1:
            self.device_label += f" x {distributed.world_size()} processes"
        if data.n_frames < config.seq_len:
            kind = "movies" if isinstance(data, Movie) else "trajectories"
            raise CneepError(f"{data.name}: {kind} of {data.n_frames} frames are shorter than "
                             f"seq_len = {config.seq_len}")
        self.parts = self.split()
        self.loss = make_loss(config.loss, config.alpha)
        self.gather = WindowGather(self.values, config.seq_len, self.device)

    def split(self) -> np.ndarray:
        """Part of every frame (windows.PARTS), (series, frames): here all test."""
        return np.full(self.values.shape[:2], PARTS.index("test"), np.int8)

    @property
    def eval_batch(self) -> int:
        """Windows per inference batch, so that activations stay near 512 MB on a GPU whatever the input
        size, and near 64 MB on a CPU, where larger batches gain nothing (20x40 px frames on 2 Intel cores,
        channels-last: 15.0-15.5k windows/s at 256-2048 windows, 14.5k at 8192).

        CNEEP: the first block's activations dominate: forward and reversed, `channels` maps of a quarter
        of the frame, a few alive at once (about 6 * channels * H * W bytes per window in float32).
        NEEP/RNEEP: a few hidden vectors per frame of the window, forward and reversed."""
        budget = EVAL_BUDGET[self.device.type]
        if isinstance(self.data, Movie):
            h, w = self.data.frame_shape
            return max(1, min(8192, budget // (6 * self.config.channels * h * w)))
        return max(1, min(65536, budget // (32 * self.config.hidden * self.config.seq_len)))

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, starts: torch.Tensor,
                report: Callable[[int], None] | None = None) -> torch.Tensor:
        """EP of each window, written into one tensor allocated up front (see `run.evaluate` for why);
        `report(windows done)` before each batch."""
        model.eval()
        out = torch.empty(len(starts), device=self.device)
        for a in range(0, len(starts), self.eval_batch):
            if report is not None:
                report(a)
            out[a:a + self.eval_batch] = model(self.gather(starts[a:a + self.eval_batch]))
        model.train()
        return out

    def rate(self, mean_ds: float) -> float:
        """EP per window -> EP rate per unit time (a window spans seq_len - 1 frame intervals)."""
        return mean_ds / ((self.config.seq_len - 1) * self.data.dt)


class Trainer(Evaluator):
    """Holds the data on the device once and trains one estimator per seed on it: splits, sampling and
    validation are shared by the seeds."""

    def __init__(self, data: Movie | Trajectories, config: TrainConfig = TrainConfig()):
        distributed.check_batch(config.batch)
        super().__init__(data, config)
        if isinstance(data, Movie):
            self.mean, self.std = frame_statistics(data.frames, self.parts, seed=config.seed)
        elif data.kind == "coordinates":
            self.mean, self.std = coordinate_statistics(data.data, self.parts)
        else:
            self.mean = self.std = None
        starts, label = window_starts(self.parts, config.seq_len)
        self.train_starts = torch.from_numpy(starts[label == 0]).to(self.device)
        val = starts[label == 1]
        pick = np.random.default_rng(config.seed).permutation(val.size)[:config.val_samples]
        self.val_starts = torch.from_numpy(np.sort(val[pick])).to(self.device)
        self.val_truth = _window_truth(data, np.sort(val[pick]), config.seq_len)
        self.val_truth_rate = None if self.val_truth is None else self.rate(float(self.val_truth.mean()))
        if self.train_starts.numel() == 0 or self.val_starts.numel() == 0:
            raise CneepError(f"{data.name}: not enough frames for training and validation windows")
        self.new_model(config.seed)   # a model that cannot be built fails here, before any file is touched

    def split(self) -> np.ndarray:
        try:
            return assign_parts(*self.values.shape[:2], self.config.val_fraction, self.config.test_fraction,
                                self.config.seq_len)
        except CneepError as e:
            raise CneepError(f"{self.data.name}: {e}") from e

    @property
    def train_windows(self) -> int:
        return self.train_starts.numel()

    def new_model(self, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return build_model(self.data, self.config, self.mean, self.std).to(self.device)

    @staticmethod
    def _not_worse(terms: torch.Tensor, low_terms: torch.Tensor | None) -> bool:
        """Whether a new model should replace the kept one: unless its validation loss is significantly
        (two standard errors, compared window by window) above the lowest seen so far.

        The losses of well-trained models differ by less than their noise on a finite validation set, so a
        plain minimum picks among them at random, often an early, less trained one. Compared per window,
        the later model wins ties; overfitting, a significant rise, still stops it.

        A paired test alone lets an exploding loss through: one window with a huge term inflates the standard
        error of the differences as much as their mean. So the rise must also stay within two standard errors
        of the kept model's own loss, the scale on which two tied models can differ at all."""
        if low_terms is None:
            return bool(torch.isfinite(terms).all())
        diff = (terms - low_terms).double()
        n = diff.numel() ** 0.5
        rise = float(diff.mean())
        return rise <= 2 * float(diff.std()) / n and rise <= 2 * float(low_terms.double().std()) / n

    def step(self, model: torch.nn.Module, opt: torch.optim.Optimizer,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One training step on a batch of windows drawn and gathered on the device (uint8 frames, one
        batched pass for forward and reversed). Returns the loss and the batch's mean dS, left on the device.

        `model` may be the DDP wrapper: every rank draws the same global batch and trains on its slice."""
        idx = torch.randint(self.train_starts.numel(), (self.config.batch,), device=self.device, generator=gen)
        ds = model(self.gather(self.train_starts[distributed.shard(idx)]))
        loss = self.loss(ds).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach(), ds.detach().mean()

    def train_seed(self, seed: int, seed_index: int = 0, callback: Callback | None = None,
                   cancel: threading.Event | None = None, checkpoint: Path | None = None,
                   log: Path | None = None) -> SeedRun:
        cfg = self.config
        model = self.new_model(seed)
        step_model = distributed.wrap(model, self.device)   # DDP across torchrun ranks, else model itself
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        # A decaying rate shrinks the noise ball SGD settles in: the per-step EP is small against its
        # spread, so a constant rate stalls well above the loss floor.
        sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.iterations) if cfg.schedule == "cosine"
                 else torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=cfg.lr_patience)
                 if cfg.schedule == "plateau" else None)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        # What is validated and kept: an average of the weights over the last ~1 / (1 - average) steps is
        # less noisy than the last step's, so early estimates are usable sooner (docs/benchmarks.md, "Weight
        # average").
        averaged = copy.deepcopy(model) if cfg.average else model
        best_state, best_loss, best_it, bad_evals = copy.deepcopy(model.state_dict()), float("inf"), 0, 0
        low_terms, low_loss = None, float("inf")   # per-window losses of the lowest-loss model so far
        history: list[Progress] = []
        run_loss = run_ds = torch.zeros((), device=self.device)
        since, t0, stopped, it = 0, time.perf_counter(), "finished", 0
        n_val, throttle = len(self.val_starts), Throttle()

        def emit(record: bool = True, phase: str = "training", **kw) -> Progress:
            """An event; `record`ed ones (start, validations, end) go into the history and the log."""
            elapsed = time.perf_counter() - t0
            if phase == "training":   # this seed's iterations left, and the seeds after it
                it_done = kw["iteration"]
                left = seconds_left(elapsed, it_done, (cfg.seeds - seed_index) * cfg.iterations)
                kw.update(done=it_done, total=cfg.iterations, left_s=left)
            ev = Progress(seed=seed, seed_index=seed_index, n_seeds=cfg.seeds, iterations=cfg.iterations,
                          elapsed_s=elapsed, best_iteration=best_it, best_val_loss=best_loss if best_it else None,
                          phase=phase, **kw)
            if record:
                history.append(ev)
                if log is not None:
                    _append_log(log, ev)
            if callback is not None:
                callback(ev)
            return ev

        def validating(done: int) -> None:
            if callback is not None and throttle():
                left = seconds_left(time.perf_counter() - started_val, done, n_val)
                emit(record=False, phase="validation", iteration=it, done=done, total=n_val, left_s=left)

        emit(iteration=0, message="started")
        for it in range(1, cfg.iterations + 1):
            if cancel is not None and cancel.is_set() and not distributed.active():
                stopped, it = "cancelled", it - 1
                break
            loss, mean_ds = self.step(step_model, opt, gen)
            if cfg.schedule == "cosine":
                sched.step()
            if cfg.average:
                _average_into(averaged, model, min(cfg.average, it / (it + 10)))
            # Accumulate on the device: no host synchronisation between validations.
            run_loss, run_ds, since = run_loss + loss, run_ds + mean_ds, since + 1
            if it % cfg.eval_every and it != cfg.iterations:
                if callback is not None and throttle():   # no loss: reading it would wait for the device
                    emit(record=False, iteration=it)
                continue
            run_loss, run_ds = distributed.mean(run_loss), distributed.mean(run_ds)
            train_loss = float(run_loss) / since
            started_val = time.perf_counter()
            val_ds = self.predict(averaged, self.val_starts, validating)
            val_terms = self.loss(val_ds)
            val_loss = float(val_terms.mean())
            log_ift = float(torch.logsumexp(-val_ds.double(), 0)) - float(np.log(val_ds.numel()))
            # Either way the last sane model is kept and the run reports it, with the reason.
            train_rate, val_rate = self.rate(float(run_ds) / since), self.rate(float(val_ds.mean()))
            broken = ("diverged" if not (np.isfinite(train_loss) and np.isfinite(log_ift))
                      else _runaway(train_rate, val_rate) if log_ift > RUNAWAY_LOG_IFT else "")
            if cfg.schedule == "plateau" and not broken:
                sched.step(val_loss)
            kept = not broken and self._not_worse(val_terms, low_terms)
            # Under torchrun a cancel is agreed on here, at validations: a rank stopping alone would hang the rest.
            cancelled = distributed.active() and distributed.any_rank(cancel is not None and cancel.is_set())
            kept, improved = distributed.agree(kept, not broken and val_loss < low_loss)
            if kept:
                best_loss, best_it = val_loss, it
                best_state = copy.deepcopy(averaged.state_dict())
                if checkpoint is not None:
                    save_checkpoint(averaged, checkpoint, seed=seed, iteration=it, val_loss=val_loss)
            # Selection prefers later models; stopping waits for progress, a new lowest loss.
            bad_evals = 0 if improved else bad_evals + 1
            if improved:
                low_terms, low_loss = val_terms, val_loss
            early = cfg.patience and bad_evals >= cfg.patience
            val_r2 = (compare(val_ds.cpu().numpy(), self.val_truth)["r2"]
                      if self.val_truth is not None and not broken else None)
            emit(iteration=it, train_loss=train_loss, train_rate=train_rate, val_loss=val_loss, val_rate=val_rate,
                 val_r2=val_r2,
                 val_truth_rate=self.val_truth_rate, lr=opt.param_groups[0]["lr"], val_log_ift=log_ift,
                 message=broken or ("stopped early" if early else "kept" if kept else ""),
                 phase="validation", done=n_val, total=n_val)
            run_loss = run_ds = torch.zeros((), device=self.device)
            since = 0
            if broken or early:
                stopped = broken or "stopped early"
                break
            if cancelled:
                stopped = "cancelled"
                break
        model.load_state_dict(best_state)
        model.eval()
        emit(iteration=it, message=stopped)
        return SeedRun(seed=seed, model=model, best_iteration=best_it, best_val_loss=best_loss,
                       iterations=it, stopped=stopped, history=history)


def _runaway(train_rate: float, val_rate: float) -> str:
    """Why held-out <exp(-dS)> exploded: "ran away" when the held-out rate follows the training rate (an arrow
    the data share), "overfitted" when it does not (an arrow only the training windows have)."""
    falls_short = val_rate * np.sign(train_rate) < CARRY_OVER * abs(train_rate)
    return "overfitted" if falls_short else "ran away"


def check_model_reads(data: Movie | Trajectories, config: TrainConfig) -> None:
    method = estimator(config.model)
    if not method.trained:
        raise CneepError(f"{config.model} is training-free: it has no network to build or plan")
    method.check_reads(data)


def build_model(data: Movie | Trajectories, config: TrainConfig, mean=None, std=None) -> torch.nn.Module:
    """The untrained estimator that `config` asks for, shaped for `data`, on the CPU (mean and std: the
    training data's statistics, which travel with the weights; None leaves the data unscaled)."""
    check_model_reads(data, config)
    try:
        return estimator(config.model).network.from_data(data, config, mean, std)
    except ValueError as e:
        raise CneepError(f"{data.name}: {e}") from e


@torch.no_grad()
def _average_into(averaged: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """averaged <- decay * averaged + (1 - decay) * model, parameter by parameter. The decay ramps up from 0
    (the caller's it / (it + 10)) so the average does not drag the random initial weights along."""
    for a, p in zip(averaged.parameters(), model.parameters()):
        a.lerp_(p, 1 - decay)


# The log holds the recorded events (start, validations, end); what the stream says of phases is not logged.
_LOG_FIELDS = [f for f in Progress.__dataclass_fields__
               if f not in ("n_seeds", "iterations", "phase", "done", "total", "left_s")]


def _append_log(path: Path, ev: Progress) -> None:
    """One line per event, flushed at once, so a crashed run still leaves its log."""
    new = not path.exists()
    try:
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=_LOG_FIELDS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(asdict(ev))
    except OSError as e:
        raise CneepError(f"{path}: could not write the training log ({e.strerror or e})") from e


def write_log(path: Path, history: list[Progress]) -> None:
    """The whole event stream as the log that training appends to, written at once (atomically)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=_LOG_FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(asdict(ev) for ev in history)


_INT_FIELDS = ("seed", "seed_index", "iteration", "best_iteration")


def read_log(path: Path, n_seeds: int, iterations: int) -> list[Progress]:
    """The events of a training log, so a reopened run shows its training curves again."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [Progress(n_seeds=n_seeds, iterations=iterations, message=row.pop("message"),
                     phase="validation" if row.get("val_loss") else "training",
                     **{k: int(v) if k in _INT_FIELDS else float(v) if v else None for k, v in row.items()})
            for row in rows]


def save_checkpoint(model: torch.nn.Module, path: Path, **info) -> None:
    with atomic_path(path) as tmp:
        try:
            torch.save({"model": model.describe(), "state_dict": model.state_dict(), **info}, tmp)
        except RuntimeError as e:   # torch's writer reports a full disk as a RuntimeError, not an OSError
            raise CneepError(f"{path}: could not write the checkpoint ({e})") from e


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
        model = estimator(ckpt["model"]["model"]).network.from_description(ckpt["model"])
        model.load_state_dict(ckpt["state_dict"])
    except Exception as e:  # torch.load and load_state_dict raise many types; all mean "not our checkpoint"
        raise CneepError(f"{path}: not a readable estimator checkpoint ({type(e).__name__}: {e})") from e
    return model.to(device).eval()


def _window_truth(data: Movie | Trajectories, starts: np.ndarray, seq_len: int) -> np.ndarray | None:
    """What validation R^2 compares with: the exact EP of each window or, when the data show only part of the
    system, the best EP an estimator of them can reach (the full EP is not a function of the window)."""
    truth = data.truth
    if truth is None:
        return None
    if truth.observed_window_ep is not None:
        return truth.best_window_ep(data.data, starts, seq_len)
    return truth.window_ep(starts, seq_len)
