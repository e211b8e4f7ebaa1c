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
how far the landscape still is from the true one. Training is the model-known estimators' loop
(`model_known.fit_network`); the model kept is the one with the lowest upper bound on the validation samples, and
everything reported comes from the test samples.

For small noise the samples leave most of the landscape unvisited; the enhanced loss adds the mean squared
residual of the stationary Fokker-Planck equation written for p ~ exp(-phi),
R(phi) = div F - F . grad phi + sum_c D_c (d_c^2 phi - (d_c phi)^2) (per unit time), on the training samples
displaced by Gaussian noise. It shapes the landscape where samples are rare; the bounds come from the EPR terms.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ..device import describe_device, resolve_device
from ..drift_models import DriftModel
from ..errors import CneepError
from ..progress import Callback
from ..trajectories import Trajectories
from ..verdict import integrated_time
from ..windows import window_starts
from .base import TEST, TRAIN, VAL, Estimate
from .model_known import ModelKnownConfig, fit_network, single_thread

Field = Callable[[torch.Tensor], torch.Tensor]
CHUNK = 16_384        # points per autograd pass when evaluating: bounded memory for any number of samples
LANDSCAPE_CUT = 20.0  # the landscape is scored where the exact -ln p is within this of its minimum (U < 20 D)
VAL_RATE_SAMPLES = 8192   # validation samples (the first ones) whose bounds and midpoint are shown at each validation


class Potential(nn.Module):
    """phi(x) = V(x) / energy, with V a tanh MLP on coordinates centred on the training samples' mean and divided
    by one length, `std` (per coordinate, all equal from `estimate_epr_net`).

    The MLP learns the potential in the force's units, V = D phi (the paper's U for a scalar D; `energy` is the mean
    diffusion coefficient), not phi = -ln p: across a landscape phi spans 1/D times more than V, and Adam's fixed
    step size reaches such outputs slowly (on the double well at D = 0.1, 10^4 steps left a relative error of the
    landscape of 0.23, against 0.04-0.13 over four seeds for V; docs/benchmarks.md, "EPR-Net on its benchmarks")."""

    def __init__(self, dims: int, width: int, depth: int, mean: torch.Tensor, std: torch.Tensor, energy: float):
        super().__init__()
        self.width, self.depth, self.energy = width, depth, energy
        layers, size = [], dims
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.Tanh()]
            size = width
        self.net = nn.Sequential(*layers, nn.Linear(size, 1))
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1) / self.energy

    def describe(self) -> dict:
        return {"network": "potential", "mean": self.mean.tolist(), "std": self.std.tolist(), "width": self.width,
                "depth": self.depth, "energy": self.energy}


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
    return torch.cat(upper).cpu().numpy(), torch.cat(lower).cpu().numpy()


def mean_and_error(values: np.ndarray, series: np.ndarray | None) -> tuple[float, float]:
    """Mean and standard error, sqrt(2 tau var / n) with tau the integrated autocorrelation time along each
    trajectory (`series`: the trajectory of each sample, in time order); None: independent draws, tau = 1/2."""
    tau = 0.5 if series is None else max(0.5, integrated_time(values, series))
    return float(values.mean()), float(math.sqrt(2 * tau * values.var(ddof=1) / len(values)))


def _diffusion(drift: DriftModel) -> torch.Tensor:
    """The diagonal of D, refused unless every coordinate is noisy (the bounds divide by each D_c)."""
    d = np.asarray(drift.diffusion, dtype=np.float64)
    if not (d > 0).all():
        raise CneepError(f"{drift.name}: epr-net needs a positive diffusion for every coordinate, not D = "
                         f"{d.tolist()}")
    return torch.as_tensor(d)


