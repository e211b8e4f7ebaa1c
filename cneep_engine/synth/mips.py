"""Motility-induced phase separation (MIPS): active discs in a periodic box (Boffi & Vanden-Eijnden's setting).

N discs of radius R in a periodic square box of side L = sqrt(N pi R^2 / phi), without a trap, move as AOUPs
repelling each other with the soft core of `aoup` (`Repulsion`):

    dx_i = (v0 g_i + sum_j f(x_i - x_j)) dt + sqrt(2 eps) dW_i,   dg_i = -gamma g_i dt + sqrt(2 gamma) dB_i.

Persistent enough (v0 / gamma >> R) and stiff enough (large beta), they split into a dense and a dilute phase:
at phi 0.6, v0 0.05, gamma 5e-4, beta 30, k 1 the local packing fraction is bimodal, about 0.25 and 0.85, after
a time of about 20 / gamma from a uniform start. The EP has no closed form; it is a mean over the snapshots:

- eps = 0 (convention B, hypoelliptic; Boffi's MIPS runs): sigma_B = -<div_x b_x>, particle i's heat density
  e_i = -div_{x_i} b_{x_i}. Not a path KL (smooth positions cannot run backwards): it bounds nothing estimated from
  data, and it counts overlaps, so it is not an order parameter either (about the same with or without phases);
- eps > 0 (convention A): sigma_A = <|b_x|^2> / eps + <div_x b_x>, e_i = |b_{x_i}|^2 / eps + div_{x_i} b_{x_i},
  the path-KL rate and an upper bound on estimates from positions; also as the per-step medium sum, as `aoup`.

Both are averaged over the snapshots written. Spaced by 1/gamma or more they are nearly independent and the
standard error treats them so; closer (the frames of a movie) only whole runs are, and the error is over runs
(none from one). Each snapshot also keeps every particle's heat density and its local packing
fraction (discs centred within 6 R, over that disc's area), to bin the EP by phase. Positions follow Euler-Maruyama
(at dt 0.1 the contacts' stiffness times dt is about 0.6: the phases are right, the EP only qualitative; dt <= 0.02
for numbers), the propulsion decays exactly. Forces come from a neighbour list (`neighbours`): about a millisecond
per step at N = 1024, minutes per run, with progress reported and a cancel obeyed between steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..errors import CneepError
from ..movie import GroundTruth
from ..params import check, param, redefault
from ..progress import Callback, PhaseReporter
from ..trajectories import Trajectories
from .aoup import _GAMMA, _V0, ActiveSampling, hidden_note
from .aoup_interacting import SKIN, Repulsion, pair_forces
from .neighbours import NeighbourList, wrap
from .sampling import mean_and_error

DIMS = 2
PACKING_RADIUS = 6.0  # the local packing fraction counts discs centred within this many R
REPORT_EVERY = 64     # steps between progress reports and cancel checks


@dataclass(frozen=True)
class ActiveDiscs:
    """Active discs in a periodic square box whose side follows from their number and packing fraction."""

    particles: int = param(1024, "number of particles N", low=2, high=100_000)
    packing: float = param(0.6, "phi, packing fraction N pi R^2 / L^2; the box side L follows", above=0, high=1,
                           label="Packing fraction φ")
    v0: float = param(0.05, _V0, unit="µm/s", low=0, label="Speed v0")
    gamma: float = param(5e-4, **{**_GAMMA, "decimals": 6, "step": 1e-4})
    eps: float = param(0.0, "eps, translational diffusion coefficient: 0 is the hypoelliptic convention B "
                       "(sigma_B = -<div_x b_x>, Boffi's), above 0 convention A (sigma_A, the path-KL rate)",
                       unit="µm²/s", low=0, label="Translational noise ε", decimals=4, step=0.001)
    time_step: float = param(0.1, "Euler-Maruyama time step (0.1 phase-separates in minutes but gives the EP only "
                             "qualitatively; 0.02 or less for numbers)", unit="s", above=0, decimals=4, step=0.01)

    def __post_init__(self):
        check(self)

    def box(self, radius: float) -> float:
        return float(np.sqrt(self.particles * np.pi * radius ** 2 / self.packing))


@dataclass(frozen=True)
class DiscRepulsion(Repulsion):
    """The soft repulsion between discs, stiff enough by default for the phases to separate."""

    repulsion: float = redefault(Repulsion, "repulsion", 1.0)
    sharpness: float = redefault(Repulsion, "sharpness", 30.0)


@dataclass(frozen=True)
class SnapshotSampling(ActiveSampling):
    """Independent runs from a uniform start, each burnt in until the phases form, then frames of a movie or
    snapshots of the coordinates."""

    movies: int = param(1, "movies to render, each from its own uniform start and burn-in", low=1, high=1000)
    trajectories: int | None = param(None, "write this many runs' coordinates instead of movies (.npy, .npz or "
                                     ".csv), each from its own uniform start and burn-in", low=1, high=1000)
    frames: int = param(200, "frames (or snapshots) per run", low=2, high=1_000_000)
    interval: float = param(0.5, "time between frames, rounded to whole time steps (0: every step). A movie wants "
                            "frames close in time: a few time steps (0.5 s: the contacts relax in about 0.2 s, "
                            "a free disc moves v0 x 0.5 s = 0.025 R); snapshots of coordinates for a score model "
                            "want 1/gamma (2000 s) or more, nearly independent", unit="s", low=0)
    burn_in: float = param(40_000.0, "time simulated from the uniform start before the first frame, for the "
                           "phases to form (about 20/gamma)", unit="s", low=0)
    propulsion: bool = param(False, "also write every particle's propulsion g (hidden from a microscope): the "
                             "whole state (with --trajectories)", label="Write propulsion")


def positions_note(sigma: float, hypoelliptic: bool, movie: bool) -> str:
    """What the discs' positions (coordinates, or a movie) show of sigma, in the words of the truth report:
    sigma_A only bounds an estimate from above, sigma_B bounds nothing; neither has an exact ceiling."""
    if not hypoelliptic:
        return hidden_note(sigma, None, movie)
    seen, it, shows = (("a movie shows the discs' positions only", "it", "it shows") if movie else
                       ("positions only", "them", "they show"))
    return (f"{seen}: sigma_B = {sigma:.4g} k_B/s (eps = 0) is not a path-KL rate and bounds nothing an estimator "
            f"of {it} finds; no exact ceiling of what {shows} is known")


def local_packing(x: np.ndarray, box: float, radius: float) -> np.ndarray:
    """Each disc's local packing fraction: the discs centred within PACKING_RADIUS R of it (itself included),
    times their area, over that disc's area."""
    counts = cKDTree(x, boxsize=box).query_ball_point(x, PACKING_RADIUS * radius, return_length=True)
    return counts / PACKING_RADIUS ** 2


