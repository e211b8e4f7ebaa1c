"""A training-free estimate as a run like any other: the Run of its per-transition dS, reported and saved by run.py.

    run = run_estimator(traj, TrainConfig(model="sfi"), ClosedFormConfig(diffusion="noise-robust"), run_dir="run")
    run.summary["ep_rate"], run.summary["debiased_rate"], run.summary["p_equilibrium"]
"""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import tifffile

from ..drift_models import drift_model
from ..errors import CneepError
from ..io.atomic import atomic_path
from ..models.score_nets import save_network
from ..movie import Movie
from ..progress import Callback, PhaseReporter
from ..run import TEST, Run, _map_file, _maps_metadata, report_held_out
from ..run_folder import MAPS_FILE, NETWORK_FILE, clear, locked, refuse_inputs
from ..timearrow import input_report
from ..training import TrainConfig
from ..trajectories import Trajectories
from ..windows import assign_parts, window_starts
from . import estimator
from .base import ClosedFormConfig, Estimate, series

MAP_BYTES = 32 << 20   # float64 map values computed at a time


def run_estimator(data: Movie | Trajectories, config: TrainConfig, closed_form: ClosedFormConfig = ClosedFormConfig(),
                  callback: Callback | None = None, cancel: threading.Event | None = None,
                  run_dir: str | Path | None = None, checks: dict | None = None) -> Run:
    """Estimate with a training-free config.model (tur, sfi, pca-sfi) on the split of config's fractions and seed,
    and return the run; with `run_dir`, save it there (an earlier run's results are replaced).

    One "evaluation" event starts the estimate and one ends it (between them, for maps, events as they are
    written); `cancel` set by then raises Cancelled and no result is written. The summary has what every run reports (ep_rate, the verdict, the truth report), the
    estimator's own bootstrap error as ep_rate_err, and its coefficients (and for sfi debiased_rate). A movie's
    time arrows that are not dissipation (`timearrow.input_report`; `checks` when already made) go into the
    summary as for a network; an estimate with per-coordinate maps (pca-sfi) gets the dissipation map of every
    transition, written straight into the run folder's maps file when there is one."""
    t0 = time.perf_counter()
    method = config.model
    entry = estimator(method)
    if entry.closed_form is None and entry.fit is None:
        raise CneepError(f"{method} is trained, not a closed form: use run.train")
    if run_dir is not None and str(run_dir) == "":
        raise CneepError("an empty run folder name would write into the current folder; name a folder")
    entry.check_reads(data)
    drift = drift_model(data, closed_form.drift) if "drift" in entry.requires else None
    movie = isinstance(data, Movie)
    if checks is None and movie:
        checks = input_report(data)
    # What the run records: the settings it shares with a network's training (split, seed, and for a model-known
    # estimator its steps); seq_len 2, as its dS is per transition.
    config = TrainConfig(model=method, seq_len=2, **{k: getattr(config, k) for k in entry.shared})
    try:
        parts = assign_parts(series(data), data.n_frames, config.val_fraction, config.test_fraction, seq_len=2)
    except CneepError as e:
        raise CneepError(f"{data.name}: {e}") from e
    starts, part = window_starts(parts, 2)
    report = PhaseReporter("evaluation", len(starts), callback, cancel, f"{data.name}: {method} estimate",
                           "transitions", "; no result")
    if entry.fit is not None:
        estimate = entry.fit(data, parts, closed_form, config, drift, callback, cancel)
        report(0)
    else:
        report(0)
        estimate = entry.closed_form(data, parts, closed_form, config.seed)
    true_ds = data.truth.window_ep(starts, 2) if data.truth is not None else None
    summary = {"method": method, "ep_rate": estimate.rate, "ep_per_frame": estimate.rate * data.dt, "dt": data.dt,
               "input": str(data.path) if data.path else None, "movies": series(data),
               "frames": data.n_frames, "test_windows": estimate.transitions,
               "observed_time": estimate.transitions * data.dt, "seeds": [],
               "warnings": list((checks or {}).get("warnings", [])), **estimate.as_dict(),
               # The error bar is the estimator's own: the rate is quadratic in the fitted current (tur) or velocity
               # (sfi), and the verdict's blocks resample dS at the fitted values and leave that noise out (an error
               # bar 0.079 against 0.11 k_B/s for both on the bead-spring chain's 10^5 held-out steps); the
               # estimator's bootstrap refits it. A model-known estimate's dS is not the estimate at all.
               "ep_rate_err": estimate.rate_err,
               "ep_rate_ci95": [estimate.rate - 1.96 * estimate.rate_err, estimate.rate + 1.96 * estimate.rate_err]}
    if checks is not None:
        summary["input_checks"] = {k: v for k, v in checks.items() if k != "warnings"}
    report_held_out(summary, data, estimate.ds, starts, part, 2, true_ds, estimate.history,
                    of_transitions=entry.of_transitions)
    frame_shape = data.frame_shape if movie else tuple(data.data.shape[2:])
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CneepError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from e
    with locked(run_dir) if run_dir is not None else nullcontext():
        maps = None
        if estimate.coordinate_maps is not None:
            maps = _dissipation_maps(estimate, data, run_dir, report)
        report(report.total)
        summary["wall_s"] = time.perf_counter() - t0
        run = Run(config=config, dt=data.dt, pixel_size=getattr(data, "pixel_size", 1.0), frame_shape=frame_shape,
                  movie=starts // data.n_frames, frame=starts % data.n_frames, part=part,
                  ds=estimate.ds.astype(np.float32), maps=maps, summary=summary, true_ds=true_ds,
                  input=dict(data.provenance), closed_form=closed_form, history=estimate.history)
        if maps is not None and (part == TEST).any():
            run.add_map_uncertainty()
        if run_dir is not None:
            if estimate.network is not None:   # before the summary, which marks the run complete
                save_network(estimate.network, run_dir / NETWORK_FILE)
            run.save(run_dir)
    return run


def _dissipation_maps(estimate: Estimate, data: Movie, run_dir: Path | None, report: PhaseReporter) -> np.ndarray:
    """The map of every transition, ds_by_coordinate @ coordinate_maps: in memory, or (with `run_dir`, which must
    be held) into the folder's maps file, an earlier run's results cleared first, and memory-mapped from there.
    `report(transitions mapped)` as they go: a cancel before the first leaves the folder as it was, a later one
    leaves no maps file."""
    basis = estimate.coordinate_maps.reshape(len(estimate.coordinate_maps), -1)
    shape = (len(estimate.ds_by_coordinate), *estimate.coordinate_maps.shape[1:])
    step = max(1, MAP_BYTES // (8 * basis.shape[1]))

    def fill(maps: np.ndarray) -> None:
        flat = maps.reshape(len(maps), -1)
        for a in range(0, len(flat), step):
            report(a)
            flat[a:a + step] = estimate.ds_by_coordinate[a:a + step] @ basis

    report(0)
    if run_dir is None:
        maps = np.empty(shape, np.float32)
        fill(maps)
        return maps
    refuse_inputs(run_dir, [data.path] if data.path else [])
    try:
        clear(run_dir)
    except OSError as e:
        raise CneepError(f"{run_dir}: cannot clear the earlier run from the folder ({e.strerror or e})") from e
    with atomic_path(run_dir / MAPS_FILE) as tmp:
        maps = _map_file(tmp, shape, _maps_metadata(data.dt))
        fill(maps)
        maps.flush()
        del maps
    return tifffile.memmap(run_dir / MAPS_FILE, mode="r")
