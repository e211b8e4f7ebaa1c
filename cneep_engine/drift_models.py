"""The known model behind snapshots: a drift b(x) and a constant diagonal diffusion D, for model-known estimators.

A model-known estimator (score, EPR-Net) learns what the data leave unknown (the score of the stationary density,
a potential) and takes the dynamics dx = b(x) dt + sqrt(2 D) dW as given. A `DriftModel` carries that dynamics:

    model = drift_model(data, "")              # the data's own system, rebuilt from its ground truth
    model = drift_model(data, "my_drift.py")   # a Python file defining drift(x) and D
    model = drift_model(data, "sfi_run")       # the Ito drift fitted by an sfi run (linear force inference)
    model.drift(x)                             # torch float32 (batch, n) -> (batch, n), differentiable
    model.diffusion                            # (n,) numpy, D_c >= 0

A drift file is plain Python:

    import torch
    D = [1.0, 10.0]                       # one number per coordinate, or one for all
    def drift(x):                         # x: torch tensor (batch, n), float32; returns (batch, n)
        return torch.stack([-2 * x[:, 0] + x[:, 1], x[:, 0] - 2 * x[:, 1]], dim=1)
    dims = 2                              # optional: coordinates are particles' positions, `dims` per particle
    radius = 1.0                          # optional: the particles' radius, for the local packing fraction

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
    up to a constant) of a system that has one, to score a learned landscape."""

    name: str
    drift: Callable[[torch.Tensor], torch.Tensor]
    diffusion: np.ndarray
    layout: np.ndarray | None = None
    dims: int = 1
    exact_score: Callable[[np.ndarray], np.ndarray] | None = None
    radius: float | None = None
    log_density: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def n(self) -> int:
        return len(self.diffusion)

    def drift_and_divergence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """b(x) and its per-coordinate derivatives d b_c / d x_c, (batch, n) each, by automatic differentiation."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            b = self.drift(x)
            return b.detach(), diagonal_jacobian(b, x)


def diagonal_jacobian(y: torch.Tensor, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """d y_c / d x_c of a batch of maps (batch, n) -> (batch, n): one backward pass per coordinate (rows of a
    batch are independent, so the gradient of the batch sum is each row's)."""
    out = [torch.autograd.grad(y[:, c].sum(), x, retain_graph=True, create_graph=create_graph)[0][:, c]
           for c in range(y.shape[1])]
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
    x = torch.as_tensor(np.asarray(data.data[0, :4]), dtype=torch.float32)
    try:
        b = model.drift(x)
    except CneepError:
        raise
    except Exception as e:   # a user's code can fail in any way; its message says how
        raise CneepError(f"{model.name}: drift(x) failed on a batch of shape {tuple(x.shape)} "
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
    return _sized(DriftModel(name=f"{folder} (sfi drift)", drift=lambda x: x @ at.T + bt,
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
    linear = {"bead-spring": BeadSpringChain, "gyrator": BrownianGyrator, "curl-trap": CurlTrap,
              "aoup": TrappedAOUP, "active-pair": ActivePair}
    if system not in linear:
        raise CneepError(f"{data.name}: the drift of a {system} system is not built in; give one with --drift")
    cls = linear[system]
    model = cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})
    active = system in ("aoup", "active-pair")
    if active and not params.get("propulsion"):
        raise CneepError(f"{data.name}: the drift of the positions alone is not known (it depends on the hidden "
                         "propulsion); simulate with --propulsion to write the whole state")
    if active:
        layout = np.concatenate([model.positions.reshape(-1, model.dims),
                                 len(model.positions) + model.positions.reshape(-1, model.dims)], axis=1)
        dims = model.dims
    else:
        layout, dims = (np.arange(model.dimension)[:, None], 1) if system == "bead-spring" else (
            np.arange(2)[None, :], 2)
    diffusion = np.diag(model.diffusion).copy()
    name = f"{system} (the data's ground truth)"
    interacting = system == "aoup" and params.get("integrator") != "exact propagator"
    if interacting:
        rep = Repulsion(**{f.name: params[f.name] for f in fields(Repulsion)})
        return DriftModel(name, _aoup_drift(model, rep), diffusion, layout, dims, radius=rep.radius)
    a = torch.as_tensor(np.asarray(model.drift), dtype=torch.float32)
    precision = np.linalg.inv(model.covariance)
    return DriftModel(name, lambda x: x @ a.T, diffusion, layout, dims, exact_score=lambda x: -x @ precision,
                      radius=None)


def _aoup_drift(model, rep) -> Callable[[torch.Tensor], torch.Tensor]:
    """b = (v0 g + sum_j f(x_i - x_j) - A x_i, -gamma g) of repelling AOUPs (`synth.aoup_interacting`), in torch."""
    n, d = model.particles, model.dims

    def drift(z: torch.Tensor) -> torch.Tensor:
        x, g = z[:, :n * d].reshape(-1, n, d), z[:, n * d:].reshape(-1, n, d)
        r = x[:, :, None, :] - x[:, None, :, :]
        eye = torch.eye(n, dtype=z.dtype, device=z.device)
        dist = torch.sqrt((r ** 2).sum(-1) + eye)   # the self pair kept away from sqrt(0), whose gradient is NaN
        push = torch.nn.functional.softplus(2 * rep.radius - dist, beta=rep.sharpness) * (1 - eye)
        f = (rep.repulsion * push / dist)[..., None] * r
        bx = model.v0 * g + f.sum(2) - model.trap * x
        return torch.cat([bx.reshape(-1, n * d), (-model.gamma * g).reshape(-1, n * d)], dim=1)

    return drift
