"""The known model behind snapshots: a drift b(x) and a constant diagonal diffusion D, for model-known estimators.

A model-known estimator (score, EPR-Net) learns what the data leave unknown (the score of the stationary density,
a potential) and takes the dynamics dx = b(x) dt + sqrt(2 D) dW as given. A `DriftModel` carries that dynamics:

    model = drift_model(data, "")              # the data's own system, rebuilt from its ground truth
    model = drift_model(data, "my_drift.py")   # a Python file defining drift(x) and D
    model = drift_model(data, "sfi_run")       # the Ito drift fitted by an sfi run (linear force inference)
    model.drift(x)                             # torch float32 (batch, n) -> (batch, n), differentiable, on x's device
    model.diffusion                            # (n,) numpy, D_c >= 0

A drift file is plain Python:

    import torch
    D = [1.0, 10.0]                       # one number per coordinate, or one for all
    def drift(x):                         # x: torch tensor (batch, n), float32; returns (batch, n)
        return torch.stack([-2 * x[:, 0] + x[:, 1], x[:, 0] - 2 * x[:, 1]], dim=1)
    dims = 2                              # optional: coordinates are particles' positions, `dims` per particle
    radius = 1.0                          # optional: the particles' radius, for the local packing fraction

The score estimator calls drift(x) where it trains, on a GPU when there is one: a tensor the function makes must be
on x's device (torch.as_tensor(..., device=x.device)). EPR-Net evaluates the drift on the CPU.

`layout` says which coordinates belong to which particle ((particles, k) indices, the first `dims` of each row its
position), so that per-particle densities, spatial bins and the particle network can be formed.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .errors import CneepError


@dataclass(frozen=True)
class DriftModel:
    """dx = b(x) dt + sqrt(2 D) dW with D = diag(diffusion). layout: (particles, k) coordinate indices of each
    particle, its first `dims` columns the particle's position; exact_score: the score -C^-1 x of a linear
    system, for checks; radius: the particles' radius, where they have one; log_density: the exact ln p (torch,
    up to a constant) of a system that has one, to score a learned landscape; box: the side of a periodic square
    box the particles move in (None: no box); divergence: d b_c / d x_c in closed form, (batch, n), where automatic
    differentiation would take one backward pass per coordinate of many particles."""

    name: str
    drift: Callable[[torch.Tensor], torch.Tensor]
    diffusion: np.ndarray
    layout: np.ndarray | None = None
    dims: int = 1
    exact_score: Callable[[np.ndarray], np.ndarray] | None = None
    radius: float | None = None
    log_density: Callable[[torch.Tensor], torch.Tensor] | None = None
    box: float | None = None
    divergence: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def n(self) -> int:
        return len(self.diffusion)

    def drift_and_divergence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """b(x) and its per-coordinate derivatives d b_c / d x_c, (batch, n) each (by automatic differentiation
        unless given in closed form)."""
        if self.divergence is not None:
            with torch.no_grad():
                return self.drift(x), self.divergence(x)
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            b = self.drift(x)
            return b.detach(), diagonal_jacobian(b, x)


def diagonal_jacobian(y: torch.Tensor, x: torch.Tensor, create_graph: bool = False,
                      columns: np.ndarray | None = None) -> torch.Tensor:
    """d y_c / d x_c of a batch of maps (batch, n) -> (batch, n): one backward pass per coordinate (rows of a
    batch are independent, so the gradient of the batch sum is each row's). With `columns` (a boolean mask), only
    those coordinates are differentiated; the others are 0."""
    zero = torch.zeros_like(y[:, 0])
    out = [torch.autograd.grad(y[:, c].sum(), x, retain_graph=True, create_graph=create_graph)[0][:, c]
           if columns is None or columns[c] else zero for c in range(y.shape[1])]
    return torch.stack(out, dim=1)


def drift_model(data, source: str = "") -> DriftModel:
    """The model of `data` (Trajectories of coordinates): from `source`, a drift file (.py) or an sfi run folder,
    or when empty from the system that simulated the data. Checked on a few frames of the data: one line naming
    the file and the problem otherwise."""
    n = data.n_coordinates
    if source:
        path = Path(source)
        if path.is_dir():
            model = _from_sfi_run(path, n)
        elif path.suffix == ".py":
            model = _sized(_from_file(path), n)
        else:
            raise CneepError(f"{source}: a drift is a Python file (.py) defining drift(x) and D, or the folder of "
                             "an sfi run")
    else:
        model = _from_truth(data)
    _check(model, data)
    return model


def _check(model: DriftModel, data) -> None:
    """Evaluate the drift on a few frames: wrong signature, shape, or non-finite values are one line."""
    n = data.n_coordinates
    if model.n != n:
        raise CneepError(f"{model.name}: D has {model.n} entries but {data.name} has {n} coordinates")
    if not (np.all(np.isfinite(model.diffusion)) and np.all(model.diffusion >= 0) and np.any(model.diffusion > 0)):
        raise CneepError(f"{model.name}: D must be finite and non-negative, and positive for some coordinate")
    check_drift(model, torch.as_tensor(np.asarray(data.data[0, :4]), dtype=torch.float32))


def check_drift(model: DriftModel, x: torch.Tensor) -> None:
    """Evaluate the drift on a batch x (a few snapshots, on the device it is to run on): a wrong signature, shape,
    type or device, or non-finite values, are one line."""
    try:
        b = model.drift(x)
    except CneepError:
        raise
    except Exception as e:   # a user's code can fail in any way; its message says how
        where = "" if x.device.type == "cpu" else (
            f" on {x.device} (create its constants on x's device, e.g. torch.as_tensor(..., device=x.device), or "
            "train with --device cpu)")
        raise CneepError(f"{model.name}: drift(x) failed on a batch of shape {tuple(x.shape)}{where} "
                         f"({type(e).__name__}: {e})") from e
    if not isinstance(b, torch.Tensor) or tuple(b.shape) != tuple(x.shape) or b.dtype != x.dtype:
        shape = tuple(b.shape) if hasattr(b, "shape") else type(b).__name__
        what = f"{shape} of {b.dtype}" if isinstance(b, torch.Tensor) else shape
        raise CneepError(f"{model.name}: drift(x) must return a torch tensor of the shape and type of x, "
                         f"{tuple(x.shape)} (batch, coordinates) of float32, not {what}")
    if not torch.isfinite(b).all():
        raise CneepError(f"{model.name}: drift(x) returned NaN or infinite values on the data")


def _from_file(path: Path) -> DriftModel:
    if not path.is_file():
        raise CneepError(f"{path}: no such drift file")
    spec = importlib.util.spec_from_file_location(f"cneep_drift_{abs(hash(str(path.resolve())))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:   # any error of the user's file, syntax included
        raise CneepError(f"{path}: the drift file fails to import ({type(e).__name__}: {e})") from e
    drift, d = getattr(module, "drift", None), getattr(module, "D", None)
    if not callable(drift) or d is None:
        raise CneepError(f"{path}: a drift file must define a function drift(x) and the diffusion D")
    try:
        diffusion = np.atleast_1d(np.asarray(d, np.float64))
    except (TypeError, ValueError) as e:
        raise CneepError(f"{path}: D must be a number or one number per coordinate ({e})") from e
    if diffusion.ndim != 1:
        raise CneepError(f"{path}: D must be a number or one number per coordinate (a diagonal), not shape "
                         f"{diffusion.shape}")
    return DriftModel(name=str(path), drift=drift, diffusion=diffusion, dims=int(getattr(module, "dims", 1)),
                      radius=getattr(module, "radius", None))


def _sized(model: DriftModel, n: int) -> DriftModel:
    """One D for every coordinate, spread over the data's n."""
    if model.n == 1 and n > 1:
        layout = None if model.dims == 1 else np.arange(n).reshape(-1, model.dims)
        return DriftModel(model.name, model.drift, np.full(n, model.diffusion[0]), layout, model.dims,
                          model.exact_score, model.radius)
    if model.layout is None and model.dims > 1:
        if n % model.dims:
            raise CneepError(f"{model.name}: dims = {model.dims} does not divide the {n} coordinates")
        return DriftModel(model.name, model.drift, model.diffusion, np.arange(n).reshape(-1, model.dims), model.dims,
                          model.exact_score, model.radius)
    return model


def _from_sfi_run(folder: Path, n: int) -> DriftModel:
    """The linear Ito drift b(x) = drift @ x + drift_offset and the diffusion matrix's diagonal of an sfi run."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
        c = summary["coefficients"]
        a, offset, diff = (np.asarray(c[k], np.float64) for k in ("drift", "drift_offset", "diffusion"))
    except FileNotFoundError:
        raise CneepError(f"{folder}: not a finished run folder (no summary.json)") from None
    except (KeyError, ValueError, TypeError):
        raise CneepError(f"{folder}: not an sfi run with a fitted drift (cneep train --method sfi); rerun sfi "
                         "to have one") from None
    if a.shape != (n, n):
        raise CneepError(f"{folder}: the sfi run fitted {len(a)} coordinates, the data have {n}")
    at, bt = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(offset, dtype=torch.float32)
    return _sized(DriftModel(name=f"{folder} (sfi drift)", drift=lambda x: x @ at.to(x).T + bt.to(x),
                             diffusion=np.diag(diff).copy()), n)


def _from_truth(data) -> DriftModel:
    """The drift of the built-in system that simulated `data`, rebuilt from the settings in its ground truth."""
    from .synth import (ActivePair, BeadSpringChain, BrownianGyrator, CurlTrap, DrivenGaussianMixture, Repulsion,
                        RotatedDoubleWell, TrappedAOUP)

    params = data.truth.params if data.truth is not None else {}
    system = params.get("system")
    if system is None:
        raise CneepError(f"{data.name}: no known drift (the data were not simulated here, or their ground truth "
                         "is missing): give one with --drift FILE.py (drift(x) and D) or an sfi run folder")
    steady = {"double-well": RotatedDoubleWell, "gaussian-mixture": DrivenGaussianMixture}
    if system in steady:   # nonlinear, with a known steady density
        cls = steady[system]
        model = cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})
        return DriftModel(f"{system} (the data's ground truth)", model.drift, np.diag(model.diffusion).copy(),
                          log_density=model.log_density)
    if system in ("aoup", "active-pair", "mips") and not params.get("propulsion"):
        raise CneepError(f"{data.name}: the drift of the positions alone is not known (it depends on the hidden "
                         "propulsion); simulate with --propulsion to write the whole state")
    name = f"{system} (the data's ground truth)"
    if system == "mips":
        return _mips_model(name, params)
    linear = {"bead-spring": BeadSpringChain, "gyrator": BrownianGyrator, "curl-trap": CurlTrap,
              "aoup": TrappedAOUP, "active-pair": ActivePair}
    if system not in linear:
        raise CneepError(f"{data.name}: the drift of a {system} system is not built in; give one with --drift")
    cls = linear[system]
    model = cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})
    if system in ("aoup", "active-pair"):
        layout, dims = _active_layout(len(model.positions) // model.dims, model.dims), model.dims
    else:
        layout, dims = (np.arange(model.dimension)[:, None], 1) if system == "bead-spring" else (
            np.arange(2)[None, :], 2)
    diffusion = np.diag(model.diffusion).copy()
    interacting = system == "aoup" and params.get("integrator") != "exact propagator"
    if interacting:
        rep = Repulsion(**{f.name: params[f.name] for f in fields(Repulsion)})
        drift = _active_drift(model.particles, dims, model.v0, model.gamma, rep, trap=model.trap)
        return DriftModel(name, drift, diffusion, layout, dims, radius=rep.radius,
                          divergence=_active_divergence(model.particles, dims, model.gamma, rep, trap=model.trap))
    a = torch.as_tensor(np.asarray(model.drift), dtype=torch.float32)
    precision = np.linalg.inv(model.covariance)
    return DriftModel(name, lambda x: x @ a.to(x).T, diffusion, layout, dims, exact_score=lambda x: -x @ precision,
                      radius=None)


def _active_layout(particles: int, dims: int) -> np.ndarray:
    """Each particle's position and then its propulsion: all positions come first in the state, then all g."""
    positions = np.arange(particles * dims).reshape(-1, dims)
    return np.concatenate([positions, particles * dims + positions], axis=1)


def _mips_model(name: str, params: dict) -> DriftModel:
    """Active discs in a periodic box (`synth.mips`): diffusion eps on positions (0 in convention B: positions
    noiseless) and gamma on propulsions, forces from the nearest images, their divergence in closed form."""
    from .synth import Repulsion

    n, d, box = params["particles"], params["dims"], params["box"]
    rep = Repulsion(**{f.name: params[f.name] for f in fields(Repulsion)})
    diffusion = np.r_[np.full(n * d, params["eps"]), np.full(n * d, params["gamma"])]
    return DriftModel(name, _active_drift(n, d, params["v0"], params["gamma"], rep, box=box), diffusion,
                      _active_layout(n, d), d, radius=rep.radius, box=box,
                      divergence=_active_divergence(n, d, params["gamma"], rep, box=box))


def _separations(x: torch.Tensor, box: float | None):
    """x_i - x_j (nearest images in a periodic box), |x_i - x_j| and 1 off the diagonal, (batch, N, N[, d])."""
    n = x.shape[1]
    r = x[:, :, None, :] - x[:, None, :, :]
    if box is not None:
        r = r - box * torch.round(r / box)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    dist = torch.sqrt((r ** 2).sum(-1) + eye)   # the self pair kept away from sqrt(0), whose gradient is NaN
    return r, dist, 1 - eye


def _active_drift(n: int, d: int, v0: float, gamma: float, rep, trap: float = 0.0,
                  box: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """b = (v0 g + sum_j f(x_i - x_j) - A x_i, -gamma g) of repelling AOUPs (`synth.aoup_interacting`, and
    without a trap in a periodic box, `synth.mips`), in torch."""

    def drift(z: torch.Tensor) -> torch.Tensor:
        x, g = z[:, :n * d].reshape(-1, n, d), z[:, n * d:].reshape(-1, n, d)
        r, dist, apart = _separations(x, box)
        push = torch.nn.functional.softplus(2 * rep.radius - dist, beta=rep.sharpness) * apart
        f = (rep.repulsion * push / dist)[..., None] * r
        bx = v0 * g + f.sum(2) - trap * x
        return torch.cat([bx.reshape(-1, n * d), (-gamma * g).reshape(-1, n * d)], dim=1)

    return drift


def _active_divergence(n: int, d: int, gamma: float, rep, trap: float = 0.0,
                       box: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """d b_c / d x_c of `_active_drift` in closed form, (batch, n): automatic differentiation would take one
    backward pass per coordinate."""

    def divergence(z: torch.Tensor) -> torch.Tensor:
        # d f_c / d x_c of phi(r) r / r: phi / r + (phi' - phi / r) r_c^2 / r^2, summed over the other particles
        r, dist, apart = _separations(z[:, :n * d].reshape(-1, n, d), box)
        push = rep.repulsion * torch.nn.functional.softplus(2 * rep.radius - dist, beta=rep.sharpness)
        slope = -rep.repulsion * torch.sigmoid(rep.sharpness * (2 * rep.radius - dist))
        over = push / dist
        per = (over[..., None] + ((slope - over) / dist ** 2)[..., None] * r ** 2) * apart[..., None]
        return torch.cat([per.sum(2).reshape(-1, n * d) - trap, torch.full_like(z[:, n * d:], -gamma)], dim=1)

    return divergence
