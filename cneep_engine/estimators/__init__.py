"""The estimators: what each reads and needs, how it is fitted, and its declared settings.

A neural estimator names the network that `training.Trainer` fits to the NEEP objective (its settings are
`TrainConfig`'s, those marked `only=(name,)` its own); a training-free one names a closed form on the run's split
that returns an `Estimate` (its settings class beside it); a model-known one (`requires=("drift",)`: score, EPR-Net)
names a `fit` that trains a network of its own against a known drift (`model_known`). `run.train` runs each kind
into the same run folder, summary and verdict; the CLI's `--method`, `cneep list` and the app's picker and forms
read this table.

    est = estimate_tur(traj, split)      # split: windows.assign_parts(...); None: a run's default split
    est.rate, est.rate_err, est.coefficients["force"]
    estimate_pca_sfi(movie, split, components=8).details["components_curve"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CneepError
from ..models import CNEEP, NEEP, RNEEP
from ..params import Param, specs
from .base import ClosedFormConfig, Estimate, default_split
from .epr_net import epr_net_fit
from .model_known import SHARED, ModelKnownConfig
from .pca_sfi import estimate_pca_sfi
from .score import estimate_score
from .sfi import estimate_sfi
from .tur import estimate_tur

# The settings every estimator reports with: the same held-out part for a neural and a training-free estimate.
SPLIT = ("val_fraction", "test_fraction", "seed")


@dataclass(frozen=True)
class Estimator:
    name: str
    summary: str
    accepts: tuple[str, ...]      # "movie", "coordinates", "states"
    requires: tuple[str, ...] = ()   # what it needs beyond the data: "drift", a known drift (drift_models)
    network: type | None = None   # neural: the network class (from_data, from_description) the Trainer fits
    closed_form: Callable[..., Estimate] | None = None   # training-free: (data, split, settings, seed) -> Estimate
    # model-known: (data, split, settings, config, drift, callback, cancel) -> Estimate, config a TrainConfig
    fit: Callable[..., Estimate] | None = None
    settings: type | None = None  # a training-free or model-known estimator's own settings
    shared: tuple[str, ...] = SPLIT   # the TrainConfig settings such an estimator reads too

    @property
    def trained(self) -> bool:
        return self.network is not None

    @property
    def of_transitions(self) -> bool:
        """Whether it estimates the EP that transitions between observed frames reveal, which the two-frame ceiling
        bounds; a model-known estimator measures sigma itself from snapshots, given the dynamics."""
        return "drift" not in self.requires

    def params(self) -> list[Param]:
        from ..training import TrainConfig   # training builds on this table, so not at the top
        if self.trained:
            return [p for p in specs(TrainConfig) if not p.spec.only or self.name in p.spec.only]
        own = [p for p in specs(self.settings) if not p.spec.only or self.name in p.spec.only]
        return own + [p for p in specs(TrainConfig) if p.name in self.shared]

    def check_reads(self, data) -> None:
        """Refuse data of a kind this estimator does not read, naming the ones that do."""
        kind = getattr(data, "kind", "movie")
        if kind not in self.accepts:
            what = " or ".join(_NOUNS[k] for k in self.accepts)
            raise CneepError(f"{data.name}: {self.name} reads {what}, not {_NOUNS[kind]}; for {_NOUNS[kind]} use "
                             f"{' or '.join(estimators_for(kind))}")


_NOUNS = {"movie": "movies", "coordinates": "coordinate trajectories", "states": "state series"}


def _sfi(data, split, settings: ClosedFormConfig, seed: int) -> Estimate:
    return estimate_sfi(data, split, n_boot=settings.bootstrap, seed=seed,
                        diffusion=None if settings.diffusion == "increments" else settings.diffusion)


def _pca_sfi(data, split, settings: ClosedFormConfig, seed: int) -> Estimate:
    return estimate_pca_sfi(data, split, components=settings.components, n_boot=settings.bootstrap, seed=seed,
                            diffusion=None if settings.diffusion == "increments" else settings.diffusion)


def _tur(data, split, settings: ClosedFormConfig, seed: int) -> Estimate:
    return estimate_tur(data, split, n_boot=settings.bootstrap, seed=seed)


ESTIMATORS = {e.name: e for e in (
    Estimator("cneep", "a convolutional network on consecutive frames, odd under time reversal (Bae, Kim & Jeong "
              "2022): EP per window and a dissipation map that sums to it", ("movie",), network=CNEEP),
    Estimator("neep", "a network on pairs of frames of coordinates (an MLP) or discrete states (embeddings) "
              "(Kim et al. 2020)", ("coordinates", "states"), network=NEEP),
    Estimator("rneep", "a recurrent network (GRU) over the frames of a window, for hidden degrees of freedom "
              "(Kim et al. 2020)", ("coordinates", "states"), network=RNEEP),
    Estimator("tur", "training-free lower bound from the short-time thermodynamic uncertainty relation with the "
              "best linear combination of currents", ("coordinates",), closed_form=_tur, settings=ClosedFormConfig),
    Estimator("sfi", "training-free projected EP of a velocity field linear in the coordinates (stochastic force "
              "inference), with its finite-data bias removed", ("coordinates",), closed_form=_sfi,
              settings=ClosedFormConfig),
    Estimator("pca-sfi", "training-free: sfi on the movie's leading principal components (Gnesotto et al. 2020), "
              "with the rate against the number of components and a dissipation map spread by their loadings",
              ("movie",), closed_form=_pca_sfi, settings=ClosedFormConfig),
    Estimator("score", "model-known: learns the score of the stationary density from snapshots (Boffi & "
              "Vanden-Eijnden 2023) given the drift b(x) and D; the EP rate, a lower bound, per-coordinate and "
              "per-particle densities and the probability current", ("coordinates",), requires=("drift",),
              fit=estimate_score, settings=ModelKnownConfig, shared=SPLIT + SHARED),
    Estimator("epr-net", "model-known: fits a potential network by the EPR loss (Zhao, Zhang & Li) given the drift "
              "b(x) and D; an upper and a lower bound on the EP rate (their midpoint the estimate), the static "
              "formula, and the landscape -ln p for two coordinates", ("coordinates",), requires=("drift",),
              fit=epr_net_fit, settings=ModelKnownConfig, shared=SPLIT + SHARED),
)}


def estimator(name: str) -> Estimator:
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise CneepError(f"unknown method {name!r} (available: {', '.join(ESTIMATORS)})") from None


def estimators_for(kind: str) -> list[str]:
    """The estimators that read data of this kind ("movie", "coordinates" or "states")."""
    return [e.name for e in ESTIMATORS.values() if kind in e.accepts]


__all__ = ["ESTIMATORS", "SPLIT", "ClosedFormConfig", "Estimate", "Estimator", "ModelKnownConfig", "default_split",
           "estimate_pca_sfi", "estimate_score", "estimate_sfi", "estimate_tur", "estimator", "estimators_for"]
