"""What the model-known estimators (score, EPR-Net) share: their settings and the loop that fits their network.

Such an estimator is an `Estimator` entry with `requires=("drift",)` and `fit=`, a function

    fit(data, split, settings: ModelKnownConfig, config: TrainConfig, drift: DriftModel, callback, cancel) -> Estimate

that learns from the snapshots (the frames of the training part, validated on the validation part) and reports on
the test part. `run.train` finds the drift (`--drift`, else the data's own system; `drift_models.drift_model`) and
refuses data without one. Of `TrainConfig` the estimator reads the settings named in its `shared` (steps, batch,
learning rate, validation, weight average, device, split, seed); its own are fields here, `only=` the estimators
that read them. `fit_network` is the training: Adam on a cosine schedule, a moving average of the weights validated
every eval_every steps, the best kept (by the validation loss, or by a bound the estimator names), early stopping,
training events through `progress`, a cancel keeping the best. It trains where the network and the snapshots are:
the estimator puts them on `resolve_device(config.device)`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from ..params import check, param
from ..progress import Callback, Progress, Throttle, seconds_left

# TrainConfig settings that a model-known estimator reads besides the split and seed
SHARED = ("iterations", "batch", "lr", "eval_every", "patience", "average", "device")


@dataclass(frozen=True)
class ModelKnownConfig:
    """Settings of the estimators that are given the dynamics, dx = b(x) dt + sqrt(2 D) dW."""

    drift: str = param("", "the drift b(x) and diffusion D: a Python file defining drift(x) and D, or the folder of "
                       "an sfi run (its fitted linear drift); empty: the system that simulated the data",
                       label="Drift (file or sfi run)")
    network: str = param("auto", "score network: an MLP of the coordinates, or the particles' local transformer; "
                         "auto: the transformer for 8 or more particles", choices=("auto", "mlp", "transformer"),
                         only=("score",))
    width: int = param(64, "units per hidden layer (the MLP, EPR-Net's potential), or the token width (transformer)",
                       low=4, high=4096)
    blocks: int = param(2, "hidden layers (the MLP, EPR-Net's potential), or attention blocks (transformer)", low=1,
                        high=16)
    neighbours: int = param(16, "transformer: the nearest particles (itself included) each particle attends to",
                            low=1, high=1024, only=("score",))
    score_loss: str = param("denoising", "denoising score matching with antithetic noise, or the exact-divergence "
                            "(Hyvarinen) loss, costlier by one backward pass per coordinate",
                            choices=("denoising", "divergence"), only=("score",))
    noise: float = param(0.03, "denoising: noise added to the snapshots, in units of each coordinate's standard "
                         "deviation (the score learned is that of the density blurred by it)", above=0, high=1.0,
                         only=("score",), decimals=4, step=0.01)
    position_noise: float = param(0.0, "denoising: noise added to the particles' positions instead, in units of "
                                  "their radius (0: noise standard deviations, as every coordinate); a trapped "
                                  "cluster spreads with the number of particles while a contact keeps its width",
                                  low=0, high=10.0, only=("score",), decimals=4, step=0.01)
    start_from: str = param("", "a score run folder whose network to start from (e.g. trained at fewer particles); "
                            "its rate before any training is reported as start_rate", only=("score",),
                            label="Start from run")
    enhanced: float = param(0.0, "weight of the stationary-equation residual on displaced samples, for small noise "
                            "(0: the plain EPR loss)", low=0, high=1e6, label="Enhanced loss", only=("epr-net",))
    spread: float = param(0.5, "enhanced loss: Gaussian displacement of the samples, in standard deviations of "
                          "each coordinate", above=0, high=100, only=("epr-net",))
    grid: int = param(60, "points per axis of the landscape drawn for two coordinates", low=2, high=2000,
                      only=("epr-net",))
    bootstrap: int = param(200, "bootstrap resamples of the held-out blocks for the error bars", low=10,
                           high=100_000, only=("score",))

    def __post_init__(self):
        check(self)


@dataclass
class Fitted:
    network: torch.nn.Module
    best_iteration: int
    iterations: int
    stopped: str
    history: list[Progress]


def fit_network(network: torch.nn.Module,
                loss: Callable[[torch.nn.Module, torch.Tensor, torch.Generator], torch.Tensor],
                train: torch.Tensor, val: torch.Tensor, config, callback: Callback | None,
                cancel: threading.Event | None, rates: Callable[[torch.nn.Module], dict] | None = None,
                select: str = "") -> Fitted:
    """Minimise `loss(network, batch, generator)` (a scalar) over random batches of the `train` snapshots (the
    generator on their device, where `network` must be too); every config.eval_every steps the weight average's
    loss on `val` (same noise each time) and `rates(network)`, its EP rate on the validation snapshots and the
    bounds that bracket it (`Progress` fields: val_rate, and val_lower, val_upper where the method has them), are
    reported. The model kept is the one of the lowest validation loss, or with `select` the one of the highest
    value of that key of `rates`; early stopping counts validations without a new best. A cancel stops training
    and keeps the best model (the event is cleared: it asked for that model, evaluated)."""
    from ..training import _average_into   # training builds on the estimators' table, so not at the top
    device = train.device
    gen = torch.Generator(device).manual_seed(config.seed)
    opt = torch.optim.Adam(network.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.iterations)
    averaged = copy.deepcopy(network)
    history: list[Progress] = []
    t0, throttle = time.perf_counter(), Throttle()
    best = {"loss": float("inf"), "it": 0, "state": copy.deepcopy(averaged.state_dict())}

    def validate() -> tuple[float, dict, float]:
        """The validation loss, the rates, and the number to minimise."""
        losses = [float(loss(averaged, v, torch.Generator(device).manual_seed(config.seed + 1 + i)).detach())
                  for i, v in enumerate(val.split(max(config.batch, 4096)))]
        val_loss = float(np.mean(losses))
        measured = rates(averaged) if rates is not None else {}
        return val_loss, measured, -measured[select] if select else val_loss

    def emit(it: int, record: bool, **kw) -> None:
        elapsed = time.perf_counter() - t0
        ev = Progress(seed=config.seed, iteration=it, iterations=config.iterations, elapsed_s=elapsed,
                      done=it, total=config.iterations, left_s=seconds_left(elapsed, it, config.iterations),
                      best_iteration=best["it"], best_val_loss=best["loss"], **kw)
        if record:
            history.append(ev)
        if callback is not None and (record or throttle()):
            callback(ev)

    # The starting network is validated too: a network given to start from is kept unless training improves it.
    best["loss"], measured, best["judged"] = validate()
    emit(0, True, message="started", val_loss=best["loss"], phase="validation", **measured)
    stopped, bad, since, run_loss, it = "finished", 0, 0, 0.0, 0
    for it in range(1, config.iterations + 1):
        if cancel is not None and cancel.is_set():
            stopped, it = "cancelled", it - 1
            cancel.clear()
            break
        batch = train[torch.randint(len(train), (config.batch,), generator=gen, device=device)]
        value = loss(network, batch, gen)
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        opt.step()
        sched.step()
        if config.average:
            with torch.no_grad():
                _average_into(averaged, network, min(config.average, it / (it + 10)))
        else:
            averaged.load_state_dict(network.state_dict())
        run_loss, since = run_loss + float(value.detach()), since + 1
        if it % config.eval_every and it != config.iterations:
            emit(it, False)
            continue
        val_loss, measured, judged = validate()
        if not (np.isfinite(val_loss) and np.isfinite(judged)):
            stopped = "diverged"
            break
        kept = judged < best["judged"]
        if kept:
            best.update(loss=val_loss, judged=judged, it=it, state=copy.deepcopy(averaged.state_dict()))
        bad = 0 if kept else bad + 1
        early = config.patience and bad >= config.patience
        emit(it, True, train_loss=run_loss / since, val_loss=val_loss, lr=opt.param_groups[0]["lr"],
             message="stopped early" if early else "kept" if kept else "", phase="validation", **measured)
        run_loss, since = 0.0, 0
        if early:
            stopped = "stopped early"
            break
    averaged.load_state_dict(best["state"])
    averaged.eval()
    emit(it, True, message=stopped)
    return Fitted(averaged, best["it"], it, stopped, history)


@contextmanager
def single_thread(small: bool = True):
    """One torch thread while a small network trains (`small`): its operations are too small to share. On 2 busy
    cores a backward pass of the score's 2-64-64-2 MLP on 256 snapshots took 65 ms with 2 threads against 4 ms with
    one, and EPR-Net's 20-20-20 potential trained 20 times slower on two. Process-wide, restored after."""
    before = torch.get_num_threads()
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
