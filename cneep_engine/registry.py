"""The synthetic systems the engine offers, and the listing of everything with its declared parameters.

The systems' table here and the estimators' (`estimators.ESTIMATORS`) feed `cneep list`, the CLI's commands and
choices and the app's pickers and forms, so adding a system is an entry here next to its module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .estimators import ESTIMATORS
from .params import Param, specs
from .movie import Movie
from .synth import (BeadRenderer, BeadSpringChain, FlashingRatchet, RatchetSampling, Sampling, bead_spring,
                    ratchet)
from .trajectories import Trajectories


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


SYSTEMS = {s.name: s for s in (
    System("bead-spring", "beads joined by springs between a cold and a hot bath, as a movie or as coordinates",
           ("movie", "coordinates"), (BeadSpringChain, BeadRenderer, Sampling), bead_spring),
    System("ratchet", "a flashing ratchet: 3 sites, a sawtooth potential switched on and off", ("states",),
           (FlashingRatchet, RatchetSampling), ratchet, time_unit="step"),
)}


def listing() -> dict:
    """Everything, as `cneep list --json` prints it."""
    return {"estimators": [{"name": e.name, "summary": e.summary, "accepts": list(e.accepts),
                            "requires": list(e.requires), "params": [p.describe() for p in e.params()]}
                           for e in ESTIMATORS.values()],
            "systems": [{"name": s.name, "summary": s.summary, "kind": list(s.kinds),
                         "params": [p.describe() for p in s.params()]}
                        for s in SYSTEMS.values()]}