def simulate_mips(model: ActiveDiscs, repulsion: Repulsion, sampling: SnapshotSampling,
                  callback: Callback | None = None, cancel=None) -> Trajectories:
    """Snapshots of every run (positions, with `propulsion` also g) with sigma (sigma_B at eps = 0, else
    sigma_A) and each particle's heat density and local packing fraction in the ground truth. `callback` receives
    `Progress` events of the phase "simulation" (time steps); setting `cancel` raises `Cancelled`."""
    m, n, d, frames = sampling.series, model.particles, DIMS, sampling.frames
    box, radius, h = model.box(repulsion.radius), repulsion.radius, model.time_step
    cutoff, skin = repulsion.reach, SKIN * radius
    if cutoff + skin >= box / 2:
        raise CneepError(f"--particles {n} at --packing {model.packing:g} make a box of side {box:.3g}, too small "
                         f"for discs that interact up to {cutoff:.3g} apart: take more particles")
    between = max(1, round(sampling.interval / h))
    burn = round(sampling.burn_in / h)
    steps = burn + (frames - 1) * between
    report = PhaseReporter("simulation", m * steps, callback, cancel, what="simulating mips", unit="time steps",
                           consequence=": nothing written")
    hypoelliptic = model.eps == 0
    decay = np.exp(-model.gamma * h)
    kick, noise = np.sqrt(1 - decay ** 2), np.sqrt(2 * model.eps * h)
    written = 2 if sampling.propulsion else 1
    out = np.empty((m, frames, written, n, d))
    heat, packing = np.empty((m, frames, n)), np.empty((m, frames, n))
    medium = np.zeros((m, frames - 1))
    rng = np.random.default_rng(sampling.seed)
    for run in range(m):
        x, g = rng.uniform(0, box, (n, d)), rng.standard_normal((n, d))
        neighbours = NeighbourList(box, cutoff, skin)
        b = model.v0 * g + pair_forces(x, *neighbours.pairs(x), box, repulsion)
        for t in range(steps + 1):
            if t % REPORT_EVERY == 0:
                report(run * steps + t)
            if t >= burn and (t - burn) % between == 0:
                k = (t - burn) // between
                _, div = pair_forces(x, *neighbours.pairs(x), box, repulsion, divergence=True)
                heat[run, k] = -div if hypoelliptic else (b ** 2).sum(1) / model.eps + div
                packing[run, k] = local_packing(x, box, radius)
                out[run, k, 0] = x
                if sampling.propulsion:
                    out[run, k, 1] = g
            if t == steps:
                break
            step = b * h + (0.0 if hypoelliptic else noise * rng.standard_normal(x.shape))
            x_next = wrap(x + step, box)
            g = decay * g + kick * rng.standard_normal(g.shape)
            b_next = model.v0 * g + pair_forces(x_next, *neighbours.pairs(x_next), box, repulsion)
            if t >= burn and not hypoelliptic:   # heat over eps, trapezoid (Stratonovich)
                medium[run, (t - burn) // between] += ((b + b_next) * step).sum() / (2 * model.eps)
            x, b = x_next, b_next
    report(m * steps)

    frame_dt = between * h
    independent = frame_dt >= 1 / model.gamma   # closer snapshots are correlated: only whole runs are independent
    sigma, sigma_err = mean_and_error(heat.sum(2).reshape(-1) if independent else heat.sum(2).mean(1))
    name = "B" if hypoelliptic else "A"
    convention = ("B: hypoelliptic, eps = 0, only the propulsion noisy; sigma_B = -<div_x b_x> is not a path-KL "
                  "rate and bounds no estimate from data" if hypoelliptic else
                  "A: translational noise eps, propulsion even under time reversal; sigma_A bounds estimates from "
                  "positions")
    params = {"system": "mips", **asdict(model), **asdict(repulsion), **asdict(sampling), "dims": d, "box": box,
              "dt": frame_dt, "steps_between": between, "neighbour_list_skin": skin, "interaction_cutoff": cutoff,
              "integrator": "Euler-Maruyama positions, exact propulsion decay", "convention": convention,
              "sigma_label": f"σ_{name}", f"sigma_{name}": sigma, "sigma_err": sigma_err,
              "sigma_per_particle": sigma / n,
              "sigma_per_particle_err": None if sigma_err is None else sigma_err / n,
              "particle_truth": {"heat": f"each particle's heat density e_i (sum over particles: sigma_{name})",
                                 "packing": f"local packing fraction within {PACKING_RADIUS:g} R"},
              "sigma_exact": False, "sigma_2pt_exact": False}
    if not sampling.propulsion:
        params["hidden"] = positions_note(sigma, hypoelliptic, movie=False)
    if hypoelliptic:   # no EP of a transition exists: each holds the mean
        ds = np.full((m, frames - 1), sigma * frame_dt)
        params["ds"] = "sigma_B times the interval: convention B has no EP per transition"
    else:
        ds = medium
        params["sigma_A_medium"], params["sigma_A_medium_err"] = mean_and_error(medium.mean(1) / frame_dt)
        params["ds"] = "medium EP over each interval, per-step trapezoid sum"
    axes = "xy"
    labels = [f"{a}{i + 1}" for i in range(n) for a in axes]
    labels += [f"g{s}" for s in labels] if sampling.propulsion else []
    truth = GroundTruth(ds=ds, sigma=sigma, sigma_2pt=sigma, params=params,
                        particles={"heat": heat, "packing": packing})
    return Trajectories(data=out.reshape(m, frames, written * n * d), dt=frame_dt, dt_source="metadata",
                        labels=labels, truth=truth, provenance={"format": "simulated", "source": "mips"})
