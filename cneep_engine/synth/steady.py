"""Nonlinear diffusions whose steady density is known: trajectories from an exact first draw, the EP of each step.

Such a system, dx = F(x) dt + sqrt(2 D) dW with a scalar diffusivity D, declares its drift F(x) and its normalised
log steady density ln p(x) as torch functions of (n, d) points (so that a model-known estimator can differentiate
them), draws steady points exactly, and knows its EP rate. Its trajectories start from such a draw and advance by
Euler-Maruyama sub-steps, whole ones per frame interval dt, of at most `time_step`. Each step's EP is the heat it
gives the bath over D, F o dx / D (trapezoid, Stratonovich: the force at a sub-step's end starts the next one), plus
the change of -ln p; its mean is sigma dt up to the integrator's O(time step) bias. No exact two-frame ceiling
exists: sigma stands in its place, marked not exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Protocol

import numpy as np
import torch

from ..movie import GroundTruth
from ..trajectories import Trajectories
from .sampling import TrajectorySampling


class SteadyDiffusion(Protocol):
    diffusivity: float
    dt: float
    time_step: float

    @property
    def ep_rate(self) -> float: ...

    def drift(self, x: torch.Tensor) -> torch.Tensor: ...

    def log_density(self, x: torch.Tensor) -> torch.Tensor: ...

    def draw(self, n: int, gen: torch.Generator) -> torch.Tensor: ...

    def describe(self) -> dict: ...


def substeps(model: SteadyDiffusion) -> int:
    return max(1, round(model.dt / model.time_step))


@torch.no_grad()
def integrate(model: SteadyDiffusion, trajectories: int, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (trajectories, frames, d) started from the steady density, and the EP of every step
    (trajectories, frames - 1)."""
    gen = torch.Generator().manual_seed(seed)
    x = model.draw(trajectories, gen)
    n_sub = substeps(model)
    h, d = model.dt / n_sub, model.diffusivity
    noise = math.sqrt(2 * d * h)
    out = torch.empty((trajectories, frames, x.shape[1]), dtype=torch.float64)
    heat = torch.zeros((trajectories, frames - 1), dtype=torch.float64)
    out[:, 0] = x
    f = model.drift(x)
    for t in range(frames - 1):
        for _ in range(n_sub):
            x_next = x + f * h + noise * torch.randn(x.shape, generator=gen, dtype=torch.float64)
            f_next = model.drift(x_next)
            heat[:, t] += ((f + f_next) * (x_next - x)).sum(1) / (2 * d)
            x, f = x_next, f_next
        out[:, t + 1] = x
    log_p = model.log_density(out.reshape(-1, out.shape[2])).reshape(trajectories, frames)
    return out.numpy(), (heat + log_p[:, :-1] - log_p[:, 1:]).numpy()


def steady_trajectories(model: SteadyDiffusion, sampling: TrajectorySampling) -> Trajectories:
    """The system's trajectories with the EP of every step and its rate as ground truth."""
    positions, ds = integrate(model, sampling.trajectories, sampling.frames, sampling.seed)
    params = {**model.describe(), **asdict(sampling), "substeps": substeps(model), "integrator": "Euler-Maruyama",
              "sigma_2pt_exact": False}
    sigma = model.ep_rate
    truth = GroundTruth(ds=ds, sigma=sigma, sigma_2pt=sigma, params=params)
    return Trajectories(data=positions, dt=model.dt, dt_source="metadata",
                        labels=[f"x{i + 1}" for i in range(positions.shape[2])], truth=truth,
                        provenance={"format": "simulated", "source": params["system"]})
