"""EPR-Net (Zhao, Zhang & Li): the steady landscape and the EP rate of a diffusion whose drift is known.

For dx = F(x) dt + sqrt(2 D) dW with a constant diagonal D and steady density p, a network potential phi(x) is
fitted to steady samples by minimising the EPR loss

    upper(phi) = < (F + D grad phi)^T D^-1 (F + D grad phi) > = sigma + < |grad(phi - phi*)|^2_D >,   phi* = -ln p,

(the probability current p (F + D grad phi*) is orthogonal to every gradient), so at any stage of training it
bounds sigma from above, and its minimiser is the landscape: -ln p, D phi* = U for a scalar D, the paper's
potential. The same phi gives the score-matching lower bound (s = -grad phi):

    lower(phi) = < F^T D^-1 F > + 2 < div F > - < grad phi^T D grad phi - 2 sum_c D_c d_c^2 phi >
               = sigma - < |grad(phi - phi*)|^2_D >.

Their midpoint is sigma for any phi: the static formula <F^T D^-1 F> + <div F> plus a term of mean zero, which
cancels most of the static formula's sampling noise as phi nears phi*. The gap, 2 <|grad(phi - phi*)|^2_D>, says
how far the landscape still is from the true one. The model kept is the one with the lowest upper bound on the
validation samples; everything reported comes from the test samples.

For small noise the samples leave most of the landscape unvisited; the enhanced loss adds the mean squared
residual of the stationary Fokker-Planck equation written for p ~ exp(-phi),
R(phi) = div F - F . grad phi + sum_c D_c (d_c^2 phi - (d_c phi)^2) (per unit time), on the training samples
displaced by Gaussian noise. It shapes the landscape where samples are rare; the bounds come from the EPR terms.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import CneepError
from ..params import check, param
from ..progress import Callback, Progress, Throttle, seconds_left
from ..verdict import integrated_time
from .base import TEST, TRAIN, VAL, Estimate

Field = Callable[[torch.Tensor], torch.Tensor]
CHUNK = 16_384        # points per autograd pass when evaluating: bounded memory for any number of samples
LANDSCAPE_CUT = 20.0  # the landscape is scored where the exact -ln p is within this of its minimum (U < 20 D)


@dataclass(frozen=True)
class EprNetConfig:
    """Settings of EPR-Net: the potential network and its training."""

    width: int = param(20, "units per hidden layer of the potential network (tanh)", low=1, high=4096)
    depth: int = param(3, "hidden layers of the potential network", low=1, high=32)
    steps: int = param(10_000, "training steps (Adam)", low=1, high=10_000_000)
    lr: float = param(1e-3, "learning rate at the start, decaying to 0 along a cosine over the steps", above=0, high=1, label="Learning rate", decimals=5, step=0.0001)
    batch: int = param(1024, "samples per step", low=1, high=1_000_000)
    validations: int = param(50, "validations over the training, each keeping the model if its upper bound on "
                             "the validation samples is the lowest so far", low=1, high=100_000)
    enhanced: float = param(0.0, "weight of the stationary-equation residual on displaced samples, for small noise "
                            "(0: the plain EPR loss)", low=0, high=1e6, label="Enhanced loss")
    spread: float = param(0.5, "enhanced loss: Gaussian displacement of the samples, in standard deviations of "
                          "each coordinate", above=0, high=100)
    grid: int = param(60, "points per axis of the landscape drawn for two coordinates", low=2, high=2000)

    def __post_init__(self):
        check(self)


class Potential(nn.Module):
    """phi(x), a tanh MLP on coordinates standardised by the training samples' mean and spread."""

    def __init__(self, dims: int, width: int, depth: int, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        layers, size = [], dims
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        self.net = nn.Sequential(*layers, nn.Linear(size, 1))
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)


def _leaf(x: torch.Tensor) -> torch.Tensor:
    """x itself inside a differentiation (its derivatives then reach the outer one), else a new leaf."""
    return x if x.requires_grad else x.detach().requires_grad_(True)


