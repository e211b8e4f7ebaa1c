"""Discrete flashing ratchet: a Markov chain whose entropy production is known exactly.

A particle on a ring of three sites x = 0, 1, 2 feels a sawtooth potential V_x = (0, V, 2V) (in units of
k_B T) that switches on and off at rate r. The six states are (x, on) = 0, 1, 2 and (x, off) = 3, 4, 5.
Jump rates: x -> y with the potential on exp(-(V_y - V_x) / 2), with it off 1, and on <-> off r. The
observed series is the embedded jump chain, P(s -> s') = k(s -> s') / sum_s'' k(s -> s'') (NEEP, PRL 125,
140604; Roldan & Parrondo, PRL 105, 150607). Everything below is exact:

- the stationary distribution p and the EP per step sum p(s) P(s->s') ln[P(s->s') / P(s'->s)]
  (0.21307 at V = 2, r = 1);
- the EP of each observed transition, ln[p(s) P(s->s') / (p(s') P(s'->s))], whose system part has the
  sign of ln p(s) / p(s');
- for the partially observed ratchet (position only, on/off hidden) the EP per step that frame pairs
  reveal, the KL divergence between forward and reversed pairs of positions: a lower bound that any
  estimator seeing longer windows can beat, up to the full EP per step;
- for windows of n observed positions, the best any estimator of them can do: each window's
  ln P(w) / P(reversed w) by the forward algorithm over the hidden flag, whose mean over stationary
  windows, divided by n - 1, is the EP per step that windows of n positions reveal (RNEEP's optimum).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from ..params import check, param

SITES = 3


@dataclass(frozen=True)
class RatchetSampling:
    """Trajectories of states, one step per unit time, of the whole state or of the position only."""

    trajectories: int = param(1, "state series to write", low=1, high=100_000)
    steps: int = param(100_000, "states per trajectory", low=2, high=100_000_000)
    partial: bool = param(False, "record the position only, hiding whether the potential is on (a non-Markovian "
                          "series for rneep)", label="Position only")
    seed: int = param(0, "random seed", low=0, high=2**32 - 1)

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class FlashingRatchet:
    """A particle on 3 sites of a sawtooth potential that is switched on and off at random."""

    potential: float = param(2.0, "V, height of the sawtooth steps", unit="k_B T", low=-1e3, high=1e3)
    rate: float = param(1.0, "r, switching rate of the potential, per unit time", above=0,
                         label="Switching rate")

    def __post_init__(self):
        check(self)

    @property
    def rates(self) -> np.ndarray:
        """k[s, s'], the jump rate from state s to s' (zero on the diagonal)."""
        v = self.potential * np.arange(SITES)
        k = np.zeros((2 * SITES, 2 * SITES))
        for x in range(SITES):
            for y in range(SITES):
                if x != y:
                    k[x, y] = np.exp(-(v[y] - v[x]) / 2)
                    k[SITES + x, SITES + y] = 1.0
            k[x, SITES + x] = k[SITES + x, x] = self.rate
        return k

    @property
    def transitions(self) -> np.ndarray:
        """P[s, s'], the jump chain's transition matrix (rows sum to 1)."""
        k = self.rates
        return k / k.sum(1, keepdims=True)

    @property
    def stationary(self) -> np.ndarray:
        """p(s), solving p P = p."""
        p = self.transitions
        a = np.vstack([p.T - np.eye(len(p)), np.ones(len(p))])
        b = np.zeros(len(p) + 1)
        b[-1] = 1.0
        return np.linalg.lstsq(a, b, rcond=None)[0]

    @property
    def flux(self) -> np.ndarray:
        """p(s) P(s -> s'): the probability of each observed pair of consecutive states."""
        return self.stationary[:, None] * self.transitions

    @property
    def ep_per_step(self) -> float:
        """Mean EP per step, the KL divergence between forward and reversed pairs of states."""
        return _pair_kl(self.flux)

    @property
    def ep_per_step_positions(self) -> float:
        """EP per step that pairs of positions alone reveal, with on/off hidden (<= ep_per_step)."""
        f = self.flux
        pos = sum(f[a * SITES:(a + 1) * SITES, b * SITES:(b + 1) * SITES] for a in range(2) for b in range(2))
        return _pair_kl(pos)

    def transition_ep(self, states: np.ndarray) -> np.ndarray:
        """Exact EP of each observed transition, (..., L) full states -> (..., L - 1)."""
        f = self.flux
        with np.errstate(divide="ignore", invalid="ignore"):
            table = np.log(f) - np.log(f.T)   # only pairs the chain can make are ever looked up
        return table[states[..., :-1], states[..., 1:]]

    def observed_window_ep(self, positions: np.ndarray) -> np.ndarray:
        """ln P(w) / P(reversed w) of stationary windows w of observed positions, (..., n) -> (...).

        It is the optimum of the NEEP objective over functions of the window: the exact per-window label
        for an estimator that sees positions only."""
        w = np.asarray(positions)
        return self._log_prob(w) - self._log_prob(w[..., ::-1])

    def observed_ep_per_step(self, n: int, windows: int = 100_000, seed: int | None = 0) -> tuple[float, float]:
        """EP per step that windows of n positions reveal, KL(forward || reversed) / (n - 1), with its
        standard error. It rises with n from ep_per_step_positions toward, never above, ep_per_step.

        Exact (error 0) up to n = 10, a sum over all 3^n windows; beyond, a Monte Carlo mean of the exact
        per-window values over `windows` independent stationary windows."""
        if n < 2:
            raise ValueError("a window needs at least two positions")
        if n <= 10:
            w = np.array(list(itertools.product(range(SITES), repeat=n)))
            return float(np.exp(self._log_prob(w)) @ self.observed_window_ep(w) / (n - 1)), 0.0
        ep = self.observed_window_ep(self.sample(windows, n, seed=seed) % SITES) / (n - 1)
        return float(ep.mean()), float(ep.std(ddof=1) / np.sqrt(len(ep)))

    def _log_prob(self, w: np.ndarray) -> np.ndarray:
        """ln P(w) of stationary windows of positions, summing over the hidden on/off flag step by step
        (forward algorithm, renormalised each step so that long windows do not underflow)."""
        first = self.stationary.reshape(2, SITES).T                                   # [x, flag]
        step = self.transitions.reshape(2, SITES, 2, SITES).transpose(1, 3, 0, 2)     # [x, y, flag, flag']
        a = first[w[..., 0]]
        norm = a.sum(-1)
        log_p, a = np.log(norm), a / norm[..., None]
        for t in range(1, w.shape[-1]):
            a = np.einsum("...f,...fg->...g", a, step[w[..., t - 1], w[..., t]])
            norm = a.sum(-1)
            log_p, a = log_p + np.log(norm), a / norm[..., None]
        return log_p

    def sample(self, trajectories: int, steps: int, seed: int | None = None) -> np.ndarray:
        """Stationary trajectories of the full six states, (trajectories, steps) int64."""
        if trajectories < 1 or steps < 1:
            raise ValueError("need at least one trajectory of at least one step")
        rng = np.random.default_rng(seed)
        cum = np.cumsum(self.transitions, axis=1)
        cum[:, -1] = 1.0
        s = np.empty((trajectories, steps), dtype=np.int64)
        s[:, 0] = rng.choice(2 * SITES, size=trajectories, p=self.stationary)
        u = rng.random((trajectories, steps))
        for t in range(1, steps):
            s[:, t] = (u[:, t, None] > cum[s[:, t - 1]]).sum(1)
        return s

    def describe(self) -> dict:
        return {"system": "flashing ratchet", **asdict(self), "ep_per_step": self.ep_per_step,
                "ep_per_step_positions": self.ep_per_step_positions}


def _pair_kl(flux: np.ndarray) -> float:
    """sum f(a, b) ln f(a, b) / f(b, a) over the pairs that occur, for a joint pair distribution f."""
    m = flux > 0
    return float((flux[m] * np.log(flux[m] / flux.T[m])).sum())
