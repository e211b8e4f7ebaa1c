"""Ground-truth sidecar: `NAME.truth.npz` next to `NAME.tif`, found by `cneep train` by itself.

A sidecar belongs to one movie: its name is the movie's full name, and it stores a fingerprint of the movie
(shape and a hash of a few frames) that is checked when it is read. The older name (the text before the
first dot) is not read: it was shared by exp.1.tif and exp.2.tif."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import CneepError
from ..movie import GroundTruth
from ..sites import SiteTruth
from .atomic import atomic_path


PARTICLE = "particle_"   # the sidecar's arrays of GroundTruth.particles: particle_heat, particle_packing, ...


def sidecar_path(movie_path: str | Path) -> Path:
    """NAME.truth.npz for NAME.EXT: the file's full name without its last suffix (exp.1.tif -> exp.1.truth.npz),
    so that no two movies of a folder share one."""
    p = Path(movie_path)
    return p.with_name(f"{p.stem if p.suffix else p.name}.truth.npz")


def fingerprint(values) -> dict:
    """Shape and a hash of a few frames spread over the data (series, frames, ...): enough to tell one movie
    or set of trajectories from another without reading it all. Values are hashed as float64, so the same
    numbers read from TIFF, CSV or NumPy hash alike."""
    shape = tuple(values.shape)
    n = shape[0] * shape[1]
    flat = sorted({int(i) for i in np.linspace(0, n - 1, min(n, 4))})
    digest = hashlib.sha256()
    for i in flat:
        digest.update(np.ascontiguousarray(values[i // shape[1], i % shape[1]], dtype=np.float64).tobytes())
    return {"shape": list(shape), "sha256": digest.hexdigest()}


def check_sidecar_free(data_path: str | Path) -> None:
    """Refuse to save data whose sidecar name is taken by another file's ground truth: m.tif and m.npz share
    m.truth.npz, and writing one's would orphan the other's. Checked before anything is written."""
    data_path = Path(data_path)
    side = sidecar_path(data_path)
    if not side.is_file():
        return
    try:
        with np.load(side, allow_pickle=False) as z:
            owner = json.loads(str(z["meta"])).get("data")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return   # unreadable: nothing is lost by replacing it
    if owner and owner != data_path.name and (data_path.parent / owner).is_file():
        raise CneepError(f"{data_path}: its ground truth would replace {side.name}, which holds that of {owner}; "
                         "save under another name")


def save_truth(truth: GroundTruth, path: Path, values, data_name: str) -> None:
    """Write the sidecar of the data `values` (as a reader returns them) saved as `data_name`, with their
    fingerprint."""
    arrays = {"ds": truth.ds.astype(np.float64)}
    if truth.positions is not None:
        arrays["positions"] = truth.positions.astype(np.float32)
    arrays.update({PARTICLE + name: v.astype(np.float64) for name, v in truth.particles.items()})
    meta = {"sigma": truth.sigma, "sigma_2pt": truth.sigma_2pt, "params": truth.params,
            "fingerprint": fingerprint(values), "data": data_name}
    if truth.sites is not None:
        meta["sites"] = truth.sites.as_dict()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object keeps numpy from appending its own suffix
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def load_truth(path: Path, source: Path, values, notes: list[str]) -> GroundTruth:
    """Read a sidecar and check that it belongs to `source`, whose data (as read) are `values`.

    Sidecars written before fingerprints were stored are accepted when their size matches, with a note."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            ds = np.asarray(z["ds"], dtype=np.float64)
            positions = np.asarray(z["positions"]) if "positions" in z.files else None
            particles = {k[len(PARTICLE):]: np.asarray(z[k]) for k in z.files if k.startswith(PARTICLE)}
        sigma, sigma_2pt = float(meta["sigma"]), float(meta["sigma_2pt"])
        sites = SiteTruth.from_dict(meta["sites"]) if "sites" in meta else None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise CneepError(f"{path}: not a readable ground-truth sidecar ({type(e).__name__}: {e})") from e
    shape = tuple(values.shape[:2])
    if ds.shape != (shape[0], shape[1] - 1):
        raise CneepError(f"{path}: ground truth has EP for {ds.shape} transitions but {source} has "
                         f"{(shape[0], shape[1] - 1)}: it belongs to another movie")
    stored = meta.get("fingerprint")
    if stored is None:
        notes.append(f"ground truth {path.name} carries no fingerprint of its movie (written by an older "
                     "version): only its size was checked")
    elif stored != fingerprint(values):
        what = (f"shape {stored.get('shape')}, not {list(values.shape)}" if stored.get("shape") != list(values.shape)
                else "same shape, different frames")
        raise CneepError(f"{path}: ground truth of another movie, not of {source} ({what})")
    if not (np.isfinite(ds).all() and np.isfinite([sigma, sigma_2pt]).all()):
        raise CneepError(f"{path}: ground truth contains NaN or infinite values")
    params = meta.get("params", {})
    return GroundTruth(ds=ds, sigma=sigma, sigma_2pt=sigma_2pt, positions=positions, params=params, sites=sites,
                       particles=particles)



def describe_truth(truth: GroundTruth) -> dict:
    """The exact EP figures of a synthetic file, as `cneep info --json` prints them under `truth`: sigma, and
    sigma_2pt where it is exact (a system without an exact ceiling stores sigma, its upper bound, and says so),
    with the conventions of active systems (sigma_A, sigma_B), the errors of Monte Carlo values where the generator
    gave them, and `hidden`: what of sigma the data cannot show, where it holds such EP."""
    p = truth.params
    out = {"system": p.get("system"), "sigma": truth.sigma}
    if p.get("sigma_2pt_exact", True):
        out["sigma_2pt"] = truth.sigma_2pt
    return out | {k: p[k] for k in ("sigma_err", "sigma_A", "sigma_A_err", "sigma_B", "convention", "hidden") if k in p}
