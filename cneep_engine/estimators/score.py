"""Score-based EP of a known model (Boffi & Vanden-Eijnden): learn grad ln rho from snapshots, then the EP.

For dx = b(x) dt + sqrt(2 D) dW (D diagonal) with steady density rho, the mean local velocity is v = b - D s, with
s = grad ln rho the score, and the EP rate is sigma = sum over noisy coordinates of <v_c^2> / D_c (k_B = 1). b and D
are given (`drift_models`); s is learned from the training snapshots by denoising score matching with antithetic
noise (the snapshots blurred by noise * std per coordinate; the score learned is that of the blurred density, a
small bias for small noise) or by the exact-divergence (Hyvarinen) loss <|s|^2 + 2 div s>, each coordinate weighted
by its variance so that all count alike. The network learns only the correction to D^-1 b: s = D^-1 b + n(x), so
v = -D n, 0 at the start. Only the noisy coordinates' score enters the EP, so only they are learned: a noiseless
coordinate (hypoelliptic dynamics, such as active particles without translational noise, whose EP is
sigma_B = gamma <|g + s_g|^2>) is neither blurred nor scored, and the network learns the score of the noisy
coordinates given it. The network kept is the one with the highest lower bound (below) on validation snapshots.

Reported on the held-out test snapshots, with bootstrap errors over blocks of them:
- ep_rate: the direct estimate <v^T D^-1 v>, its first-order error -2 <v . (s - s*)>, hence no bound;
- bounds.lower: <b^T D^+ b> + 2 <div b> - <s^T D s + 2 div (D s)> = sigma - <|s - s*|^2_D>, the divergences and
  D^+ over the noisy coordinates, below sigma for any s;
- static_rate: <b^T D^+ b> + 2 <div_noisy b> - <div b>, equal to sigma (the system entropy does not change on
  average in a steady state: <s^T D s> = -<div b>), without any learning: the built-in cross-check. With every
  coordinate noisy it is <b^T D^-1 b> + <div b>; for active particles without translational noise, -<div_x b_x>;
- densities: <v_c^2> / D_c of each coordinate, and summed per particle; the probability current on a grid, the
  particles of one test snapshot with their EP there, and the EP binned by position and local packing fraction
  (`flow_fields`);
- exact_score_rate: the same direct estimate with the exact score, where the model is linear (s* = -C^-1 x).
The EP of each transition (the ep trace) is v(x_mid)^T D^-1 dx, shown where the frames resolve transitions
(`verdict.resolves`); the equilibrium test is the lower bound's (`verdict.bound_test`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from ..device import describe_device, resolve_device
from ..drift_models import DriftModel, check_drift
from ..errors import CneepError
from ..models.score_nets import ParticleTransformer, ScoreMLP, load_network
from ..progress import Callback
from ..trajectories import Trajectories
from ..windows import window_starts
from .base import TEST, Estimate, Transitions, block_sums, bootstrap_error, held_out_blocks
from .flow_fields import binned_ep, current_field, particle_snapshot
from .model_known import ModelKnownConfig, fit_network, single_thread

TRAIN, VAL = 0, 1
EVAL_BATCH = 4096
TRANSFORMER_FROM = 8   # particles from which network "auto" is the transformer
VAL_SNAPSHOTS = 8192   # validation snapshots (a fixed random subset) showing the network's EP rate
# The network kept is the one of the highest lower bound on the first of these: sigma minus the score's squared error
# in the EP's metric, which the denoising noise does not bias. At a small noise the denoising loss no longer tells
# networks apart whose rates differ by 10% (64 trapped AOUPs: its lowest came at a rate 8% low, the bound's highest
# 3% low). The bound takes one backward pass per coordinate, so the subset is VAL_BOUND_WORK / coordinates snapshots
# for the MLP (0.05 s on 16 coordinates) and VAL_BOUND_PARTICLES / particles for the transformer, which needs a pass
# per coordinate of a particle (about 30 s for 300 snapshots of 64 AOUPs on one CPU core).
VAL_BOUND_WORK = 16_384
VAL_BOUND_PARTICLES = 32_768
FORCE_SNAPSHOTS = 1024   # training snapshots that standardise the forces given to the transformer (`_forces`)


def estimate_score(data: Trajectories, split: np.ndarray, settings: ModelKnownConfig, config, drift: DriftModel,
                   callback: Callback | None = None, cancel: threading.Event | None = None) -> Estimate:
    """Train the score network on the training snapshots of `split` (validated on the validation part, see
    `model_known.fit_network`) and estimate the EP on the test part."""
    x = np.asarray(data.data, np.float64)
    if not np.isfinite(x).all():
        raise CneepError(f"{data.name}: the snapshots contain NaN or infinite values")
    labels = np.asarray(split)
    device = resolve_device(config.device)
    train, val = (torch.as_tensor(x[labels == p], dtype=torch.float32) for p in (TRAIN, VAL))
    if len(train) < 2 or len(val) < 1:
        raise CneepError(f"{data.name}: too few snapshots to train and validate a score network")
    std = train.std(0).numpy()
    std = np.where(std > 0, std, 1.0)
    d = torch.as_tensor(drift.diffusion, dtype=torch.float32, device=device)
    d_inv = torch.where(d > 0, 1 / torch.where(d > 0, d, 1.0), 0.0)
    noisy = d > 0

    def score(net, z):
        return drift.drift(z) * d_inv + net(z)

    net, start = _network(settings, drift, train.numpy(), std, config.seed)
    net, train, val = net.to(device), train.to(device), val.to(device)
    check_drift(drift, train[:4])
    loss = (_denoising(score, torch.as_tensor(_blur(settings, drift, std), dtype=torch.float32, device=device) * noisy)
            if settings.score_loss == "denoising"
            else _divergence(drift, d_inv, torch.as_tensor(std ** 2, dtype=torch.float32, device=device) * noisy))
    n_val = len(val)   # of which a fixed subset validates: a validation costs the same on any data set
    pick = torch.randperm(len(val), generator=torch.Generator().manual_seed(config.seed))[:VAL_SNAPSHOTS]
    val = val[pick.to(device)]

    bounded = val[:max(1, VAL_BOUND_WORK // drift.n if isinstance(net, ScoreMLP)
                       else VAL_BOUND_PARTICLES // len(drift.layout))]

    def val_rates(net) -> dict:
        return {"val_rate": float(_velocity(net, val, d).pow(2).mul(d_inv).sum(1).mean()),
                "val_lower": float(_test_terms(net, drift, bounded, d, d_inv)[1]["lower"].mean())}

    with single_thread(isinstance(net, ScoreMLP)):
        fitted = fit_network(net, loss, train, val, config, callback, cancel, rates=val_rates, select="val_lower")
        return _report(data, x, labels, settings, config, drift, fitted, n_val, len(train), start, d, d_inv)


def _report(data, x, labels, settings, config, drift, fitted, n_val, n_train, start, d, d_inv):
    """The estimate on the test snapshots of the fitted network (see the module's docstring), computed on the
    network's device; the network returned is on the CPU."""
    net = fitted.network

    test_mask = labels == TEST
    test_x = x[test_mask]
    series, frame = np.nonzero(test_mask)
    test = torch.as_tensor(test_x, dtype=torch.float32, device=d.device)
    v, terms = _test_terms(net, drift, test, d, d_inv)
    exact = None
    if drift.exact_score is not None:
        b = torch.cat([drift.drift(c) for c in test.split(EVAL_BATCH)]).cpu().numpy().astype(np.float64)
        v_exact = b - drift.diffusion * drift.exact_score(test_x)
        exact = v_exact ** 2 * d_inv.numpy().astype(np.float64)
    per_snapshot = [terms["ep"], terms["static"], terms["lower"]] + ([exact.sum(1)] if exact is not None else [])
    held = Transitions(test_x, test_x, series, frame)
    block = held_out_blocks(held, data.name, *per_snapshot)
    columns = np.column_stack(per_snapshot + [terms["densities"]] + ([exact] if exact is not None else []))
    sums = block_sums(block, lambda b: np.r_[columns[b].sum(0), b.stop - b.start])

    def mean_of(i):
        return lambda t: t[i] / t[-1]

    total = sums.sum(0)
    err = lambda i: bootstrap_error(sums, mean_of(i), settings.bootstrap, config.seed)  # noqa: E731
    n = drift.n
    densities = total[len(per_snapshot):len(per_snapshot) + n] / total[-1]
    details = {
        "drift": drift.name,
        "device": describe_device(d.device),
        "static_rate": float(total[1] / total[-1]),
        "static_rate_err": err(1),
        "bounds": {"lower": float(total[2] / total[-1]), "upper": None},
        "lower_bound_err": err(2),
        "densities": densities.tolist(),
        "snapshots": {"train": n_train, "val": n_val, "test": len(test_x)},
        "training": {"iterations": fitted.iterations, "best_iteration": fitted.best_iteration,
                     "stopped": fitted.stopped, "loss": settings.score_loss, "network": net.describe()},
        "current": current_field(test_x, v, drift.diffusion, drift.layout, drift.dims, data.coordinate_labels),
    }
    if drift.layout is not None:
        per_particle = terms["densities"][:, drift.layout].sum(-1)     # (snapshots, particles)
        details["particle_densities"] = per_particle.mean(0).tolist()
        details["binned"] = binned_ep(test_x, per_particle, drift.layout, drift.dims, drift.radius,
                                      drift.box)
        snapshot = particle_snapshot(test_x[0], per_particle[0], drift.layout, drift.dims, drift.radius)
        if snapshot is not None:
            details["particles"] = snapshot
    if exact is not None:
        details["exact_score_rate"] = float(total[3] / total[-1])
        details["exact_score_rate_err"] = err(3)
        details["exact_score_densities"] = (total[-1 - n:-1] / total[-1]).tolist()
    if start is not None:
        details["start_rate"] = fitted.history[0].val_rate   # fit_network validates the network it starts from
        details["start_from"] = start
    ds_by_coordinate = _transition_terms(net, x, labels, d, d_inv)
    return Estimate(rate=float(total[0] / total[-1]), rate_err=err(0), transitions=len(test_x), blocks=len(sums),
                    ds=ds_by_coordinate.sum(1), ds_by_coordinate=ds_by_coordinate, details=details, network=net.cpu(),
                    history=fitted.history)


def load_score_network(path: Path, drift: DriftModel):
    """A saved score network (`save_network`) made ready for the data of `drift`: a transformer gets their layout,
    box and forces."""
    net = load_network(path)
    if not isinstance(net, ParticleTransformer):
        if len(net.mean) != drift.n:
            raise CneepError(f"{path}: a network of {len(net.mean)} coordinates, the data have {drift.n}")
        return net
    if drift.layout is None or drift.layout.shape[1] != net.k or drift.dims != net.dims:
        raise CneepError(f"{path}: a network of particles with {net.k} coordinates each ({net.dims} of position), "
                         "which these data do not have")
    if (net.box is None) != (drift.box is None):
        raise CneepError(f"{path}: a network of particles {'not ' if net.box is None else ''}in a periodic box, "
                         f"which these data are{' not' if net.box is not None else ''}")
    forces = _forces(drift)
    if len(net.force_std) and forces is None:
        raise CneepError(f"{path}: a network given the forces on particles without noise in their positions, "
                         "which these data do not have")
    return net.set_layout(drift.layout, drift.box).set_forces(forces)


def _blur(settings: ModelKnownConfig, drift: DriftModel, std: np.ndarray) -> np.ndarray:
    """Denoising noise per coordinate: settings.noise standard deviations, or for the particles' positions
    settings.position_noise radii where given."""
    sigma = settings.noise * std
    if settings.position_noise:
        if drift.layout is None or not drift.radius:
            raise CneepError(f"{drift.name}: --position-noise is in units of the particles' radius, which this "
                             "model does not have; use --noise")
        sigma[drift.layout[:, :drift.dims]] = settings.position_noise * drift.radius
    return sigma


def _network(settings: ModelKnownConfig, drift: DriftModel, train: np.ndarray, std: np.ndarray, seed: int):
    """The network to train, and where it came from (None: new)."""
    if settings.start_from:
        return load_score_network(Path(settings.start_from) / "network.pt", drift), str(settings.start_from)
    torch.manual_seed(seed)
    particles = 0 if drift.layout is None else len(drift.layout)
    kind = settings.network
    if kind == "auto":
        kind = "transformer" if particles >= TRANSFORMER_FROM else "mlp"
    if kind == "mlp":
        return ScoreMLP(train.mean(0), std, settings.width, settings.blocks), None
    if drift.layout is None:
        raise CneepError(f"{drift.name}: the transformer needs particles (a layout); this model has none, use the "
                         "MLP (--network mlp)")
    lay = drift.layout
    # Positions in radii where the particles have one: a contact is then equally wide in the network's inputs
    # whatever the spread of the positions, which is the box's in a periodic box and grows with N in a trap (4.3 at
    # N = 64 against 2.9 at 8; in the spread's units the N = 64 transformer took 1000 steps to the validation loss
    # it reached within 400 in radii).
    scale = drift.radius or (1.0 if drift.box is not None else float(np.sqrt(np.mean(std[lay[:, :drift.dims]] ** 2))))
    other = std[lay[:, drift.dims:]].mean(0) if lay.shape[1] > drift.dims else np.ones(0)
    forces = _forces(drift)
    force_std = None
    if forces is not None:
        with torch.no_grad():
            given = forces(torch.as_tensor(train[:FORCE_SNAPSHOTS], dtype=torch.float32)).std((0, 1)).numpy()
        force_std = np.where(given > 0, given, 1.0)
    net = ParticleTransformer(lay.shape[1], drift.dims, scale, other, settings.width, settings.blocks,
                              neighbours=settings.neighbours, box=drift.box, force_std=force_std)
    return net.set_layout(lay, drift.box).set_forces(forces), None


def _forces(drift: DriftModel):
    """Where some coordinates have no noise (active discs in convention B: noiseless positions), the drift with the
    noisy ones set to 0, per particle (B, N, k): for active discs the interaction force on each, on which the
    propulsions' score depends sharply (force balance, v0 g = -F, holds to a few per cent in a cluster) and which
    the transformer would otherwise have to learn from contacts a thirtieth of a radius wide. It depends on the
    noiseless coordinates only, so the divergence in the noisy ones is unchanged. None where every coordinate is
    noisy."""
    noisy = torch.as_tensor(drift.diffusion > 0)
    if noisy.all():
        return None
    layout = torch.as_tensor(drift.layout)

    def forces(z: torch.Tensor) -> torch.Tensor:
        return drift.drift(z * ~noisy.to(z.device))[:, layout.to(z.device)]
    return forces


def _denoising(score, sigma: torch.Tensor):
    """Antithetic denoising score matching, coordinate c weighted by sigma_c^2: sum_c (sigma_c s_c(z + sigma zeta)
    + zeta_c)^2 and its mirror at -zeta, halved; coordinates with sigma_c = 0 are left out."""
    scored = sigma > 0

    def loss(net, z, gen):
        zeta = torch.randn(z.shape, generator=gen, dtype=z.dtype, device=z.device)
        plus = sigma * score(net, z + sigma * zeta) + zeta
        minus = sigma * score(net, z - sigma * zeta) - zeta
        return 0.5 * (plus ** 2 + minus ** 2)[:, scored].sum(1).mean()
    return loss


def _divergence(drift: DriftModel, d_inv: torch.Tensor, weight: torch.Tensor):
    """Hyvarinen's implicit score matching, <sum_c w_c (s_c^2 + 2 d s_c / d x_c)>, exact divergence; coordinates
    with w_c = 0 are left out. s = D^-1 b + n: the drift's part of the divergence is known, the network's its own
    (`diagonal`: for the transformer a backward pass per coordinate of a particle, not of the state, which at 64
    discs would hold 128 graphs and needed more than 24 GB)."""
    scored = (weight > 0).cpu().numpy()

    def loss(net, z, gen):
        b, div_b = drift.drift_and_divergence(z)
        s = b * d_inv + net(z)
        div = d_inv * div_b + net.diagonal(z, columns=scored, create_graph=True)
        return (weight * (s ** 2 + 2 * div)).sum(1).mean()
    return loss


def _velocity(net, z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """v = b - D s = -D n(z), in batches, without gradients."""
    with torch.no_grad():
        return torch.cat([-d * net(c) for c in z.split(EVAL_BATCH)])


def _test_terms(net, drift: DriftModel, z: torch.Tensor, d: torch.Tensor, d_inv: torch.Tensor):
    """Per held-out snapshot: v, and the EP, each coordinate's density, the static value and the lower bound's
    integrand b^T D^+ b + 2 div_noisy b - s^T D s - 2 div(D s)."""
    noisy = (d > 0).cpu().numpy()
    v, parts = [], {"ep": [], "densities": [], "static": [], "lower": []}
    for c in z.split(EVAL_BATCH):
        b, div_b = drift.drift_and_divergence(c)
        with torch.no_grad():
            n = net(c)
        div_n = net.diagonal(c, columns=noisy)
        s = b * d_inv + n
        vc = -d * n
        dens = vc ** 2 * d_inv
        bdb = (b ** 2 * d_inv).sum(1)
        noisy_div_b = (div_b * (d > 0)).sum(1)
        v.append(vc)
        parts["ep"].append(dens.sum(1))
        parts["densities"].append(dens)
        parts["static"].append(bdb + 2 * noisy_div_b - div_b.sum(1))
        parts["lower"].append(bdb + 2 * noisy_div_b - (s ** 2 * d).sum(1) - 2 * (noisy_div_b + (d * div_n).sum(1)))
    return torch.cat(v).double().cpu().numpy(), {k: torch.cat(p).double().cpu().numpy() for k, p in parts.items()}


def _transition_terms(net, x: np.ndarray, labels: np.ndarray, d: torch.Tensor,
                      d_inv: torch.Tensor) -> np.ndarray:
    """v_c(x_mid) dx_c / D_c of every transition, in `window_starts(labels, 2)` order."""
    starts, _ = window_starts(labels, 2)
    flat = x.reshape(-1, x.shape[-1])
    x0, x1 = (torch.as_tensor(flat[s], dtype=torch.float32, device=d.device) for s in (starts, starts + 1))
    v = _velocity(net, (x0 + x1) / 2, d)
    return (v * d_inv * (x1 - x0)).double().cpu().numpy()
