"""Ground-truth sidecar: `NAME.truth.npz` next to `NAME.tif`, found by `cneep train` by itself."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import CneepError
from ..movie import GroundTruth
from ..synth.ratchet import FlashingRatchet
from .atomic import atomic_path


def sidecar_path(movie_path: str | Path) -> Path:
    p = Path(movie_path)
    return p.with_name(p.name.split(".")[0] + ".truth.npz")


def save_truth(truth: GroundTruth, path: Path) -> None:
    arrays = {"ds": truth.ds.astype(np.float64)}
    if truth.positions is not None:
        arrays["positions"] = truth.positions.astype(np.float32)
    meta = {"sigma": truth.sigma, "sigma_2pt": truth.sigma_2pt, "params": truth.params}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object keeps numpy from appending its own suffix
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load_truth(path: Path, n_movies: int, n_frames: int) -> GroundTruth:
    """Read and check a sidecar against the movie it belongs to."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            ds = np.asarray(z["ds"], dtype=np.float64)
            positions = np.asarray(z["positions"]) if "positions" in z.files else None
        sigma, sigma_2pt = float(meta["sigma"]), float(meta["sigma_2pt"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise CneepError(f"{path}: not a readable ground-truth sidecar ({type(e).__name__}: {e})") from e
    if ds.shape != (n_movies, n_frames - 1):
        raise CneepError(f"{path}: ground truth has EP for {ds.shape} transitions but the movie has "
                         f"{(n_movies, n_frames - 1)}")
    if not (np.isfinite(ds).all() and np.isfinite([sigma, sigma_2pt]).all()):
        raise CneepError(f"{path}: ground truth contains NaN or infinite values")
    params = meta.get("params", {})
    return GroundTruth(ds=ds, sigma=sigma, sigma_2pt=sigma_2pt, positions=positions, params=params,
                       observed_window_ep=_observed_window_ep(params))


def _observed_window_ep(params: dict):
    """The exact per-window optimum of partially observed synthetic data, rebuilt from its generator's
    parameters (a function is not saved in the sidecar)."""
    if params.get("system") == "flashing ratchet" and params.get("partial"):
        return FlashingRatchet(params["potential"], params["rate"]).observed_window_ep
    return None
