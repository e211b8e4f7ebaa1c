"""The estimators and synthetic systems the engine offers, with what they read and their declared parameters.

One table feeds `cneep list`, the CLI's choices and the app's pickers, so adding an estimator or a system
is an entry here next to its module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .estimators import ClosedFormConfig
from .params import Param, specs
from .movie import Movie
from .synth import (ActivePair, ActiveSampling, BeadRenderer, BeadSpringChain, BrownianGyrator, CurlTrap,
                    FlashingRatchet, Integration, RatchetSampling, Repulsion, Sampling, TiltedRing, TrajectorySampling,
                    TrappedAOUP, active_pair, aoup, bead_spring, curl_trap, gyrator, ratchet, ring)
from .training import TrainConfig
from .trajectories import Trajectories


@dataclass(frozen=True)
class Estimator:
    name: str
    summary: str
    accepts: tuple[str, ...]      # "movie", "coordinates", "states"
    requires: tuple[str, ...] = ()   # what it needs beyond the data, e.g. a known drift
    config: type = TrainConfig

    def params(self) -> list[Param]:
        own = [p for p in specs(self.config) if not p.spec.only or self.name in p.spec.only]
        if self.config is not TrainConfig:   # every estimator reports on the same split
            own += [p for p in specs(TrainConfig) if p.name in SPLIT]
        return own


@dataclass(frozen=True)
class System:
    """A synthetic system with exact EP: its declared settings and how to simulate it.

    simulate takes one instance of each class in `configs`, in that order, and returns a Movie or Trajectories
    with its GroundTruth attached; the CLI's options and the app's generator forms come from `configs`."""

    name: str
    summary: str
    kinds: tuple[str, ...]        # what it writes: "movie", "coordinates", "states"
    configs: tuple[type, ...]
    simulate: Callable[..., Movie | Trajectories]
    time_unit: str = "s"

    def params(self) -> list[Param]:
        return [p for c in self.configs for p in specs(c)]


SPLIT = ("val_fraction", "test_fraction", "seed")

ESTIMATORS = {e.name: e for e in (
    Estimator("cneep", "a convolutional network on consecutive frames, odd under time reversal (Bae, Kim & Jeong "
              "2022): EP per window and a dissipation map that sums to it", ("movie",)),
    Estimator("neep", "a network on pairs of frames of coordinates (an MLP) or discrete states (embeddings) "
              "(Kim et al. 2020)", ("coordinates", "states")),
    Estimator("rneep", "a recurrent network (GRU) over the frames of a window, for hidden degrees of freedom "
              "(Kim et al. 2020)", ("coordinates", "states")),
    Estimator("tur", "training-free lower bound from the short-time thermodynamic uncertainty relation with the "
              "best linear combination of currents", ("coordinates",), config=ClosedFormConfig),
    Estimator("sfi", "training-free projected EP of a velocity field linear in the coordinates (stochastic force "
              "inference), with its finite-data bias removed", ("coordinates",), config=ClosedFormConfig),
)}

SYSTEMS = {s.name: s for s in (
    System("bead-spring", "beads joined by springs between a cold and a hot bath, as a movie or as coordinates",
           ("movie", "coordinates"), (BeadSpringChain, BeadRenderer, Sampling), bead_spring),
    System("ratchet", "a flashing ratchet: 3 sites, a sawtooth potential switched on and off", ("states",),
           (FlashingRatchet, RatchetSampling), ratchet, time_unit="step"),
    System("aoup", "active Ornstein-Uhlenbeck particles in a harmonic trap, repelling each other, with translational "
           "noise: positions (the propulsion hidden) with sigma_A, exact for one particle or no repulsion",
           ("coordinates",), (TrappedAOUP, Repulsion, Integration, ActiveSampling), aoup),
    System("active-pair", "two particles joined by a spring in a trap, one of them active: sigma_A and the exact "
           "ceiling of the positions alone", ("coordinates",), (ActivePair, ActiveSampling), active_pair),
    System("gyrator", "Brownian gyrator: a particle in a tilted harmonic well, its axes in baths at two "
           "temperatures", ("coordinates",), (BrownianGyrator, TrajectorySampling), gyrator),
    System("curl-trap", "a particle in a harmonic trap driven around it by a rotational force", ("coordinates",),
           (CurlTrap, TrajectorySampling), curl_trap),
    System("ring", "a particle pulled around a ring over a cosine potential (tilted periodic potential), as its "
           "position in the plane", ("coordinates",), (TiltedRing, TrajectorySampling), ring),
)}


def estimators_for(kind: str) -> list[str]:
    """The estimators that read data of this kind ("movie", "coordinates" or "states")."""
    return [e.name for e in ESTIMATORS.values() if kind in e.accepts]


def listing() -> dict:
    """Everything, as `cneep list --json` prints it."""
    return {"estimators": [{"name": e.name, "summary": e.summary, "accepts": list(e.accepts),
                            "requires": list(e.requires), "params": [p.describe() for p in e.params()]}
                           for e in ESTIMATORS.values()],
            "systems": [{"name": s.name, "summary": s.summary, "kind": list(s.kinds),
                         "params": [p.describe() for p in s.params()]}
                        for s in SYSTEMS.values()]}
