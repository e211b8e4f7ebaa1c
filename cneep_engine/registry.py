"""The synthetic systems the engine offers, and the listing of everything with its declared parameters.

The systems' table here and the estimators' (`estimators.ESTIMATORS`) feed `cneep list`, the CLI's commands and
choices and the app's pickers and forms, so adding a system is an entry here next to its module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .estimators import ESTIMATORS
from .params import Param, specs
from .movie import Movie
from .synth import (ActivePair, ActiveSampling, BeadRenderer, BeadSpringChain, BrownianGyrator, CurlTrap,
                    DrivenGaussianMixture, FilamentNetwork, FilamentRenderer, FlashingRatchet, GeometricSprings,
                    Integration, ParticleRenderer, RatchetSampling, Repulsion, RotatedDoubleWell, Sampling, TiltedRing,
                    TrajectorySampling, TrappedAOUP, active_pair, aoup, bead_spring, curl_trap, gyrator, network,
                    ratchet, ring, steady_trajectories)
from .synth.mips import ActiveDiscs, DiscRepulsion, SnapshotSampling
from .synth.mips_movie import DiscRenderer, mips
from .trajectories import Trajectories


@dataclass(frozen=True)
class System:
    """A synthetic system with exact EP: its declared settings and how to simulate it.

    simulate takes one instance of each class in `configs`, in that order, and returns a Movie or Trajectories
    with its GroundTruth attached; the CLI's options and the app's generator forms come from `configs`.
    `movie_configs` are those that only shape a movie (a renderer): the app shows them only when a movie is
    written. How much to simulate is read from the fields named in LEAST.

    A system that takes minutes (`reports`) has simulate also take callback= (Progress events of the phase
    "simulation") and cancel= (a threading.Event); `quick` names the settings its preview lowers besides LEAST
    (a burn-in, the spacing of snapshots), so that preview shows the data's shape and kind but not their EP."""

    name: str
    summary: str
    kinds: tuple[str, ...]        # what it writes: "movie", "coordinates", "states"
    configs: tuple[type, ...]
    simulate: Callable[..., Movie | Trajectories]
    time_unit: str = "s"
    movie_configs: tuple[type, ...] = ()
    reports: bool = False
    quick: dict = field(default_factory=dict)

    def params(self) -> list[Param]:
        return [p for c in self.configs for p in specs(c)]

    def writes(self, *configs) -> str:
        """What these settings make: a Sampling among them chooses movie or coordinates, else the one kind."""
        return next((c.kind for c in configs if isinstance(c, Sampling)), self.kinds[0])

    def amount(self, *configs) -> tuple[int, int]:
        """(movies or trajectories, frames of each) that these settings make."""
        counts = {n: getattr(c, n) for c in configs for n in LEAST if getattr(c, n, None) is not None}
        series = counts["movies"] if self.writes(*configs) == "movie" else counts["trajectories"]
        return series, counts.get("frames", counts.get("steps"))

    def run(self, *configs, callback=None, cancel=None) -> Movie | Trajectories:
        """simulate, with progress and cancel where the system reports them (the others take a second or so)."""
        return self.simulate(*configs, callback=callback, cancel=cancel) if self.reports else self.simulate(*configs)

    def preview(self, *configs) -> Movie | Trajectories:
        """The least data these settings make, one movie or trajectory of two frames, with its exact EP (not for a
        `quick` one): what the app shows while the settings are edited, in milliseconds whatever the length asked
        for."""
        least = {**LEAST, **self.quick}
        return self.simulate(*(replace(c, **{n: v for n, v in least.items() if getattr(c, n, None) is not None})
                               for c in configs))


# The sampling fields that say how much to simulate, at their least: one movie or trajectory of two frames.
LEAST = {"movies": 1, "trajectories": 1, "frames": 2, "steps": 2}

SYSTEMS = {s.name: s for s in (
    System("bead-spring", "beads joined by springs between a cold and a hot bath, as a movie or as coordinates",
           ("movie", "coordinates"), (BeadSpringChain, BeadRenderer, Sampling), bead_spring,
           movie_configs=(BeadRenderer,)),
    System("network", "an elastic filament network on a triangular lattice, a few nodes in hot baths: the bonds "
           "as filaments in a movie, or the node coordinates; exact, or with nonlinear springs by Monte Carlo",
           ("movie", "coordinates"), (FilamentNetwork, GeometricSprings, FilamentRenderer, Sampling), network,
           movie_configs=(FilamentRenderer,)),
    System("ratchet", "a flashing ratchet: 3 sites, a sawtooth potential switched on and off", ("states",),
           (FlashingRatchet, RatchetSampling), ratchet, time_unit="step"),
    System("aoup", "active Ornstein-Uhlenbeck particles in a harmonic trap, repelling each other, with translational "
           "noise: a movie or the positions (the propulsion hidden) with sigma_A, exact for one particle or no "
           "repulsion, and the ceiling of positions, 0 without repulsion", ("movie", "coordinates"),
           (TrappedAOUP, Repulsion, Integration, ParticleRenderer, ActiveSampling), aoup,
           movie_configs=(ParticleRenderer,)),
    System("active-pair", "two particles joined by a spring in a trap, one of them active, as a movie or the "
           "positions: sigma_A and the exact ceiling of the positions alone", ("movie", "coordinates"),
           (ActivePair, BeadRenderer, ActiveSampling), active_pair, movie_configs=(BeadRenderer,)),
    System("mips", "active discs in a periodic box that split into a dense and a dilute phase (motility-induced "
           "phase separation), after a burn-in of minutes: a movie of the whole periodic box or the coordinates, "
           "with sigma_B (or sigma_A) and each particle's heat density and local packing fraction",
           ("movie", "coordinates"), (ActiveDiscs, DiscRepulsion, DiscRenderer, SnapshotSampling), mips,
           movie_configs=(DiscRenderer,), reports=True, quick={"burn_in": 0.0, "interval": 0.0}),
    System("gyrator", "Brownian gyrator: a particle in a tilted harmonic well, its axes in baths at two "
           "temperatures", ("coordinates",), (BrownianGyrator, TrajectorySampling), gyrator),
    System("curl-trap", "a particle in a harmonic trap driven around it by a rotational force", ("coordinates",),
           (CurlTrap, TrajectorySampling), curl_trap),
    System("ring", "a particle pulled around a ring over a cosine potential (tilted periodic potential), as its "
           "position in the plane", ("coordinates",), (TiltedRing, TrajectorySampling), ring),
    System("double-well", "a particle in a double well driven around its wells by a rotational force (EPR-Net's "
           "benchmark): exact sigma and landscape", ("coordinates",), (RotatedDoubleWell, TrajectorySampling),
           steady_trajectories),
    System("gaussian-mixture", "a diffusion driven around a Gaussian mixture in up to 12 dimensions that stays its "
           "steady density (EPR-Net's benchmark): Monte Carlo sigma", ("coordinates",),
           (DrivenGaussianMixture, TrajectorySampling), steady_trajectories),
)}


def listing() -> dict:
    """Everything, as `cneep list --json` prints it."""
    return {"estimators": [{"name": e.name, "summary": e.summary, "accepts": list(e.accepts),
                            "requires": list(e.requires), "params": [p.describe() for p in e.params()]}
                           for e in ESTIMATORS.values()],
            "systems": [{"name": s.name, "summary": s.summary, "kind": list(s.kinds),
                         "params": [p.describe() for p in s.params()]}
                        for s in SYSTEMS.values()]}