def _force(drift: DriftModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """F and div F at the points (n, d), in the points' precision (the drift itself runs in single), checked."""
    parts = [drift.drift_and_divergence(c.float()) for c in x.split(CHUNK)]
    f = torch.cat([p[0] for p in parts]).to(x.dtype)
    div = torch.cat([p[1].sum(1) for p in parts]).to(x.dtype)
    if not (torch.isfinite(f).all() and torch.isfinite(div).all()):
        raise CneepError(f"{drift.name}: the drift or its divergence is NaN or infinite at some samples")
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


def _loss(diffusion: torch.Tensor, enhanced: float):
    """The training loss of a batch whose columns are x, F (the EPR upper bound: what validation judges), and on
    training batches with the enhanced loss also z, F(z), div F(z) of the displaced samples (its residual term)."""
    d = diffusion.float()
    dims = len(d)

    def loss(net, batch, gen):
        x, f = batch[:, :dims], batch[:, dims:2 * dims]
        upper = ((f + d * gradient(net, x)) ** 2 / d).sum(1).mean()
        if batch.shape[1] == 2 * dims:
            return upper
        z, fz, div_fz = batch[:, 2 * dims:3 * dims], batch[:, 3 * dims:4 * dims], batch[:, 4 * dims]
        dg, lap = divergence(lambda q: d * gradient(net, q), z)
        residual = div_fz - (fz * dg / d).sum(1) + lap - (dg ** 2 / d).sum(1)
        return upper + enhanced * (residual ** 2).mean()
    return loss


def estimate_epr_net(samples: np.ndarray, parts: np.ndarray, drift: DriftModel,
                     settings: ModelKnownConfig = ModelKnownConfig(), config=None, series: np.ndarray | None = None,
                     box: Sequence[Sequence[float]] | None = None, callback: Callback | None = None,
                     cancel: threading.Event | None = None) -> Estimate:
    """EPR-Net on steady samples (n, d) labelled train, validation or test by `parts` (n,) (`base.TRAIN`, ...),
    with the drift and the diagonal D of `drift`; its exact log_density, where known, scores the landscape.
    settings: the network (width, blocks) and epr-net's own (enhanced, spread, grid); config: a TrainConfig whose
    steps, batch, learning rate, validation, weight average, device and seed `model_known.fit_network` trains
    with.

    series: the trajectory of each sample when they come from trajectories (samples of one in time order), for
    error bars that allow for correlation; None: independent draws. box: the landscape's range per axis for two
    coordinates (default: the samples'). The estimate is the midpoint of the bounds on the test samples; `details`
    holds the bounds, the gap, the static formula, the landscape and how training went."""
    if config is None:
        from ..training import TrainConfig   # training builds on the estimators' table, so not at the top
        config = TrainConfig(model="epr-net")
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
    if drift.n != dims:
        raise CneepError(f"{drift.name}: a drift of {drift.n} coordinates, the samples have {dims}")
    diff = _diffusion(drift)
    # The drift is evaluated once per sample, on the CPU (a drift file need not know of devices); the network
    # trains on the device, in single precision (twice as fast on a CPU), and is evaluated in double.
    device = resolve_device(config.device)
    x = {p: torch.as_tensor(x_all[parts == p], dtype=torch.float32) for p in (TRAIN, VAL)}
    mean, std = x[TRAIN].mean(0), x[TRAIN].std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    # One length for every coordinate, the widest spread: divided by its own, a narrow coordinate is stretched, the
    # tanh units vary fastest along it, and the landscape extrapolates steeply where no sample falls.
    scale = torch.full_like(std, float(std.max()))
    columns = [x[TRAIN], _force(drift, x[TRAIN])[0]]
    if settings.enhanced > 0:
        gen = torch.Generator().manual_seed(config.seed)
        z = x[TRAIN] + settings.spread * std * torch.randn(x[TRAIN].shape, generator=gen)
        fz, div_fz = _force(drift, z)
        columns += [z, fz, div_fz[:, None]]
    val_force = _force(drift, x[VAL])
    shown = [t[:VAL_RATE_SAMPLES].to(device) for t in (x[VAL], *val_force)]
    d_train = diff.float().to(device)

    def val_rates(net) -> dict:
        upper, lower = bound_terms(net, *shown, d_train)
        return {"val_rate": float((upper + lower).mean() / 2), "val_lower": float(lower.mean()),
                "val_upper": float(upper.mean())}

    torch.manual_seed(config.seed)
    net = Potential(dims, settings.width, settings.blocks, mean, scale, float(diff.mean())).to(device)
    with single_thread():
        fitted = fit_network(net, _loss(d_train, settings.enhanced), torch.cat(columns, 1).to(device),
                             torch.cat([x[VAL], val_force[0]], 1).to(device), config, callback, cancel,
                             rates=val_rates)
        where = describe_device(device)   # as it trained: on one thread, if on the CPU
    net = fitted.network.double()

    test = torch.as_tensor(x_all[parts == TEST])
    f, div_f = _force(drift, test)
    upper, lower = bound_terms(net, *(t.to(device) for t in (test, f, div_f, diff)))
    net = net.cpu()
    static = ((f ** 2 / diff).sum(1) + div_f).numpy()
    test_series = None if series is None else np.asarray(series)[parts == TEST]
    (up, up_err), (low, low_err) = mean_and_error(upper, test_series), mean_and_error(lower, test_series)
    mid, mid_err = mean_and_error((upper + lower) / 2, test_series)
    gap, gap_err = mean_and_error(upper - lower, test_series)
    stat, stat_err = mean_and_error(static, test_series)
    details = {"drift": drift.name, "device": where,
               "bounds": {"lower": low, "upper": up}, "lower_bound_err": low_err, "upper_bound_err": up_err,
               "gap": gap, "gap_err": gap_err, "static_rate": stat, "static_rate_err": stat_err,
               "snapshots": {"train": counts["training"], "val": counts["validation"], "test": counts["test"]},
               "training": {"iterations": fitted.iterations, "best_iteration": fitted.best_iteration,
                            "stopped": fitted.stopped, "enhanced": settings.enhanced, "network": net.describe()}}
    exact = drift.log_density
    if dims == 2:
        area = np.array([x_all.min(0), x_all.max(0)]).T if box is None else np.asarray(box, dtype=np.float64)
        details["landscape"] = landscape(net, exact, area, settings.grid)
        details["landscape_rrmse"] = details["landscape"].get("rrmse")
    elif exact is not None:   # many coordinates: scored on the test samples, as published
        with torch.no_grad():
            details["landscape_rrmse"] = relative_error(net(test).numpy(), -exact(test).numpy())
    return Estimate(rate=mid, rate_err=mid_err, transitions=len(upper), details=details, network=net,
                    history=fitted.history)


def epr_net_fit(data: Trajectories, split: np.ndarray, settings: ModelKnownConfig, config, drift: DriftModel,
                callback: Callback | None = None, cancel: threading.Event | None = None) -> Estimate:
    """EPR-Net on the frames of trajectories as steady samples (the parts of `split`, (trajectories, frames)), error
    bars along each trajectory; the EP of each transition is v(x_mid)^T D^-1 dx with v = F + D grad phi, the mean
    local velocity of the fitted landscape."""
    x = np.asarray(data.data, np.float64)
    labels = np.asarray(split)
    series = np.broadcast_to(np.arange(x.shape[0])[:, None], labels.shape).ravel()
    try:
        est = estimate_epr_net(x.reshape(-1, x.shape[-1]), labels.ravel(), drift, settings, config, series,
                               callback=callback, cancel=cancel)
    except CneepError as e:
        raise CneepError(f"{data.name}: {e}") from e
    if "landscape" in est.details:
        est.details["landscape"]["axes"] = data.coordinate_labels
    starts, _ = window_starts(labels, 2)
    flat = torch.as_tensor(x.reshape(-1, x.shape[-1]))
    x0, x1 = flat[starts], flat[starts + 1]
    mid = (x0 + x1) / 2
    diff = _diffusion(drift)
    v = torch.cat([_force(drift, m)[0] + diff * gradient(est.network, m).detach() for m in mid.split(CHUNK)])
    by_coordinate = (v / diff * (x1 - x0)).numpy()
    return replace(est, ds=by_coordinate.sum(1), ds_by_coordinate=by_coordinate)
