"""A training run from start to result: estimators for each seed, held-out evaluation, the run folder.

    run = train(movie, TrainConfig(iterations=2000), callback=print)
    run.summary["ep_rate"]; run.save("run_dir")      # later: load_run("run_dir")
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tifffile
import torch

from . import distributed
from .errors import Cancelled, CneepError
from .estimators import ClosedFormConfig, estimator
from .io.atomic import atomic_path, write_json
from .map_uncertainty import MapUncertainty, bootstrap_uncertainty, seed_uncertainty
from .maps import time_average, upsample
from .metrics import compare
from .metrics import relative_error as _rel_err
from .models import CNEEP
from .movie import Movie
from .plan import Plan, plan_training
from .progress import PhaseReporter
from .run_folder import (CHECKPOINTS, MAPS_FILE, MEAN_MAP_FILE, SUMMARY_FILE, UNCERTAINTY_FILES, alive, beside, clear,
                         describe_holder, holder, locked, refuse_inputs)
from .sites import score_map
from .timearrow import describe_report, input_report
from .trajectories import Trajectories
from .training import (BROKEN, Callback, Evaluator, Progress, SeedRun, TrainConfig, Trainer, load_checkpoint,
                       read_log, save_checkpoint, write_log)
from .verdict import bound_test, convergence, resolves, verdict
from .windows import PARTS, window_starts

TEST = PARTS.index("test")
TRACE_CHUNK = 1 << 18
_PART_CODE = {name: i for i, name in enumerate(PARTS)} | {"none": -1}


@dataclass
class Run:
    """Everything a finished (or cancelled) run produced. Arrays are per evaluation window.

    Windows tile each movie (or trajectory) with stride seq_len - 1; with seq_len = 2 a window is one
    transition. Trajectories have no dissipation maps (maps is None); frame_shape is then the shape of one
    frame of the trajectory: (coordinates,), or () for discrete states. A training-free run (config.model tur or
    sfi, its settings in closed_form) has no models and no training history; of its config only the split and
    seed apply."""

    config: TrainConfig
    dt: float
    pixel_size: float
    frame_shape: tuple[int, int]
    movie: np.ndarray             # movie index of each window
    frame: np.ndarray             # first frame of each window
    part: np.ndarray              # 0 train, 1 val, 2 test, -1 straddles two parts
    ds: np.ndarray                # predicted EP of each window, averaged over seeds
    maps: np.ndarray | None       # (windows, h, w) dissipation maps, averaged over seeds; None for trajectories
    summary: dict
    true_ds: np.ndarray | None = None
    models: list[torch.nn.Module] = field(default_factory=list)
    history: list[Progress] = field(default_factory=list)
    input: dict = field(default_factory=dict)   # the movie's provenance: source file, reader, preprocessing
    closed_form: ClosedFormConfig | None = None
    map_uncertainty: MapUncertainty | None = None   # of mean_map, at frame resolution

    @property
    def window_time(self) -> float:
        return (self.config.seq_len - 1) * self.dt

    @property
    def mean_map(self) -> np.ndarray | None:
        """Time-averaged map over the held-out test windows, per unit time, at frame resolution."""
        if self.maps is None:
            return None
        return upsample(time_average(self.maps, self.part == TEST, self.window_time), self.frame_shape)

    def add_map_uncertainty(self, seed_maps: np.ndarray | None = None) -> None:
        """Set map_uncertainty, and record it as the summary's `map_uncertainty`: over seeds from their (K, h, w)
        time-averaged maps `seed_maps` (per unit time, at the maps' resolution), else by the block bootstrap of the
        held-out windows' maps. Left None with fewer than two blocks."""
        u = (seed_uncertainty(seed_maps) if seed_maps is not None
             else bootstrap_uncertainty(self.maps, self.movie, self.frame, self.part == TEST, self.window_time))
        if u is not None:
            self.map_uncertainty = u.at_resolution(self.frame_shape)
            self.summary["map_uncertainty"] = self.map_uncertainty.describe(self.mean_map)

    def write_mean_map(self, path: Path) -> None:
        """The time-averaged map as a float32 ImageJ TIFF calibrated for Fiji, and beside it its standard error
        (`_sem`) and, over seeds, their spread (`_seed_spread`), when known."""
        images = {path: (self.mean_map, "EP rate per pixel (k_B/s), test windows")}
        u = self.map_uncertainty
        if u is not None:
            images[beside(path, "sem")] = (u.sem, f"standard error of the EP rate per pixel (k_B/s), {u.method}")
            if u.seed_spread is not None:
                images[beside(path, "seed_spread")] = (u.seed_spread, "standard deviation over seeds of the EP "
                                                                      "rate per pixel (k_B/s)")
        res = (1 / self.pixel_size, 1 / self.pixel_size)
        for target, (image, info) in images.items():
            with atomic_path(target) as tmp:
                tifffile.imwrite(tmp, np.asarray(image, np.float32), imagej=True, resolution=res,
                                 metadata={"axes": "YX", "unit": "um", "Info": info})

    def cumulative(self, ds: np.ndarray) -> np.ndarray:
        """Cumulative EP along each movie."""
        out = np.empty_like(ds, dtype=np.float64)
        for m in np.unique(self.movie):
            sel = self.movie == m
            out[sel] = np.cumsum(ds[sel])
        return out

    def save(self, run_dir: str | Path) -> Path:
        """Write the run folder, holding its lock. summary.json, which marks a complete run, is removed first
        and written last, so a save that fails half-way leaves a folder that says it is incomplete."""
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CneepError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from e
        self._record_input(run_dir)
        refuse_inputs(run_dir, [self.summary["input"]] if self.summary.get("input") else [])
        with locked(run_dir):
            (run_dir / SUMMARY_FILE).unlink(missing_ok=True)
            ours = {f"model_seed{seed['seed']}.pt" for seed in self.summary.get("seeds", [])}
            for old in run_dir.glob(CHECKPOINTS):      # an earlier run's other seeds
                if old.name not in ours:
                    old.unlink()
            for name in UNCERTAINTY_FILES:   # an earlier run's, unless this run writes its own
                (run_dir / name).unlink(missing_ok=True)
            if self.maps is not None:
                self.write_mean_map(run_dir / MEAN_MAP_FILE)
                # evaluate_run writes them there already; the lock keeps any other process from replacing them
                if not _is_file(self.maps, run_dir / MAPS_FILE):
                    with atomic_path(run_dir / MAPS_FILE) as tmp:
                        tifffile.imwrite(tmp, self.maps, imagej=True, metadata=_maps_metadata(self.window_time))
            else:   # a trajectory run saved over a movie run must not leave that run's maps behind
                for name in (MEAN_MAP_FILE, MAPS_FILE):
                    (run_dir / name).unlink(missing_ok=True)
            self.write_trace(run_dir / "ep_trace.csv")
            if self.history:
                write_log(run_dir / "train_log.csv", self.history)
            else:   # nor an earlier run's log beside a training-free run
                (run_dir / "train_log.csv").unlink(missing_ok=True)
            for seed, model in zip(self.summary.get("seeds", []), self.models):
                save_checkpoint(model, run_dir / f"model_seed{seed['seed']}.pt", **seed)
            if self.closed_form is None:
                settings = {"train": asdict(self.config)}
            else:
                shared = estimator(self.config.model).shared
                settings = {"train": {k: getattr(self.config, k) for k in ("model", "seq_len", *shared)},
                            "closed_form": asdict(self.closed_form)}
            write_json(run_dir / "config.json", {**settings, "dt": self.dt,
                                                 "pixel_size": self.pixel_size, "frame_shape": list(self.frame_shape),
                                                 "models": [m.describe() for m in self.models],
                                                 "input": self.input})
            write_json(run_dir / SUMMARY_FILE, self.summary)
        return run_dir

    def _record_input(self, run_dir: Path) -> None:
        """The input's absolute path, and its path from the run folder, so the run reopens from any working
        directory and after the folder and its input move together."""
        source = self.summary.get("input") or self.input.get("source")
        if not source:
            return
        source = Path(source).resolve()
        self.summary["input"] = self.input["source"] = str(source)
        try:
            self.input["source_from_run"] = os.path.relpath(source, run_dir.resolve())
        except ValueError:   # another drive (Windows): no relative path
            self.input.pop("source_from_run", None)

    def write_trace(self, path: Path) -> None:
        """EP of every window and its cumulative sum along each movie, as CSV."""
        cols = {"movie": self.movie, "frame": self.frame, "time": self.frame * self.dt,
                "part": np.array(PARTS + ("none",))[self.part],  # index -1 is "none"
                "ds": self.ds, "cumulative_ds": self.cumulative(self.ds)}
        if self.true_ds is not None:
            cols.update(true_ds=self.true_ds, true_cumulative_ds=self.cumulative(self.true_ds))
        with atomic_path(path) as tmp:
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(cols)
                # In chunks: text columns of millions of windows at once would cost more memory than the run.
                for a in range(0, len(self.ds), TRACE_CHUNK):
                    chunk = [c[a:a + TRACE_CHUNK] for c in cols.values()]
                    w.writerows(zip(*[c.tolist() if c.dtype.kind != "f" else np.char.mod("%.9g", c) for c in chunk]))


@torch.no_grad()
def evaluate(trainer: Evaluator, models: list[torch.nn.Module], starts: np.ndarray, maps_file: Path | None = None,
             report: PhaseReporter | None = None, held_out: np.ndarray | None = None):
    """Seed-averaged EP and dissipation map of each window (None without CNEEP), each seed's EP, and each seed's
    mean map over the `held_out` windows (None without CNEEP or `held_out`), at the maps' resolution, per window.
    `report(windows done, over all seeds)` before each batch; it may raise Cancelled.

    Results go straight into arrays allocated once: many small per-batch outputs kept alive between the
    batches' large, freed activations fragment the heap, and the process grew by about 13 kB per window
    (5.7 GB for 400,000 windows of 20x40 px; a 4-million-window movie ran out of memory). With `maps_file`
    the maps are written into that TIFF through a memory map instead of memory (0.8 GB for those 4 M windows)."""
    n = len(starts)
    per_seed = np.empty((len(models), n), np.float32)
    idx = torch.from_numpy(starts).to(trainer.device)
    maps = seed_maps = None
    for k, model in enumerate(models):
        if not isinstance(model, CNEEP):
            per_seed[k] = trainer.predict(model, idx, report and (lambda a, k=k: report(k * n + a))).cpu().numpy()
            continue
        if maps is None:
            shape = (n, *model.feature_shape[1:])
            maps = np.zeros(shape, np.float32) if maps_file is None else _map_file(
                maps_file, shape, _maps_metadata((trainer.config.seq_len - 1) * trainer.data.dt))
            if held_out is not None:
                seed_maps = np.zeros((len(models), *shape[1:]), np.float64)
        a = 0
        for s in idx.split(trainer.eval_batch):
            if report is not None:
                report(k * n + a)
            ds, m = model.ep_and_map(trainer.gather(s))
            m = m.cpu().numpy()
            per_seed[k, a:a + len(s)] = ds.cpu().numpy()
            maps[a:a + len(s)] += m
            if seed_maps is not None:
                seed_maps[k] += m[held_out[a:a + len(s)]].sum(axis=0, dtype=np.float64)
            a += len(s)
    if maps is not None:
        maps /= len(models)
    if seed_maps is not None:
        seed_maps /= max(np.count_nonzero(held_out), 1)
    return per_seed.mean(0), maps, per_seed, seed_maps


def train(movie: Movie | Trajectories, config: TrainConfig = TrainConfig(), callback: Callback | None = None,
          cancel: threading.Event | None = None, run_dir: str | Path | None = None,
          checks: dict | None = None, closed_form: ClosedFormConfig = ClosedFormConfig()) -> Run:
    """Train `config.seeds` estimators on `movie` (or trajectories) and evaluate them on the held-out test part.
    A training-free config.model (tur, sfi) runs `estimators.report.run_estimator` with `closed_form` instead.

    With `run_dir`, checkpoints and the training log are written as training goes, so a cancelled or
    crashed run keeps its best models; the full results are written at the end.

    A movie's time arrows that are not dissipation (`timearrow.input_report`; `checks` when already made) go
    into the summary as `input_checks`, their warnings first among its `warnings`.

    Under torchrun (WORLD_SIZE > 1) the ranks train together with DistributedDataParallel and each returns
    the same Run; only rank 0 calls `callback` and writes `run_dir`."""
    t0 = time.perf_counter()
    if run_dir is not None and str(run_dir) == "":
        raise CneepError("an empty run folder name would write into the current folder; name a folder")
    if not estimator(config.model).trained:
        from .estimators.report import run_estimator   # it builds on this module
        return run_estimator(movie, config, closed_form, callback, cancel, run_dir, checks)
    plan = plan_training(movie, config, timed=False)   # the batch lowered to fit memory, if it must be
    trainer = Trainer(movie, plan.config)   # every setting checked and a model built before the folder is touched
    if run_dir is not None and movie.path is not None:
        refuse_inputs(Path(run_dir), [movie.path])
    if checks is None and isinstance(movie, Movie):
        checks = input_report(movie)
    with distributed.session(trainer.device):
        return _train(trainer, callback, cancel, run_dir, t0, plan, checks)


def _train(trainer: Trainer, callback: Callback | None, cancel: threading.Event | None,
           run_dir: str | Path | None, t0: float, plan: Plan, checks: dict | None) -> Run:
    if not distributed.is_main():
        callback = run_dir = None
    if run_dir is None:
        return evaluate_run(trainer, _train_seeds(trainer, callback, cancel, None, checks), None, t0, plan, checks,
                            callback, cancel)
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CneepError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from e
    with locked(run_dir):
        try:
            # What an earlier run left here goes now, not when this run's results replace it: a run that
            # crashes must not leave a folder that reopens as the old run with this run's model in it.
            clear(run_dir)
        except OSError as e:
            raise CneepError(f"{run_dir}: cannot clear the earlier run from the folder ({e.strerror or e})") from e
        return evaluate_run(trainer, _train_seeds(trainer, callback, cancel, run_dir, checks), run_dir, t0, plan,
                            checks, callback, cancel)


def _train_seeds(trainer: Trainer, callback: Callback | None, cancel: threading.Event | None,
                 run_dir: Path | None, checks: dict | None) -> list[SeedRun]:
    """Each seed's best model; seeds cancelled before their first validation have none and are left out.

    A cancel that ended training is cleared: it asked for the best models so far, evaluated. Setting it again
    stops the held-out evaluation."""
    config = trainer.config
    seed_runs = []
    for i in range(config.seeds):
        seed = config.seed + i
        seed_runs.append(trainer.train_seed(
            seed, i, callback, cancel,
            checkpoint=run_dir / f"model_seed{seed}.pt" if run_dir else None,
            log=run_dir / "train_log.csv" if run_dir else None))
        if seed_runs[-1].stopped == "cancelled":
            cancel.clear()
            break
    validated = [r for r in seed_runs if r.best_iteration]
    if not validated and any(r.stopped in BROKEN for r in seed_runs):
        raise CneepError(f"{trainer.data.name}: no model to keep. "
                         + " ".join(training_warnings(seed_runs, checks, trainer.train_windows)))
    if not validated:
        raise CneepError(f"{trainer.data.name}: cancelled at iteration {seed_runs[-1].iterations}, before the "
                         f"first validation (every {config.eval_every} iterations, --eval-every): no trained "
                         "model to evaluate")
    return validated


def training_warnings(seed_runs: list[SeedRun], checks: dict | None = None,
                      train_windows: int | None = None) -> list[str]:
    """Plain sentences for seeds whose training broke off: what happened, what was kept, the likely causes, and
    what the input checks measured (`train_windows`: how many windows the network trained on)."""
    measured = f" Measured on this movie: {'; '.join(describe_report(checks))}." if checks else ""
    out = []
    for r in seed_runs:
        last = next((e for e in reversed(r.history) if e.val_loss is not None), None)
        kept = (f"the model of iteration {r.best_iteration}, validated before that, is kept" if r.best_iteration
                else "no model had been validated before that")
        if r.stopped == "ran away":
            out.append(
                f"Seed {r.seed}: training ran away at iteration {r.iterations} and was stopped ({kept}). On held-out "
                f"windows <exp(-dS)> reached {np.exp(min(last.val_log_ift, 700.0)):.3g}, where a true EP gives 1: "
                "the network tells the training frames from their reverses by something that is not dissipation "
                "or does not carry over to new frames. Likely causes: drift of the sample or the stage, "
                "bleaching, lossy video compression, a movie that changes over time, or too few frames for the "
                f"network.{measured} Treat the rate as unreliable until the cause is removed.")
        elif r.stopped == "overfitted":
            windows = f"its {train_windows} training windows" if train_windows else "its training windows"
            out.append(
                f"Seed {r.seed}: from iteration {r.best_iteration} on the network learned {windows} by heart: "
                f"their EP rate rose to {last.train_rate:.3g} k_B/s while on held-out windows it went to "
                f"{last.val_rate:.3g}, so training was stopped at iteration {r.iterations} ({kept}). That is too "
                "little data for the network, not a time arrow of the movie: the kept model's result stands, but "
                "more frames (a longer movie or more movies) or a smaller network (fewer --channels) would let it "
                "learn more.")
        elif r.stopped == "diverged":
            out.append(f"Seed {r.seed}: the loss became infinite or NaN at iteration {r.iterations} and training "
                       f"was stopped ({kept}); lower the learning rate (--lr) or look for a time arrow that is not "
                       "dissipation (drift, bleaching, compression).")
    return out


def evaluate_run(trainer: Evaluator, seed_runs: list[SeedRun], run_dir: Path | None = None,
                 t0: float | None = None, plan: Plan | None = None, checks: dict | None = None,
                 callback: Callback | None = None, cancel: threading.Event | None = None,
                 applied: dict | None = None) -> Run:
    """Evaluate trained estimators on every window of the trainer's data and report on the held-out test part:
    the Run and, with `run_dir`, its folder. Also re-evaluates saved models (see bench/evaluate_checkpoint.py)
    and applies them to new data (an `Evaluator`, all of whose windows are held out; `applied` says whose models
    they are and goes into the summary, its `warnings` among the run's).

    Reports "evaluation" events to `callback`. Setting `cancel` raises Cancelled, whose `kept` holds the
    trained seeds; the run folder then keeps their checkpoints and log, and no result (no summary.json)."""
    t0 = time.perf_counter() if t0 is None else t0
    run_dir = Path(run_dir) if run_dir is not None else None
    movie, config = trainer.data, trainer.config
    starts, part = window_starts(trainer.parts, config.seq_len, stride=config.seq_len - 1)
    models = [r.model for r in seed_runs]
    kept = (f"the trained model{'s are' if len(models) > 1 else ' is'} kept"
            + (f" in {run_dir} ({', '.join(f'model_seed{r.seed}.pt' for r in seed_runs)})" if run_dir else ""))
    report = PhaseReporter("evaluation", len(models) * len(starts), callback, cancel,
                           f"{movie.name}: held-out evaluation", "windows", f"; no EP rate and no maps; {kept}",
                           n_seeds=len(models))
    try:
        if run_dir is not None and any(isinstance(m, CNEEP) for m in models):
            # The per-window maps go straight into the run folder, whole or not at all, and are then read from there.
            with atomic_path(run_dir / MAPS_FILE) as tmp:
                ds, maps, per_seed, seed_maps = evaluate(trainer, models, starts, maps_file=tmp, report=report,
                                                         held_out=part == TEST)
                maps.flush()
                del maps
            maps = tifffile.memmap(run_dir / MAPS_FILE, mode="r")
        else:
            ds, maps, per_seed, seed_maps = evaluate(trainer, models, starts, report=report, held_out=part == TEST)
        report(report.total)
    except Cancelled as e:
        e.kept = seed_runs
        raise
    n_frames = movie.n_frames
    movie_idx, frame_idx = starts // n_frames, starts % n_frames
    true_ds = movie.truth.window_ep(starts, config.seq_len) if movie.truth is not None else None

    test = part == TEST
    rate = trainer.rate
    seeds = []
    for r, pred in zip(seed_runs, per_seed):
        # test_loss is the training objective; loss_based_rate is always the NEEP bound 1 - <exp(-dS) - dS>.
        loss = float(trainer.loss(torch.from_numpy(pred[test])).mean())
        neep = float(np.mean(np.exp(-pred[test]) - pred[test]))
        entry = {"seed": r.seed, "ep_rate": rate(float(pred[test].mean())), "test_loss": loss,
                 "loss_based_rate": rate(1 - neep), "best_iteration": r.best_iteration,
                 "iterations": r.iterations, "best_val_loss": r.best_val_loss, "stopped": r.stopped}
        if true_ds is not None:
            entry["r2"] = compare(pred[test], true_ds[test])["r2"]
        seeds.append(entry)
    best = min(range(len(seed_runs)), key=lambda i: seed_runs[i].best_val_loss)
    rates = [s["ep_rate"] for s in seeds]
    summary = {
        "ep_rate": float(np.mean(rates)),
        "ep_rate_std": float(np.std(rates, ddof=1)) if len(rates) > 1 else None,
        "ep_per_frame": float(np.mean(rates)) * movie.dt,
        "dt": movie.dt,
        "loss_based_rate": float(np.mean([s["loss_based_rate"] for s in seeds])),
        "iterations": seeds[best]["iterations"],
        "best_iteration": seeds[best]["best_iteration"],
        "stopped": seeds[best]["stopped"],
        "wall_s": time.perf_counter() - t0,
        "device": trainer.device_label,
        "input": str(movie.path) if movie.path else None,
        "movies": trainer.parts.shape[0], "frames": movie.n_frames,
        "test_windows": int(test.sum()),
        "seeds": seeds,
        # sentences for the user; every check appends its own
        "warnings": ((checks or {}).get("warnings", []) + (applied or {}).get("warnings", [])
                     + training_warnings(seed_runs, checks, trainer.train_windows)),
    }
    if applied is not None:
        summary["applied"] = {k: v for k, v in applied.items() if k != "warnings"}
    if plan is not None:
        summary["plan"] = plan.as_dict()
    if checks is not None:
        summary["input_checks"] = {k: v for k, v in checks.items() if k != "warnings"}
    history = [e for r in seed_runs for e in r.history]
    # On the seed-averaged dS, as ep_rate
    report_held_out(summary, movie, ds, starts, part, config.seq_len, true_ds, history)
    run = Run(config=config, dt=movie.dt, pixel_size=getattr(movie, "pixel_size", 1.0),
              frame_shape=tuple(trainer.values.shape[2:]), movie=movie_idx, frame=frame_idx, part=part,
              ds=ds, maps=maps,
              summary=summary, true_ds=true_ds, models=models, history=history,
              input=dict(movie.provenance))
    sites = movie.truth.sites if movie.truth is not None else None
    if maps is not None and sites is not None and test.any():
        summary["truth"]["map"] = score_map(run.mean_map, sites)
    if maps is not None and test.any():
        run.add_map_uncertainty(seed_maps / run.window_time if len(models) > 1 else None)
    if run_dir is not None:
        run.save(run_dir)
    return run


def report_held_out(summary: dict, data: Movie | Trajectories, ds: np.ndarray, starts: np.ndarray, part: np.ndarray,
                    seq_len: int, true_ds: np.ndarray | None, history: list[Progress] = (),
                    of_transitions: bool = True) -> None:
    """Add to `summary` (which holds `ep_rate`) what every run reports on its held-out test windows, from the dS of
    each window (`window_starts` order): the verdict (error bar, equilibrium test, noise floor, convergence) and,
    when `data` has ground truth (`true_ds`), how dS compares with the exact EP and the rate with the two-frame
    ceiling. An error bar already in `summary` (an estimator's own) is kept.

    A model-known estimate (not `of_transitions`) measures sigma from snapshots, so the two-frame ceiling does not
    bound it; its verdict is its lower bound's (`bound_test`, from `bounds` and `lower_bound_err` in `summary`,
    with its own `ep_rate_err`), and its convergence that of the validations up to the network it kept; its dS,
    each transition's v(x_mid)^T D^-1 dx, goes into `transitions` with its rate and whether it `resolves` the
    estimate, and only then is compared with the exact EP of the windows (`model_known_verdict`)."""
    movie_idx, frame_idx = starts // data.n_frames, starts % data.n_frames
    test = part == TEST
    window_time = (seq_len - 1) * data.dt
    if of_transitions:
        stats = verdict(ds, movie_idx, frame_idx, test, window_time, history)
        summary["warnings"] += stats.pop("warnings")
        summary.update({k: v for k, v in stats.items() if k not in summary})
        resolved = True
    else:
        resolved = model_known_verdict(summary, ds, movie_idx, frame_idx, test, window_time, history)
    if true_ds is None:
        return
    t = data.truth
    empirical = float(true_ds[test].mean()) / window_time
    summary["truth"] = {"sigma": t.sigma, **(compare(ds[test], true_ds[test]) if resolved else {}),
                        "rel_err_sigma": _rel_err(summary["ep_rate"], t.sigma),
                        "empirical_rate": empirical, "rel_err_empirical": _rel_err(summary["ep_rate"], empirical)}
    if of_transitions:
        summary["truth"].update(sigma_2pt=t.sigma_2pt, rel_err_2pt=_rel_err(summary["ep_rate"], t.sigma_2pt))
        if not t.params.get("sigma_2pt_exact", True):   # sigma_2pt then holds sigma, its upper bound
            summary["truth"]["sigma_2pt_exact"] = False
    if "hidden" in t.params:
        # sigma holds EP that these data cannot show (an active particle's propulsion in a movie): no estimate is
        # measured against it; the sentence says what is hidden and what the data can reach.
        del summary["truth"]["rel_err_sigma"]
        summary["truth"]["hidden"] = t.params["hidden"]
        if not t.params.get("sigma_2pt_exact", True):   # nothing in reach is known: sigma_2pt and ds hold sigma's
            summary["truth"].pop("rel_err_2pt", None)
            del summary["truth"]["rel_err_empirical"]
    if t.observed_window_ep is not None:
        # Partial observation: the test windows' best reachable EP, and how close each window's estimate is.
        best = t.best_window_ep(data.data, starts[test], seq_len)
        best_rate = float(best.mean()) / window_time
        summary["truth"]["observed"] = {"ep_rate": best_rate, "rel_err": _rel_err(summary["ep_rate"], best_rate),
                                        **compare(ds[test], best)}


def model_known_verdict(summary: dict, ds: np.ndarray, movie: np.ndarray, frame: np.ndarray, test: np.ndarray,
                        window_time: float, history: list[Progress]) -> bool:
    """Add a model-known estimate's verdict to its `summary` (see `report_held_out`) and return whether its frames
    resolve single transitions."""
    trace_err = verdict(ds, movie, frame, test, window_time)["ep_rate_err"]
    trace = float(ds[test].mean()) / window_time if test.any() else float("nan")
    resolved = resolves(trace, trace_err, summary)
    summary["transitions"] = {"ep_rate": trace, "ep_rate_err": trace_err, "resolved": resolved}
    if summary.get("start_from") and summary["training"]["best_iteration"] == 0:   # judged in its own run
        converged, notes = None, [f"the network started from ({summary['start_from']}) was kept: no step here "
                                  "improved it on the validation snapshots"]
    else:
        converged, notes = convergence(history, summary["ep_rate_err"], kept_best=True)
    summary["warnings"] += [n for n in notes if n not in summary["warnings"]]   # once, when judged again on load
    summary.update(bound_test(summary["bounds"]["lower"], summary["lower_bound_err"]), converged=converged)
    return resolved


def load_run(run_dir: str | Path) -> Run:
    """Open a saved run folder again, without retraining."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CneepError(f"{run_dir}: no such run folder")
    if not (run_dir / SUMMARY_FILE).is_file():
        info = holder(run_dir)
        why = (f"a run is writing it now ({describe_holder(info)})" if info and alive(info) else
               "no summary.json: the run that wrote it did not finish (its checkpoints and train_log.csv, if any, "
               "show how far it got)")
        raise CneepError(f"{run_dir}: not a complete run folder; {why}")
    try:
        cfg = json.loads((run_dir / "config.json").read_text())
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
        with open(run_dir / "ep_trace.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        method = estimator(cfg["train"].get("model", "cneep"))
        has_maps = "movie" in method.accepts   # trajectory runs have none
        maps = _read_maps(run_dir / MAPS_FILE) if has_maps else None
        closed_form = method.settings(**cfg["closed_form"]) if "closed_form" in cfg else None
        # runs trained before the weight average had none
        config = TrainConfig(**{**({} if closed_form else {"average": 0.0}), **cfg["train"]})
        col = lambda name, dtype: np.array([r[name] for r in rows], dtype=dtype)  # noqa: E731
        movie, frame, ds = col("movie", np.int64), col("frame", np.int64), col("ds", np.float32)
        part = np.array([_PART_CODE[r["part"]] for r in rows], dtype=np.int8)
        true_ds = col("true_ds", np.float64) if rows and "true_ds" in rows[0] else None
        seeds = [s["seed"] for s in summary.get("seeds", [])]
        dt, pixel_size, frame_shape = cfg["dt"], cfg["pixel_size"], tuple(cfg["frame_shape"])
        uncertainty = _read_uncertainty(run_dir, summary.get("map_uncertainty")) if has_maps else None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CneepError(f"{run_dir}: not a complete run folder ({type(e).__name__}: {e})") from e
    if has_maps and (maps.ndim < 2 or maps.size != len(rows) * maps.shape[-2] * maps.shape[-1]):
        raise CneepError(f"{run_dir}: {MAPS_FILE} holds maps of shape {maps.shape} but ep_trace.csv has "
                         f"{len(rows)} windows: the files come from different runs")
    missing = [f"model_seed{s}.pt" for s in seeds if not (run_dir / f"model_seed{s}.pt").is_file()]
    if missing:
        raise CneepError(f"{run_dir}: no saved model ({', '.join(missing)} missing): the run's results are there "
                         "but not the trained model they came from")
    models = [load_checkpoint(run_dir / f"model_seed{s}.pt") for s in seeds]
    log = run_dir / "train_log.csv"
    try:
        history = read_log(log, len(seeds), config.iterations) if log.is_file() else []
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CneepError(f"{log}: not a readable training log ({type(e).__name__}: {e})") from e
    if not method.of_transitions and "transitions" not in summary:   # saved when its verdict was the trace's
        if not model_known_verdict(summary, ds.astype(np.float64), movie, frame, part == TEST, dt, history):
            for key in ("r2", "slope", "rmse"):
                summary.get("truth", {}).pop(key, None)
    return Run(config=config, dt=dt, pixel_size=pixel_size, frame_shape=frame_shape, movie=movie, frame=frame,
               part=part, ds=ds,
               maps=maps.reshape(len(rows), *maps.shape[-2:]) if has_maps else None,
               summary=summary, true_ds=true_ds, models=models, history=history, input=cfg.get("input", {}),
               closed_form=closed_form, map_uncertainty=uncertainty)


def _read_uncertainty(run_dir: Path, recorded: dict | None) -> MapUncertainty | None:
    """The map's uncertainty as `Run.save` wrote it; None for runs that recorded none."""
    if recorded is None:
        return None
    mean_map = run_dir / MEAN_MAP_FILE
    seeds = recorded["method"] == "seeds"
    return MapUncertainty(recorded["method"], tifffile.imread(beside(mean_map, "sem")),
                          tifffile.imread(beside(mean_map, "seed_spread")) if seeds else None,
                          seeds=recorded.get("seeds"), blocks=recorded.get("blocks"))


def _maps_metadata(window_time: float) -> dict:
    """ImageJ metadata of the per-window map stack: one map per window, window_time apart."""
    return {"axes": "TYX", "finterval": window_time}


def _map_file(path: Path, shape: tuple, metadata: dict) -> np.memmap:
    """A new ImageJ TIFF of float32 maps at `path`, memory-mapped for writing.

    Its disk space is reserved first: writing into a memory map on a full disk would kill the process
    (SIGBUS) instead of raising an error that names the file."""
    maps = tifffile.memmap(path, shape=shape, dtype=np.float32, imagej=True, metadata=metadata)
    if hasattr(os, "posix_fallocate"):
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        finally:
            os.close(fd)
    return maps


def _read_maps(path: Path) -> np.ndarray:
    """The per-window maps of a run folder, memory-mapped when the file allows it (ours always does), so
    opening a long run does not load them."""
    try:
        return tifffile.memmap(path, mode="r")
    except ValueError:   # not contiguous, e.g. re-saved by another program
        return tifffile.imread(path)


def _is_file(a: np.ndarray, path: Path) -> bool:
    """Whether `a` is a memory map (or a view of one) of the file at `path`."""
    name = getattr(a, "filename", None)
    return name is not None and path.exists() and Path(name).resolve() == path.resolve()
