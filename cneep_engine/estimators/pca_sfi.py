"""Entropy production of a movie without tracking: SFI on its principal components (Gnesotto, Gradziuk, Ronceray
& Broedersz, Nat. Commun. 11, 5378 (2020)).

The frames are projected on their k leading principal components, fitted on the training part of the split only
(`pca.fit_components`, which reads the movie in chunks). The component coordinates are then a trajectory on which
`sfi` infers the velocity field linear in them and its EP rate on the held-out part, as for tracked coordinates.
The rate is reported for the first 1, 2, ..., k components (`components_curve`): it rises while components add
dissipative modes and levels off after, while the plug-in bias n (n - 1) / tau keeps growing with n
(debiased_rate removes it). The components of a linear rendering of a linear system span its coordinates, and
the projected EP is the same in any invertible linear coordinates, so there the rate is SFI's on the coordinates.

Where the EP is: a transition's estimated EP, sum_a F_a dx_a over the components a, is spread over the pixels by
each component's squared loadings (normalised to sum to 1), so every transition's dissipation map sums to its dS,
as CNEEP's do.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import CneepError
from ..movie import Movie
from ..pca import fit_components
from ..trajectories import Trajectories
from .base import TRAIN, Estimate, default_split
from .sfi import estimate_sfi

# Components along which the training frames vary less than this fraction of their total variance are flat
# directions (rounding, constant pixels): their coordinates would make SFI's fit singular.
FLAT = 1e-12


def estimate_pca_sfi(movie: Movie, split: np.ndarray | None = None, *, components: int = 8, diffusion=None,
                     n_boot: int = 200, seed: int = 0) -> Estimate:
    """EP rate on the held-out transitions of `split` (None: a run's default split) from SFI on the movie's first
    `components` principal components, plug-in and debiased, with its bootstrap error; `details` has the rate
    with 1 to `components` components. diffusion: None (from the increments) or "noise-robust", as for sfi.
    Coefficients are in the components' coordinates (the frames' counts along each unit loading)."""
    labels = default_split(movie) if split is None else np.asarray(split)
    if labels.shape != (movie.n_movies, movie.n_frames):
        raise CneepError(f"{movie.name}: the split has shape {labels.shape}, the movie {movie.frames.shape[:2]}")
    pixels = int(np.prod(movie.frame_shape))
    if components > pixels:
        raise CneepError(f"{movie.name}: --components {components} is more than the {pixels} pixels of a frame")
    train = np.flatnonzero(labels.ravel() == TRAIN)
    if components >= len(train):
        raise CneepError(f"{movie.name}: --components {components} needs more than {components} training frames "
                         f"and the split leaves {len(train)}; use fewer components or longer movies")
    pcs = fit_components(movie.frames, train, components, seed)
    varying = int(np.sum(pcs.variance > FLAT * pcs.total_variance))
    if varying < components:
        raise CneepError(f"{movie.name}: the training frames vary along only {varying} direction"
                         f"{'s' * (varying > 1)}; use --components {varying} or fewer" if varying else
                         f"{movie.name}: the training frames do not change")
    coords = pcs.project(movie.frames, np.arange(labels.size)).reshape(*labels.shape, components)
    curve = []
    for n in range(1, components + 1):
        estimate = estimate_sfi(Trajectories(coords[..., :n], dt=movie.dt, path=movie.path), labels,
                                diffusion=diffusion, n_boot=n_boot, seed=seed)
        curve.append({"components": n, "ep_rate": estimate.rate, "ep_rate_err": estimate.rate_err,
                      "debiased_rate": estimate.debiased_rate,
                      "variance_explained": float(pcs.variance[:n].sum() / pcs.total_variance)})
    weights = pcs.loadings ** 2
    return replace(estimate, coordinate_maps=(weights / weights.sum(1, keepdims=True)).reshape(-1, *movie.frame_shape),
                   details={"components": components, "components_curve": curve})
