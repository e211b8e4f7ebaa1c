"""Active Ornstein-Uhlenbeck particles (AOUPs) in a harmonic trap, alone or joined by springs: exact EP.

Particle i at x_i (in `dims` dimensions) carries a propulsion direction g_i that decorrelates at rate gamma
(Boffi & Vanden-Eijnden's parametrisation, <g^2> = 1 per component):

    dx_i = (v0_i g_i - sum_j K_ij x_j) dt + sqrt(2 eps) dW_i,   dg_i = -gamma g_i dt + sqrt(2 gamma) dB_i,

with K the trap A on the diagonal plus any springs between particles. The state z = (x, g) is linear
(`LinearDiffusion`), so everything below is exact. The EP is sum_c <v_c^2> / D_c over the noisy coordinates
(v the mean local velocity, g even under time reversal), and an active system has two conventions:

- sigma_A (eps > 0): positions and propulsions both noisy. It is the path-KL rate of the whole state,
  tr(A^T D^-1 A C) + tr(A), hence an upper bound on anything estimated from positions; for one trapped
  particle it is dims v0^2 gamma / (eps (gamma + A)). This is the `sigma` of the files written here.
- sigma_B (eps = 0, hypoelliptic): only g is noisy, sigma_B = gamma <|g + s_g|^2> with s the score of the
  eps = 0 steady state, equal to -<div_x b_x> = tr(K) dims. It is not a path KL (positions are smooth
  paths whose reverse is impossible) and bounds nothing estimated from data; it is the quantity of Boffi's
  motility-induced phase separation runs, reported here for comparison only.

The propulsion is what a microscope does not see. Positions alone reveal at most sigma_2pt, the two-frame
rate of the position block (`two_frame_rate(observed)`): 0 for one trapped particle, whose positions are a
stationary Gaussian process of one coordinate per axis and hence reversible (an exact equilibrium look-alike
of a dissipating system), and a few percent of sigma_A for the active pair. The per-transition EP written
with the data is the full state's (propulsion included), as for the partially observed ratchet, and an
estimate from positions is also scored against the best EP that its windows of positions reveal, exact for
every window (`positions_window_ep`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy.linalg import solve_continuous_lyapunov

from ..errors import CneepError
from ..params import check, param
from ..trajectories import Trajectories
from .linear import LinearDiffusion, linear_trajectories
from .sampling import Sampling

_TRAP = dict(help="A, stiffness of the harmonic trap (per friction: a relaxation rate)", unit="1/s", above=0,
             label="Trap A")
_V0 = "self-propulsion speed"
_GAMMA = dict(help="gamma, rate at which the propulsion direction decorrelates (persistence time 1/gamma)",
              unit="1/s", above=0, label="Persistence rate γ")
_EPS = dict(help="eps, translational diffusion coefficient (convention A needs it above 0)", unit="µm²/s",
            above=0, label="Translational noise ε")
_DT = dict(help="time between frames", unit="s", above=0, label="Frame interval", decimals=5, step=0.001)


class LinearAOUP(LinearDiffusion):
    """AOUPs coupled linearly: subclasses give `stiffness` (K over particles, per axis), `speeds` (v0 of each
    particle) and the fields dims, gamma, eps and dt. State order: positions (particle-major, axes inner),
    then propulsions in the same order."""

    dims: int
    gamma: float
    eps: float

    stiffness: np.ndarray
    speeds: np.ndarray

    @property
    def positions(self) -> np.ndarray:
        """Indices of the position coordinates in the state (the propulsions follow)."""
        return np.arange(len(self.speeds) * self.dims)

    @property
    def drift(self) -> np.ndarray:
        axes = np.eye(self.dims)
        n = len(self.positions)
        return np.block([[-np.kron(self.stiffness, axes), np.kron(np.diag(self.speeds), axes)],
                         [np.zeros((n, n)), -self.gamma * np.eye(n)]])

    def _noise(self, eps: float) -> np.ndarray:
        n = len(self.positions)
        return np.diag(np.r_[np.full(n, eps), np.full(n, self.gamma)])

    @property
    def diffusion(self) -> np.ndarray:
        return self._noise(self.eps)

    @property
    def sigma_a(self) -> float:
        """EP rate with translational noise eps (convention A): the path-KL rate of positions and propulsions."""
        return self.ep_rate

    @property
    def sigma_b(self) -> float:
        """Hypoelliptic EP rate (convention B) of the same particles at eps = 0: sum over the propulsions of
        <v_g^2> / gamma, v the mean local velocity of the eps = 0 steady state (Lyapunov covariance C0)."""
        a, d = self.drift, self._noise(0.0)
        c0 = solve_continuous_lyapunov(a, -2.0 * d)
        v = a + d @ np.linalg.inv(c0)
        g = np.arange(len(self.positions), 2 * len(self.positions))
        return float(np.diag(v @ c0 @ v.T)[g].sum() / self.gamma)

    @property
    def labels(self) -> list[str]:
        axes = "xyz"[:self.dims]
        names = [f"{a}{i + 1}" for i in range(len(self.speeds)) for a in axes]
        return names + [f"g{n}" for n in names]

    def describe(self) -> dict:
        """Parameters and exact EP figures, JSON-ready."""
        return {**asdict(self), "sigma_A": self.sigma_a, "sigma_B": self.sigma_b,
                "sigma_2pt_positions": self.two_frame_rate(self.positions), "sigma_2pt_all": self.ep_rate_two_frame,
                "convention": "A: translational noise eps, propulsion even under time reversal"}


@dataclass(frozen=True)
class TrappedAOUP(LinearAOUP):
    """Active particles in one harmonic trap, without interactions (`aoup` adds the repulsion)."""

    particles: int = param(8, "number of particles N", low=1, high=1024)
    dims: int = param(2, "spatial dimensions", low=1, high=3)
    trap: float = param(0.05, **_TRAP)
    v0: float = param(0.2, _V0, unit="µm/s", low=0, label="Speed v0")
    gamma: float = param(0.1, **_GAMMA)
    eps: float = param(0.1, **_EPS)
    dt: float = param(0.1, **_DT)

    def __post_init__(self):
        check(self)

    @property
    def stiffness(self) -> np.ndarray:
        return self.trap * np.eye(self.particles)

    @property
    def speeds(self) -> np.ndarray:
        return np.full(self.particles, self.v0)


@dataclass(frozen=True)
class ActivePair(LinearAOUP):
    """Two particles joined by a spring, each in the trap; the second is active, the first passive unless
    given a speed of its own."""

    coupling: float = param(1.0, "k_c, stiffness of the spring between the two particles (per friction)",
                            unit="1/s", low=0, label="Coupling k_c")
    trap: float = param(1.0, **_TRAP)
    v0: float = param(3.0, _V0 + " of the second particle", unit="µm/s", low=0, label="Speed v0")
    v0_first: float = param(0.0, _V0 + " of the first particle (0: passive)", unit="µm/s", low=0,
                            label="Speed of the first")
    gamma: float = param(1.0, **_GAMMA)
    eps: float = param(1.0, **_EPS)
    dims: int = param(1, "spatial dimensions", low=1, high=3)
    dt: float = param(0.01, **_DT)

    def __post_init__(self):
        check(self)

    @property
    def stiffness(self) -> np.ndarray:
        k, a = self.coupling, self.trap
        return np.array([[a + k, -k], [-k, a + k]])

    @property
    def speeds(self) -> np.ndarray:
        return np.array([self.v0_first, self.v0])


@dataclass(frozen=True)
class ActiveSampling(Sampling):
    """Movies of the particles, or trajectories of their positions, or with `--propulsion` of the whole state."""

    propulsion: bool = param(False, "also write the propulsion g of every particle (hidden from a microscope): "
                             "the whole state, whose two-frame rate tends to sigma_A (with --trajectories)",
                             label="Write propulsion")

    def __post_init__(self):
        check(self)
        if self.propulsion and self.trajectories is None:
            raise CneepError("--propulsion writes the propulsion as coordinates, which a movie cannot show: "
                             "add --trajectories N")


def hidden_note(sigma_a: float, sigma_2pt: float | None, movie: bool) -> str:
    """What positions cannot show, in the words of the truth report: sigma_A is out of their reach, and the most
    they reveal is sigma_2pt (None: no exact value)."""
    seen, it, who = (("a movie shows positions only", "it", "a movie estimator") if movie else
                     ("positions only", "them", "an estimator of them"))
    best = ("no exact ceiling of positions is known (sigma_A bounds it from above)" if sigma_2pt is None else
            f"the best {who} can reach is sigma_2pt = {sigma_2pt:.4g} k_B/s")
    return f"{seen}: the propulsion's EP (sigma_A = {sigma_a:.4g} k_B/s) is hidden from {it}; {best}"


def simulate_linear_aoup(model: LinearAOUP, sampling: ActiveSampling, source: str) -> Trajectories:
    """Exact stationary trajectories (exact propagator, no time step) of the positions, or of the whole state
    with `propulsion`; sigma is sigma_A, sigma_2pt that of what is written, ds the whole state's EP."""
    seen = None if sampling.propulsion else model.positions
    params = {"system": source, **model.describe(), "propulsion": sampling.propulsion,
              "integrator": "exact propagator"}
    if seen is not None:
        params["hidden"] = hidden_note(model.sigma_a, model.two_frame_rate(seen), movie=False)
    return linear_trajectories(model, sampling.trajectories, sampling.frames, sampling.seed, model.labels, params,
                               observed=seen)


def positions_window_ep(params: dict):
    """From a sidecar's parameters: for a file of the positions of linear AOUPs, the exact best EP of any window
    of frames of them (`LinearDiffusion.window_ep`), the label an estimator of positions can at most reach;
    None for files that hold the whole state or interacting particles, and for movies (their windows are frames;
    the transitions of a movie's sidecar are already the positions' own)."""
    model_class = {"aoup": TrappedAOUP, "active-pair": ActivePair}.get(params.get("system"))
    if (model_class is None or params.get("propulsion") or params.get("integrator") != "exact propagator"
            or "renderer" in params):
        return None
    model = model_class(**{f.name: params[f.name] for f in fields(model_class)})
    return lambda windows: model.window_ep(windows, model.positions)