def _grad(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d(sum y)/dx, kept differentiable; zeros where y does not depend on x (a constant derivative)."""
    g = torch.autograd.grad(y.sum(), x, create_graph=True, allow_unused=True)[0]
    return torch.zeros_like(x) if g is None else g


def gradient(phi: Field, x: torch.Tensor) -> torch.Tensor:
    """grad phi at points x (n, d), differentiable again."""
    x = _leaf(x)
    return _grad(phi(x), x)


def divergence(field: Field, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A vector field at points x (n, d) and its divergence (n,), exact by autograd (one pass per coordinate),
    both differentiable again."""
    x = _leaf(x)
    f = field(x)
    if f.shape != x.shape:
        raise CneepError(f"epr-net: the drift must give a vector per point, shape {tuple(x.shape)}, not "
                         f"{tuple(f.shape)}")
    return f, sum(_grad(f[:, c], x)[:, c] for c in range(x.shape[1]))


def bound_terms(phi: Field, x: torch.Tensor, force: torch.Tensor, div_force: torch.Tensor,
                diffusion: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the terms whose means are the upper and the lower bound, (n,) each, in chunks."""
    upper, lower = [], []
    for s in range(0, len(x), CHUNK):
        xs, f, div_f = x[s:s + CHUNK], force[s:s + CHUNK], div_force[s:s + CHUNK]
        g, lap = divergence(lambda z: diffusion * gradient(phi, z), xs)   # D grad phi and its divergence
        g, lap = g.detach(), lap.detach()
        upper.append((((f + g) ** 2) / diffusion).sum(1))
        lower.append((f ** 2 / diffusion).sum(1) + 2 * div_f - (g ** 2 / diffusion).sum(1) + 2 * lap)
    return torch.cat(upper).numpy(), torch.cat(lower).numpy()


def mean_and_error(values: np.ndarray, series: np.ndarray | None) -> tuple[float, float]:
    """Mean and standard error, sqrt(2 tau var / n) with tau the integrated autocorrelation time along each
    trajectory (`series`: the trajectory of each sample, in time order); None: independent draws, tau = 1/2."""
    tau = 0.5 if series is None else max(0.5, integrated_time(values, series))
    return float(values.mean()), float(math.sqrt(2 * tau * values.var(ddof=1) / len(values)))


def _diffusion(diffusion, dims: int) -> torch.Tensor:
    """The diagonal of D from a number, a vector or a diagonal matrix; refused unless positive and diagonal."""
    d = np.asarray(diffusion, dtype=np.float64)
    if d.ndim == 2 and d.shape == (dims, dims) and not np.count_nonzero(d - np.diag(np.diag(d))):
        d = np.diag(d)
    d = np.broadcast_to(d, (dims,)) if d.ndim == 0 or d.shape == (dims,) else None
    if d is None or not (np.isfinite(d).all() and (d > 0).all()):
        raise CneepError(f"epr-net needs a positive diagonal diffusion for the {dims} coordinates, not "
                         f"{np.asarray(diffusion).tolist()}")
    return torch.as_tensor(np.array(d))


def _force(drift: Field, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """F and div F at the samples, checked."""
    parts = [[t.detach() for t in divergence(drift, x[s:s + CHUNK])] for s in range(0, len(x), CHUNK)]
    f, div = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if not (torch.isfinite(f).all() and torch.isfinite(div).all()):
        raise CneepError("epr-net: the drift or its divergence is NaN or infinite at some samples")
    return f, div


def landscape(phi: Field, exact: Field | None, box: np.ndarray, points: int) -> dict:
    """phi - min phi on a grid over the box (2, 2: the range of each axis), and the exact -ln p the same way,
    with the relative RMS error where the exact one is below LANDSCAPE_CUT."""
    axes = [np.linspace(lo, hi, points) for lo, hi in box]
    xy = torch.as_tensor(np.stack(np.meshgrid(*axes, indexing="xy"), axis=-1).reshape(-1, 2))
    with torch.no_grad():
        value = phi(xy).numpy().reshape(points, points)
    out = {"x": axes[0].tolist(), "y": axes[1].tolist(), "potential": (value - value.min()).tolist()}
    if exact is not None:
        with torch.no_grad():
            true = -exact(xy).numpy().reshape(points, points)
        out["exact"] = (true - true.min()).tolist()
        out["rrmse"] = relative_error(value, true)
    return out


def relative_error(value: np.ndarray, true: np.ndarray) -> float:
    """||V - U|| / ||U|| over the points where U < LANDSCAPE_CUT, both shifted to their minimum (the published
    metric, with -ln p for U / D)."""
    value, true = value - value.min(), true - true.min()
    keep = true < LANDSCAPE_CUT
    return float(np.linalg.norm((value - true)[keep]) / np.linalg.norm(true[keep]))


def estimate_epr_net(samples: np.ndarray, parts: np.ndarray, drift: Field, diffusion,
                     settings: EprNetConfig = EprNetConfig(), seed: int = 0, series: np.ndarray | None = None,
                     exact_log_density: Field | None = None, box: Sequence[Sequence[float]] | None = None,
                     callback: Callback | None = None, cancel: threading.Event | None = None) -> Estimate:
    """EPR-Net on steady samples (n, d) labelled train, validation or test by `parts` (n,) (`base.TRAIN`, ...),
    with the drift b(x) (a torch function of (m, d) points, differentiable) and D (a number, the diagonal or a
    diagonal matrix).

    series: the trajectory of each sample when they come from trajectories (samples of one in time order), for
    error bars that allow for correlation; None: independent draws. exact_log_density: ln p up to a constant
    (torch), to score the landscape. box: the landscape's range per axis for two coordinates (default: the
    samples'). Sends `Progress` events to `callback`; setting `cancel` ends training, keeping the best model.
    The estimate is the midpoint of the bounds on the test samples; `details` holds the bounds, the gap, the
    static formula, the landscape and how training went."""
    x_all = np.asarray(samples, dtype=np.float64)
    parts = np.asarray(parts)
    if x_all.ndim != 2 or parts.shape != x_all.shape[:1]:
        raise CneepError(f"epr-net needs samples (n, d) and one part label each, got {x_all.shape} and {parts.shape}")
    if not np.isfinite(x_all).all():
        raise CneepError("epr-net: the samples contain NaN or infinite values")
    counts = {name: int(np.count_nonzero(parts == p)) for name, p in (("training", TRAIN), ("validation", VAL),
                                                                      ("test", TEST))}
    if min(counts.values()) < 2:
        raise CneepError("epr-net needs at least 2 samples in each part, got "
                         + ", ".join(f"{n} {name}" for name, n in counts.items()))
    dims = x_all.shape[1]
    diff = _diffusion(diffusion, dims)
    x = {p: torch.as_tensor(x_all[parts == p]) for p in (TRAIN, VAL, TEST)}
    force = {p: _force(drift, x[p]) for p in x}
    torch.manual_seed(seed)
    mean, std = x[TRAIN].mean(0), x[TRAIN].std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    # Trained in single precision (twice as fast on a CPU), evaluated in double.
    net = Potential(dims, settings.width, settings.depth, mean.float(), std.float())
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    # A constant rate leaves the model in a noise ball above the loss's floor (at 1e-3 on the double well the
    # upper bound stops improving after about 5000 steps); decaying it along a cosine lets it settle.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings.steps)
    gen = torch.Generator().manual_seed(seed)
    train = [t.float() for t in (x[TRAIN], force[TRAIN][0], x[VAL], force[VAL][0], diff)]
    enhanced = None
    if settings.enhanced > 0:
        z = x[TRAIN] + settings.spread * std * torch.randn(x[TRAIN].shape, generator=gen, dtype=torch.float64)
        enhanced = [t.float() for t in (z, *_force(drift, z))]

    def loss(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training loss on a batch of training samples, and its EPR term (the batch's upper bound)."""
        xb, f, _, _, d = train
        up = ((f[batch] + d * gradient(net, xb[batch])) ** 2 / d).sum(1).mean()
        if enhanced is None:
            return up, up
        z, fz, div_fz = (t[batch] for t in enhanced)
        dg, lap = divergence(lambda q: d * gradient(net, q), z)
        residual = div_fz - (fz * dg / d).sum(1) + lap - (dg ** 2 / d).sum(1)
        return up + settings.enhanced * (residual ** 2).mean(), up

    def validate() -> float:
        _, _, xv, f, d = train
        return float(((f + d * gradient(net, xv).detach()) ** 2 / d).sum(1).mean())

    every = max(1, settings.steps // settings.validations)
    n_train, throttle, t0 = len(x[TRAIN]), Throttle(), time.perf_counter()
    best_state, best_val, best_step, stopped, step = copy.deepcopy(net.state_dict()), math.inf, 0, "finished", 0
    run_loss = run_up = 0.0
    since = 0

    def emit(**kw) -> None:
        if callback is not None:
            elapsed = time.perf_counter() - t0
            callback(Progress(iteration=step, iterations=settings.steps, done=step, total=settings.steps,
                              elapsed_s=elapsed, left_s=seconds_left(elapsed, step, settings.steps),
                              best_iteration=best_step, best_val_loss=best_val if best_step else None, **kw))

    emit(message="started")
    for step in range(1, settings.steps + 1):
        if cancel is not None and cancel.is_set():
            stopped, step = "cancelled", step - 1
            break
        batch = torch.randint(n_train, (min(settings.batch, n_train),), generator=gen)
        total, up = loss(batch)
        opt.zero_grad()
        total.backward()
        # The published training clips the gradient norm at 5: early steps on a steep landscape are large.
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        run_loss, run_up, since = run_loss + total.item(), run_up + up.item(), since + 1
        if step % every and step != settings.steps:
            if throttle():
                emit(train_loss=run_loss / since, train_rate=run_up / since)
            continue
        val = validate()
        if not math.isfinite(val):
            stopped = "diverged"
            break
        kept = val < best_val
        if kept:
            best_state, best_val, best_step = copy.deepcopy(net.state_dict()), val, step
        emit(train_loss=run_loss / since, train_rate=run_up / since, val_loss=val, val_rate=val,
             message="kept" if kept else "")
        run_loss = run_up = 0.0
        since = 0
    net.load_state_dict(best_state)
    net.double()
    emit(message=stopped)

    upper, lower = bound_terms(net, x[TEST], *force[TEST], diff)
    f, div_f = force[TEST]
    static = ((f ** 2 / diff).sum(1) + div_f).numpy()
    test_series = None if series is None else np.asarray(series)[parts == TEST]
    (up, up_err), (low, low_err) = mean_and_error(upper, test_series), mean_and_error(lower, test_series)
    mid, mid_err = mean_and_error((upper + lower) / 2, test_series)
    gap, gap_err = mean_and_error(upper - lower, test_series)
    stat, stat_err = mean_and_error(static, test_series)
    details = {"bounds": {"lower": low, "lower_err": low_err, "upper": up, "upper_err": up_err},
               "gap": gap, "gap_err": gap_err, "static": stat, "static_err": stat_err,
               "steps": step, "best_step": best_step, "stopped": stopped}
    if dims == 2:
        area = np.array([x_all.min(0), x_all.max(0)]).T if box is None else np.asarray(box, dtype=np.float64)
        details["landscape"] = landscape(net, exact_log_density, area, settings.grid)
        details["landscape_rrmse"] = details["landscape"].get("rrmse")
    elif exact_log_density is not None:   # many coordinates: scored on the test samples, as published
        with torch.no_grad():
            details["landscape_rrmse"] = relative_error(net(x[TEST]).numpy(), -exact_log_density(x[TEST]).numpy())
    return Estimate(rate=mid, rate_err=mid_err, transitions=len(upper), details=details)
