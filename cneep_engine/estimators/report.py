"""A training-free estimate written as a run folder's summary.json, in the terms of a neural run's summary."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import CneepError
from ..io.atomic import write_json
from ..metrics import relative_error
from ..run_folder import SUMMARY_FILE, clear, locked, refuse_inputs
from ..trajectories import Trajectories
from ..windows import assign_parts, window_starts
from . import METHODS
from .base import TEST


def run_estimator(traj: Trajectories, method: str, run_dir: str | Path | None = None, *, val_fraction: float = 0.2,
                  test_fraction: float = 0.2, diffusion=None, n_boot: int = 200, seed: int = 0) -> dict:
    """Estimate with `method` ("tur" or "sfi") on the split a neural run with these fractions would use, and
    return the summary; with `run_dir`, write it there as summary.json (an earlier run's results are removed).

    diffusion: for sfi, as in `estimate_sfi`."""
    t0 = time.perf_counter()
    if method not in METHODS:
        raise CneepError(f"unknown method {method!r} (use {' or '.join(METHODS)})")
    if method != "sfi" and diffusion is not None:
        raise CneepError(f"{method}: a diffusion matrix applies to sfi only")
    try:
        parts = assign_parts(traj.n_trajectories, traj.n_frames, val_fraction, test_fraction, seq_len=2)
    except CneepError as e:
        raise CneepError(f"{traj.name}: {e}") from e
    extra = {"diffusion": diffusion} if method == "sfi" else {}
    estimate = METHODS[method](traj, parts, n_boot=n_boot, seed=seed, **extra)
    summary = {"method": method, **estimate.as_dict(), "ep_per_frame": estimate.rate * traj.dt, "dt": traj.dt,
               "observed_time": estimate.transitions * traj.dt, "input": str(traj.path) if traj.path else None,
               "trajectories": traj.n_trajectories, "frames": traj.n_frames,
               "val_fraction": val_fraction, "test_fraction": test_fraction, "bootstrap": n_boot, "seed": seed,
               "warnings": []}
    if method != "sfi":
        del summary["debiased_rate"]
    if traj.truth is not None:
        t = traj.truth
        starts, part = window_starts(parts, 2)
        empirical = float(t.window_ep(starts[part == TEST], 2).mean()) / traj.dt
        summary["truth"] = {"sigma": t.sigma, "sigma_2pt": t.sigma_2pt, "empirical_rate": empirical,
                            **{f"rel_err_{k}": relative_error(estimate.rate, v) for k, v in
                               (("sigma", t.sigma), ("2pt", t.sigma_2pt), ("empirical", empirical))}}
    summary["wall_s"] = time.perf_counter() - t0
    if run_dir is not None:
        _write(Path(run_dir), summary, traj.path)
    return summary


def _write(run_dir: Path, summary: dict, source: Path | None) -> None:
    if str(run_dir) == "":
        raise CneepError("an empty run folder name would write into the current folder; name a folder")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CneepError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from e
    refuse_inputs(run_dir, [source] if source else [])
    with locked(run_dir):
        try:
            clear(run_dir)
        except OSError as e:
            raise CneepError(f"{run_dir}: cannot clear the earlier run from the folder ({e.strerror or e})") from e
        write_json(run_dir / SUMMARY_FILE, summary)
