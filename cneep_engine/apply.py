"""A trained run's models applied to new data without retraining: the EP of every window, the dissipation maps,
the EP rate with its error bar and the equilibrium test, written as a new run folder.

    run = trained_run("run")                        # refuses a folder without a trained model
    data = read_like(run, "new.tif")                # the run's channel and z-plane (trajectories: its kind)
    applied, movie = apply_run("run", data, "applied", run=run)   # preprocessed as the run's movie was

None of the new windows trained, validated or selected the model, so all of them are held out, and the verdict
is the one a run reports on its test part (`run.evaluate_run`). The new data must look to the model as its
training data did: the same frame size after the run's preprocessing, the same channel and the same frame
interval (dS per window depends on it), or the same coordinates or states; anything else is refused.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import Cancelled, CneepError
from .estimators import ESTIMATORS, estimator
from .export import save_input
from .io import Preprocess, load_movie, load_trajectories, prepare
from .movie import Movie
from .progress import Callback
from .run import Run, evaluate_run, load_run
from .run_folder import is_run_folder, locked
from .timearrow import input_report
from .trajectories import Trajectories
from .training import Evaluator, SeedRun
from .windows import frame_statistics

# Relative: some formats keep the interval in float32.
SAME_INTERVAL = 1e-6
# The model reads raw intensities scaled by its training frames' mean and s.d.: beyond these the new movie's
# intensities are not those it learned from (another exposure, gain or bit depth).
INTENSITY_SHIFT_SD = 0.5
INTENSITY_SD_RATIO = 2.0


def trained_run(run_dir: str | Path) -> Run:
    """The run in `run_dir`, refusing one with no trained model to apply."""
    run_dir = Path(run_dir)
    if run_dir.is_dir() and not is_run_folder(run_dir):
        raise CneepError(f"{run_dir}: not a run folder (no summary.json, config.json or model checkpoint): give "
                         "the folder that cneep train wrote")
    run = load_run(run_dir)
    model = run.config.model
    entry = estimator(model)
    if entry.fit is not None:
        neural = ", ".join(e.name for e in ESTIMATORS.values() if e.trained)
        raise CneepError(f"{run_dir}: a {model} run fits snapshots of a known model, and apply is for {neural} runs: "
                         f"run cneep train NEW --method {model} instead")
    if not entry.trained:
        raise CneepError(f"{run_dir}: a {model} run has no trained model to apply: {model} is training-free and "
                         f"fits new data in seconds, so run cneep train NEW --method {model} on it instead")
    if not run.models:
        raise CneepError(f"{run_dir}: no saved model to apply")
    return run


def read_like(run: Run, path: str | Path, *, channel: int | None = None, z: int | None = None,
              dt: float | None = None, pixel_size: float | None = None,
              id_column: str | None = None) -> Movie | Trajectories:
    """New data read as `run` read its own, before preprocessing (`apply_run` does that): a movie's channel and
    z-plane are the run's unless given; trajectories are of the run's kind."""
    if "movie" not in estimator(run.config.model).accepts:
        options = (("--channel", channel), ("--z", z), ("--pixel-size", pixel_size))
        given = [name for name, v in options if v is not None]
        if given:
            raise CneepError(f"{path}: {given[0]} applies to movies; the run's {run.config.model} model reads "
                             "trajectories")
        return load_trajectories(path, kind=run.input.get("kind"), dt=dt, id_column=id_column)
    if id_column is not None:
        raise CneepError(f"{path}: --id-column applies to CSV trajectories, not movies")
    ours = run.input.get("channel")
    try:
        return load_movie(path, channel=ours if channel is None else channel, z=run.input.get("z") if z is None else z,
                          dt=dt, pixel_size=pixel_size)
    except CneepError as e:
        if channel is not None or ours is None:
            raise
        raise CneepError(f"{e} (the run's model was trained on channel {ours}: name the matching channel with "
                         "--channel)") from e


def apply_run(run_dir: str | Path, data: Movie | Trajectories, out: str | Path, *, run: Run | None = None,
              device: str | None = None, check_channel: bool = True, callback: Callback | None = None,
              cancel: threading.Event | None = None) -> tuple[Run, Movie | Trajectories]:
    """The models of the run in `run_dir` (`run`, when already loaded) evaluated on every window of `data`, read
    as it was before preprocessing: the applied Run, written to the new folder `out`, and the data preprocessed
    as the run's. `check_channel=False` when the user named the channel of `data` that matches the run's.

    `data` without a frame interval of its own takes the run's, with a warning. Reports "evaluation" events to
    `callback`; setting `cancel` stops it (Cancelled) and leaves no `out`."""
    t0 = time.perf_counter()
    out = Path(out)
    if str(out) in ("", "."):
        raise CneepError("name a new folder for the results of apply")
    if out.exists():
        raise CneepError(f"{out}: already exists; apply writes its results into a new folder: name one that does "
                         "not exist")
    run = trained_run(run_dir) if run is None else run
    config = replace(run.config, device=device or run.config.device)
    estimator(config.model).check_reads(data)
    warnings = []
    prepared = _prepared(run, data, warnings)
    _check_match(run, prepared, check_channel)
    checks = None
    if isinstance(prepared, Movie):
        warnings += _other_intensities(run, prepared)
        checks = input_report(prepared)
    applied = {"run": str(Path(run_dir).resolve()), "model": config.model, "trained_on": run.summary.get("input"),
               "trained_ep_rate": run.summary["ep_rate"], "trained_ep_rate_err": run.summary.get("ep_rate_err"),
               "warnings": warnings}
    try:
        out.mkdir(parents=True)
    except FileExistsError:
        raise CneepError(f"{out}: already exists; apply writes its results into a new folder") from None
    except OSError as e:
        raise CneepError(f"{out}: cannot create the folder ({e.strerror or e})") from e
    try:
        with locked(out):
            if data.path is None:   # in memory only: saved beside the results, so the folder reopens with it
                prepared.path = save_input(replace(data), out)
            evaluator = Evaluator(prepared, config)
            seed_runs = [SeedRun(seed=s["seed"], model=model.to(evaluator.device), best_iteration=s["best_iteration"],
                                 best_val_loss=s["best_val_loss"] if s["best_val_loss"] is not None else np.inf,
                                 iterations=s["iterations"], stopped=s["stopped"],
                                 history=[e for e in run.history if e.seed == s["seed"]])
                         for s, model in zip(run.summary["seeds"], run.models)]
            result = evaluate_run(evaluator, seed_runs, out, t0, None, checks, callback, cancel, applied)
    except BaseException as e:
        # The folder is new and ours: a failed or cancelled apply leaves nothing behind, not half a result.
        shutil.rmtree(out, ignore_errors=True)
        if isinstance(e, Cancelled):
            raise Cancelled(f"{prepared.name}: applying the model of {run_dir} cancelled; nothing written") from None
        raise
    return result, prepared


def _prepared(run: Run, data: Movie | Trajectories, warnings: list[str]) -> Movie | Trajectories:
    """`data` preprocessed as the run's input was, its frame interval the run's when it has none of its own."""
    is_movie = isinstance(data, Movie)
    options = Preprocess.from_record(run.input.get("preprocess", {})) if is_movie else Preprocess()
    if data.dt_source == "default":
        dt = run.dt / options.frame_step
        warnings.append(f"{data.name}: no frame interval in the file; the run's, {dt:g} s, is assumed")
        data = replace(data, dt=dt, dt_source="run", provenance=dict(data.provenance, dt=dt, dt_source="run"))
    prepared = prepare(data, options) if is_movie else data
    if not np.isclose(prepared.dt, run.dt, rtol=SAME_INTERVAL, atol=0):
        step = f" after the run's frame step {options.frame_step}" if options.frame_step > 1 else ""
        raise CneepError(f"{data.name}: frames {prepared.dt:g} s apart{step} ({data.dt_source}), but the model "
                         f"was trained on frames {run.dt:g} s apart: the EP of a window depends on the interval, so "
                         "the model does not apply. If the file's interval is wrong, give the right one (--dt)")
    return prepared


def _check_match(run: Run, data: Movie | Trajectories, check_channel: bool) -> None:
    """Refuse data whose windows the model cannot read as it read its training windows."""
    if isinstance(data, Trajectories):
        model = run.models[0].describe()
        if data.kind != model["input"] or tuple(data.data.shape[2:]) != tuple(run.frame_shape):
            theirs = f"{data.n_coordinates} coordinate(s)" if data.kind == "coordinates" else "states"
            ours = f"{run.frame_shape[0]} coordinate(s)" if model["input"] == "coordinates" else "states"
            raise CneepError(f"{data.name}: holds {theirs}, but the model reads {ours}")
        if data.kind == "states" and data.n_states != model["n_states"]:
            raise CneepError(f"{data.name}: visits {data.n_states} states, but the model was trained on "
                             f"{model['n_states']}: the states would not be numbered alike")
        return
    if tuple(data.frame_shape) != tuple(run.frame_shape):
        h, w = data.frame_shape
        raise CneepError(f"{data.name}: frames of {h}x{w} px after the run's preprocessing, but the model reads "
                         f"{run.frame_shape[0]}x{run.frame_shape[1]} px frames")
    p, ours = data.provenance, run.input
    if check_channel and "channels" in ours and "channels" in p and (
            (p["channels"], p.get("channel")) != (ours["channels"], ours.get("channel"))):
        def which(record):
            picked = record.get("channel")
            return f"{'the first or grey' if picked is None else f'channel {picked}'} of {record['channels']}"
        raise CneepError(f"{data.name}: read as {which(p)} channel(s), but the model was trained on {which(ours)}: "
                         "name the channel that matches the run's (cneep apply --channel)")
    known = data.pixel_size_source != "default" and run.input.get("pixel_size_source", "default") != "default"
    if known and not np.isclose(data.pixel_size, run.pixel_size, rtol=1e-3):
        raise CneepError(f"{data.name}: pixels of {data.pixel_size:g} um after the run's preprocessing, but the "
                         f"model was trained on {run.pixel_size:g} um pixels: the same motion would look different "
                         "to it. If the file's pixel size is wrong, give the right one (--pixel-size)")


def _other_intensities(run: Run, movie: Movie) -> list[str]:
    """A warning when the movie's intensities are not those the model was trained on."""
    model = run.models[0]
    mean0, sd0 = float(model.mean), float(model.std)
    mean, sd = frame_statistics(movie.frames, np.zeros(movie.frames.shape[:2], np.int8))
    if abs(mean - mean0) <= INTENSITY_SHIFT_SD * sd0 and 1 / INTENSITY_SD_RATIO <= sd / sd0 <= INTENSITY_SD_RATIO:
        return []
    return [f"{movie.name}: pixel intensities of mean {mean:.4g} and s.d. {sd:.4g}, where the model's training "
            f"frames had {mean0:.4g} and {sd0:.4g}: the network reads raw intensities, so another exposure, gain "
            "or bit depth changes what it sees; train with --normalize for a model that does not depend on them"]
