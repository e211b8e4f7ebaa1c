"""`cneep`: the engine from the command line. Errors a user can fix end in one line and exit code 2."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from pathlib import Path

from . import allocator, bench
from .errors import CneepError
from .io import input_formats
from .io.preprocess import Preprocess
from .params import add_options, from_options, specs
from .estimators import ESTIMATORS, estimators_for
from .registry import SYSTEMS
from .training import STOPS, Progress, TrainConfig


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="write a synthetic movie or trajectories with exact entropy production")
    systems = p.add_subparsers(dest="system", required=True)
    for system in SYSTEMS.values():
        q = systems.add_parser(system.name, help=system.summary, description=system.summary,
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        for config in system.configs:
            add_options(q, config)
        files = (["movie (.tif)"] if "movie" in system.kinds else []) + \
                ([f"{k} (.npy, .npz or .csv)" for k in system.kinds if k != "movie"])
        q.add_argument("-o", "--output", type=Path, required=True, help=" or ".join(files))
        q.add_argument("--reuse", action="store_true", help="when OUTPUT exists with a ground truth simulated with "
                       "these same settings, keep it instead of simulating again (the file is the cache of a long "
                       "simulation); with other settings, stop and say which differ")
        if system.reports:
            q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _run_folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name would write the run into the current folder; name a folder")
    return Path(text)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train an EP estimator on a movie or trajectories and write a run folder",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", type=Path, help=f"movie or trajectories ({input_formats()}); NAME.truth.npz "
                   "beside it is used as ground truth")
    p.add_argument("-o", "--output", type=_run_folder, required=True, help="run folder")
    p.add_argument("--method", "--model", dest="method", choices=list(ESTIMATORS), help="the estimator: "
                   + "; ".join(f"{e.name}: {e.summary} (for {', '.join(e.accepts)})" for e in ESTIMATORS.values())
                   + ". Unset: cneep, or neep for a CSV, an .npz of 'coordinates'/'states' or a 1-D/2-D .npy. See "
                   "cneep list")
    add_options(p, TrainConfig)
    added: set[str] = set()   # a setting of the same name in two classes (bootstrap) is one option for both
    for settings in dict.fromkeys(e.settings for e in ESTIMATORS.values() if e.settings is not None):
        add_options(p, settings, skip=tuple(added))
        added |= {q.name for q in specs(settings)}
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores); fewer can be "
                   "faster on a machine busy with other work")
    _add_input_options(p)
    p.add_argument("--crop", metavar="Y0:Y1,X0:X1", help="region of interest in pixels, ends exclusive")
    p.add_argument("--time-range", metavar="T0:T1", help="frames T0 to T1 (exclusive); T1 may be left out")
    add_options(p, Preprocess)   # crop and time range above: text to parse
    _add_trajectory_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_input_options(p) -> None:
    p.add_argument("--channel", type=int, help="channel to read (hyperstack C, or colour 0 red 1 green 2 blue; "
                   "unset: the first channel, grey for colour)")
    p.add_argument("--z", type=int, help="z-plane to read; unset: the first")
    p.add_argument("--dt", type=float, help="frame interval of the file's frames in s, overriding its metadata")
    p.add_argument("--pixel-size", type=float, help="micrometres per pixel, overriding the file's metadata")


def _add_trajectory_options(p) -> None:
    p.add_argument("--kind", choices=["coordinates", "states"], help="read the input as trajectories of this "
                   "kind (needed for a 3-D .npy of coordinates, which could also be a movie)")
    p.add_argument("--id-column", help="CSV column naming the trajectory of each row (default: one called "
                   "trajectory, track, track_id, particle or id)")


def _add_apply(sub) -> None:
    p = sub.add_parser("apply", help="apply the trained model of a run to new data, without retraining: EP per "
                       "window, the maps, the EP rate with its error bar and the equilibrium test, in a new folder")
    p.add_argument("run", type=Path, help="run folder written by cneep train (cneep, neep or rneep)")
    p.add_argument("input", type=Path, help="the new movie or trajectories, read and preprocessed as the run's "
                   "were; NAME.truth.npz beside it is used as ground truth")
    p.add_argument("-o", "--output", type=_run_folder, required=True, help="new folder for the results; it must "
                   "not exist")
    p.add_argument("--channel", type=int, help="the input's channel that matches the run's (unset: the run's)")
    p.add_argument("--z", type=int, help="z-plane to read (unset: the run's)")
    p.add_argument("--dt", type=float, help="frame interval of the input's frames in s, overriding its metadata; "
                   "it must be the run's (unset and not in the file: the run's is assumed)")
    p.add_argument("--pixel-size", type=float, help="micrometres per pixel, overriding the input's metadata")
    p.add_argument("--id-column", help="CSV column naming the trajectory of each row")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (unset: the run's)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _apply(args) -> None:
    from .apply import apply_run, read_like, trained_run
    run = trained_run(args.run)
    data = read_like(run, args.input, channel=args.channel, z=args.z, dt=args.dt, pixel_size=args.pixel_size,
                     id_column=args.id_column)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: (cancel.set(), signal.signal(signal.SIGINT, previous)))
    try:
        applied, _ = apply_run(args.run, data, args.output, run=run, device=args.device,
                               check_channel=args.channel is None, callback=None if args.quiet else ProgressBar(),
                               cancel=cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
    s = run.summary
    err = f" ± {s['ep_rate_err']:.2g}" if s.get("ep_rate_err") is not None else ""
    print(f"the {run.config.model} model of {args.run} (EP rate {s['ep_rate']:.4g}{err} k_B/s on its own test part), "
          f"applied to every window of {args.input}:")
    _print_result(applied.summary, run.config, args.output)


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="show what a movie or trajectory file holds: shape, frame interval, "
                       "pixel size, channels or coordinates")
    p.add_argument("input", type=Path, help=f"movie or trajectories ({input_formats()})")
    _add_input_options(p)
    _add_trajectory_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_list(sub) -> None:
    p = sub.add_parser("list", help="the estimators and synthetic systems, with their parameters")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _list(args) -> None:
    import json

    from .registry import listing
    everything = listing()
    if args.json:
        print(json.dumps(everything))
        return
    for title, key, what in (("estimators", "estimators", "accepts"), ("systems", "systems", "kind")):
        print(f"{title}:")
        for entry in everything[key]:
            print(f"  {entry['name']:<12} {entry['summary']} ({what}: {', '.join(entry[what])})")
            options = " ".join(p["option"] for p in entry["params"])
            print(f"  {'':<12} options: {options}")


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="draw a run's dissipation map over its movie as a figure: enlarged, with "
                       "a colour bar and a scale bar (PNG or TIFF: one frame; MP4 or AVI: a whole movie)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("run", type=Path, help="run folder (its movie is read from where the run says it is)")
    p.add_argument("-o", "--output", type=Path, required=True, help=".png or .tif (one frame), .mp4 or .avi")
    p.add_argument("--movie", type=int, default=0, help="which movie of the input")
    p.add_argument("--frame", type=int, default=0, help="frame of a PNG or TIFF")
    p.add_argument("--mean", action="store_true", help="the time-averaged map over the test windows (EP rate) "
                   "instead of each transition's map")
    p.add_argument("--scale", type=float, help="figure pixels per movie pixel (default: enlarged to 512 px on "
                   "the long side, or native when larger)")
    p.add_argument("--opacity", type=float, default=0.7, help="opacity of the map over the frame")
    p.add_argument("--fps", type=float, default=20.0, help="frames per second of a movie")
    p.add_argument("--pixel-size", type=float, help="micrometres per pixel for the scale bar, overriding the run's")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _export(args) -> None:
    from .export import map_limits, open_run, write_image, write_overlay_movie
    from .figure import figure_renderer, known_pixel_size
    run, data = open_run(args.run)
    if run.maps is None:
        raise CneepError(f"{args.run}: a {run.config.model} run on trajectories has no dissipation maps to draw")
    if not 0 <= args.movie < data.n_movies or not 0 <= args.frame < data.n_frames:
        raise CneepError(f"{args.run}: no frame {args.frame} of movie {args.movie} (the input has {data.n_movies} "
                         f"movie(s) of {data.n_frames} frames)")
    if args.scale is not None and args.scale <= 0 or not 0 <= args.opacity <= 1 or args.fps <= 0:
        raise CneepError("--scale and --fps must be positive, --opacity between 0 and 1")
    known = args.pixel_size or known_pixel_size(data)
    first = data.frames[args.movie, args.frame]
    render = figure_renderer(data.frames, run, args.mean, (float(first.min()), float(first.max())),
                             map_limits(run)[args.mean], opacity=args.opacity, pixel_size=known, scale=args.scale)
    if args.output.suffix.lower() in (".mp4", ".avi"):
        frames = (render(args.movie, t).rgb for t in range(data.n_frames))
        write_overlay_movie(args.output, frames, args.fps, total=data.n_frames,
                            progress=None if args.quiet else ProgressBar())
    else:
        write_image(render(args.movie, args.frame).rgb, args.output)
    print(f"wrote {args.output}")


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="speed against the published CNEEP training loop")
    kinds = p.add_subparsers(dest="bench", required=True)
    t = kinds.add_parser("throughput", help="training samples per second of our step and of the published loop, "
                         "same network and batch, timed alternately in one process",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    t.add_argument("--batch", type=int, default=4096, help="windows per step, for both")
    t.add_argument("--seconds", type=float, default=20.0, help="timed seconds, shared by the two")
    t.add_argument("--rounds", type=int, default=4, help="alternating timing rounds")
    t.add_argument("--frames", type=int, default=2000, help="frames of each of the 4 synthetic movies")
    t.add_argument("--channels", type=int, default=32, help="channels of the first block")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    d = TrainConfig()
    a = kinds.add_parser("accuracy", help="time to held-out R^2 >= 0.98 and an EP rate within 2%% of the "
                         "validated windows' exact rate on the N=2 bead-spring movie, ours then the published loop",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    a.add_argument("--movies", type=int, default=bench.ACCURACY_MOVIES, help="synthetic movies (10%% validate, "
                   "20%% test)")
    a.add_argument("--frames", type=int, default=bench.ACCURACY_FRAMES, help="frames per movie")
    a.add_argument("--budget", type=float, default=bench.ACCURACY_BUDGET_S, help="seconds before ours stops if "
                   "not accurate yet")
    a.add_argument("--iters", type=int, default=bench.ACCURACY_ITERATIONS, help="ours: iterations (the cosine "
                   "decay's length)")
    a.add_argument("--batch", type=int, default=bench.ACCURACY_BATCH, help="ours: windows per step")
    a.add_argument("--lr", type=float, default=d.lr, help="ours: learning rate")
    a.add_argument("--eval-every", type=int, default=d.eval_every, help="ours: iterations between validations")
    a.add_argument("--average", type=float, default=d.average, help="ours: decay of the weight average")
    a.add_argument("--val-samples", type=int, default=d.val_samples, help="ours: validation windows")
    a.add_argument("--baseline-budget", type=float, help="seconds for the published loop (default: --budget)")
    a.add_argument("--baseline-batch", type=int, default=4096, help="published batch")
    a.add_argument("--baseline-iters", type=int, default=100_000, help="published loop: iterations at most")
    a.add_argument("--baseline-record-every", type=int, default=500, help="published loop: iterations between "
                   "its full evaluations (500 as published)")
    a.add_argument("--no-baseline", action="store_true", help="run ours only")
    a.add_argument("--seed", type=int, default=bench.ACCURACY_SEED, help="simulation seed")
    a.add_argument("--train-seed", type=int, default=d.seed, help="training seed of both loops (initial weights, "
                   "batches; ours: the validation subset too)")
    a.add_argument("--json", action="store_true", help="print one JSON object (progress still goes to stderr)")


def _bench(args) -> None:
    import json
    if args.bench == "throughput":
        from .bench.throughput import measure
        if args.batch < 1 or args.seconds <= 0 or args.rounds < 1 or args.frames < 10 or args.channels < 1:
            raise CneepError("--batch, --rounds and --channels must be at least 1, --seconds positive, "
                             "--frames at least 10")
        r = measure(device=args.device, batch=args.batch, seconds=args.seconds, rounds=args.rounds,
                    frames=args.frames, channels=args.channels)
        if args.json:
            print(json.dumps(r))
            return
        print(f"training throughput, batch {r['batch']}, CNEEP {r['parameters']} parameters, {r['device']}, "
              f"torch {r['torch']}")
        for name in ("ours", "baseline"):
            x = r[name]
            print(f"  {name:<9} {x['samples_per_s']:>10.0f} samples/s  ({x['steps']} steps in {x['seconds']:.1f} s; "
                  f"frames {x['frames']}; {x['passes']} pass(es) of {x['inputs_per_pass']} inputs)")
        print(f"  ratio     {r['ratio']:.2f}x")
        return
    from .bench.accuracy import benchmark
    config = TrainConfig(iterations=args.iters, batch=args.batch, lr=args.lr, eval_every=args.eval_every,
                         average=args.average, val_samples=args.val_samples, patience=0, device=args.device,
                         seed=args.train_seed)
    r = benchmark(movies=args.movies, frames=args.frames, config=config,
                  budget_s=args.budget, baseline_budget_s=args.baseline_budget, baseline_batch=args.baseline_batch,
                  baseline_iters=args.baseline_iters, baseline_record_every=args.baseline_record_every,
                  baseline=not args.no_baseline, seed=args.seed,
                  log=lambda text: print(text, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(r))
        return
    print(f"N=2 bead-spring, {args.movies} x {args.frames} frames, sigma_2pt {r['movie']['sigma_2pt']:.4f}; "
          f"target R^2 >= {r['target']['r2']}, rate within {r['target']['rel_err_windows']:.0%} of the validated "
          "windows' exact rate")
    for name in ("ours", "baseline"):
        if name not in r:
            continue
        x = r[name]
        when = (f"reached in {x['time_to_target_s']:.0f} s ({x['samples_to_target']} samples)" if x["reached"]
                else "not reached")
        last = x["curve"][-1] if x["curve"] else {"r2": float("nan"), "rate": float("nan")}
        print(f"  {name:<9} {when}; {x['samples']} samples in {x['wall_s']:.0f} s, last validation R^2 "
              f"{last['r2']:.4f} rate {last['rate']:.4f}; peak RSS {x['peak_rss_mb']:.0f} MB")
    t = r["ours"]["test"]
    print(f"  ours on the test movies: rate {t['rate']:.4f} ({t['rel_err_2pt']:+.2%} vs sigma_2pt, "
          f"{t['rel_err_windows']:+.2%} vs the test windows' exact rate), R^2 {t['r2']:.4f}")


# Options that only mean something for movies, with their "not given" values.
_MOVIE_ONLY = {"channel": None, "z": None, "pixel_size": None, "crop": None, "time_range": None,
               **{p.name: p.default for p in specs(Preprocess)}}


def _load(args, method: str | None = None, truth: bool = True):
    """The input as a movie (with the movie options) or as trajectories (refusing movie-only options)."""
    from .io import is_trajectory_file, load_movie, load_trajectories
    reads_movies = method is None and not is_trajectory_file(args.input) or method in estimators_for("movie")
    if args.kind is not None or not reads_movies:
        given = [k for k, v in _MOVIE_ONLY.items() if getattr(args, k, v) != v]
        if given:
            raise CneepError(f"{args.input}: --{given[0].replace('_', '-')} applies to movies, not trajectories")
        return load_trajectories(args.input, truth=truth, kind=args.kind, dt=args.dt, id_column=args.id_column)
    if args.id_column is not None:
        raise CneepError(f"{args.input}: --id-column applies to CSV trajectories, not movies")
    from .io import parse_crop, parse_time_range
    return load_movie(args.input, truth=truth, channel=args.channel, z=args.z, dt=args.dt,
                      pixel_size=args.pixel_size, crop=parse_crop(args.crop) if getattr(args, "crop", None) else None,
                      time_range=parse_time_range(args.time_range) if getattr(args, "time_range", None) else None,
                      **{k: getattr(args, k) for k in ("frame_step", "bin", "normalize", "split_into", "register",
                                                       "bleach_correct") if hasattr(args, k)})


def _info(args) -> None:
    import json

    from .io import describe, describe_trajectories
    from .io.truth import describe_truth
    from .movie import Movie
    from .timearrow import describe_report, time_arrow_report
    data = _load(args)
    # A synthetic file's exact EP, from its sidecar, in one line.
    truth = describe_truth(data.truth) if data.truth is not None else None
    exact = "" if truth is None else "  ground truth: " + ", ".join(
        f"{k} {v:.6g}" for k, v in truth.items() if k.startswith("sigma") and v is not None) + (
        f"\n  {truth['hidden']}" if "hidden" in truth else "")
    if not isinstance(data, Movie):
        d = describe_trajectories(data) | ({"truth": truth} if truth else {})
        if args.json:
            print(json.dumps(d))
            return
        size = f"{d['file_bytes'] / 1e6:.1f} MB" if d["file_bytes"] is not None else "?"
        labels = ", ".join(d["labels"][:12]) + (f", … ({len(d['labels'])} in all)" if len(d["labels"]) > 12 else "")
        what = (f"{d['coordinates']} coordinate(s) ({labels})" if d["kind"] == "coordinates"
                else f"{d['n_states']} discrete states ({labels})")
        print(f"{d['path']}: {d['format']} trajectories, {size}\n"
              f"  {d['trajectories']} trajectory(ies) x {d['frames']} frames of {what}\n"
              f"  frame interval {d['dt']:g} s ({d['dt_source']})")
        if exact:
            print(exact)
        for note in d["notes"]:
            print(f"  note: {note}")
        return
    d = describe(data) | ({"truth": truth} if truth else {})
    arrows = time_arrow_report(data)
    d["warnings"] = d.get("warnings", []) + arrows.pop("warnings")
    d.update(arrows)
    if args.json:
        print(json.dumps(d))
        return
    size = f"{d['file_bytes'] / 1e6:.1f} MB" if d["file_bytes"] is not None else "?"
    print(f"{d['path']}: {d['format']}, {size}\n"
          f"  {d['movies']} movie(s) x {d['frames']} frames of {d['height']}x{d['width']} {d['dtype']}\n"
          f"  frame interval {d['dt']:g} s ({d['dt_source']}), pixel size {d['pixel_size']:g} um "
          f"({d['pixel_size_source']})\n  channels {d['channels']}, z-planes {d['z_planes']}")
    if "codec" in d:
        lossy = {True: "lossy", False: "lossless", None: "lossless or lossy"}[d["lossy"]]
        types = ", ".join(f"{n} {t}" for t, n in d["frame_types"].items())
        print(f"  codec {d['codec']} ({lossy}: {d['lossy_basis']})\n  keyframe every {d['gop_length']} frames "
              f"({d['keyframes']} keyframes); first group: {types} ({d['frame_pattern']}...)")
    if exact:
        print(exact)
    for line in describe_report(d):
        print(f"  {line}")
    for note in d["notes"]:
        print(f"  note: {note}")
    for warning in d["warnings"]:
        print(f"  warning: {warning}")


class ProgressBar:
    """One status line on stderr, redrawn on every event; a phase's last event ends its line."""

    def __init__(self, stream=sys.stderr, width: int = 24):
        self.stream, self.width, self._last = stream, width, 0

    def __call__(self, ev: Progress) -> None:
        training = ev.phase in ("training", "validation")
        done, total = (ev.iteration, ev.iterations) if training else (ev.done, ev.total)
        bar = f"[{'#' * round(done / max(total, 1) * self.width):<{self.width}}] {done}/{total}"
        left = "" if ev.left_s is None else f", {'<' if ev.phase == 'training' else '~'}{ev.left_s:.0f}s left"
        if training:
            doing = (f" validating {ev.done}/{ev.total} windows{left}" if ev.phase == "validation"
                     and ev.val_rate is None else "")
            val = f" val EP rate {ev.val_rate:.4g}" if ev.val_rate is not None else ""
            val += f" R^2 {ev.val_r2:.3f}" if ev.val_r2 is not None else ""
            end = ev.message in STOPS
            line = (f"\rseed {ev.seed_index + 1}/{ev.n_seeds} {bar}{doing}{val} best@{ev.best_iteration} "
                    f"{ev.elapsed_s:.0f}s{left if ev.phase == 'training' and not end else ''} ")
            line += f": {ev.message}" if end else ""
        else:   # the message names what is evaluated or written
            unit = {"evaluation": "windows", "simulation": "time steps"}.get(ev.phase, "frames")
            line = f"\r{ev.message} {bar} {unit} {ev.elapsed_s:.0f}s{left} "
            end = ev.done == ev.total
        # Blanks over what a longer previous line left on screen.
        line, self._last = line.ljust(self._last), 0 if end else len(line)
        self.stream.write(line + "\n" if end else line)
        self.stream.flush()


def _simulate(args) -> None:
    from .io import check_output_suffix, check_sidecar_free, load_input, save_movie, save_trajectories
    from .movie import Movie
    system = SYSTEMS[args.system]
    configs = [from_options(config, args) for config in system.configs]
    check_output_suffix(args.output, system.writes(*configs))
    check_sidecar_free(args.output)
    if args.reuse and args.output.is_file():
        data = load_input(args.output)
        # a renderer's settings shape only a movie: coordinates record none
        drawn = configs if isinstance(data, Movie) else [c for c in configs
                                                         if type(c) not in system.movie_configs]
        _check_reused(data, drawn, args.output)
        print(f"kept {args.output}, simulated with these settings; {_ep(data, system)}")
        return
    quiet = getattr(args, "quiet", True)
    data = system.run(*configs, callback=None if quiet else ProgressBar())
    if isinstance(data, Movie):
        path = save_movie(data, args.output)
        what = f"{data.n_movies} x {data.n_frames} frames of {data.frame_shape[0]}x{data.frame_shape[1]}"
    else:
        path = save_trajectories(data, args.output)
        what = f"{data.n_trajectories} x {data.n_frames} frames of " + \
               (f"{data.n_states} states" if data.n_states else f"{data.n_coordinates} coordinates")
    print(f"wrote {path} ({what}); {_ep(data, system)}")
    if "hidden" in data.truth.params:
        print(f"  {data.truth.params['hidden']}")


def _ep(data, system) -> str:
    """The ground truth's EP rate as `simulate` reports it: exact, or a Monte Carlo value with its error."""
    t, unit = data.truth, system.time_unit
    p = t.params
    name = "sigma" if "sigma_label" not in p else p["sigma_label"].replace("σ", "sigma")
    if not p.get("sigma_exact", True):
        err = p.get("sigma_err", p.get("sigma_A_err"))
        ep = f"{name} = {t.sigma:.6g}" + (f" ± {err:.2g}" if err is not None else "") + f" per {unit} (Monte Carlo)"
        if "sigma_per_particle" in p:
            ep += f", {p['sigma_per_particle']:.4g} per particle; convention {p['convention']}"
        return ep
    if not p.get("sigma_2pt_exact", True):
        return f"{name} = {t.sigma:.6g} per {unit} (no exact two-frame ceiling)"
    return f"{name} = {t.sigma:.6g}, sigma_2pt = {t.sigma_2pt:.6g} per {unit}"


def _check_reused(data, configs, path: Path) -> None:
    """Refuse to keep a file whose ground truth records other settings than `configs` (or none)."""
    from dataclasses import asdict
    params = data.truth.params if data.truth is not None else {}
    flat = {k: v for nested in params.values() if isinstance(nested, dict) for k, v in nested.items()} | params
    differ = [f"{name} {flat.get(name, 'unrecorded')} (asked: {value})" for c in configs
              for name, value in asdict(c).items() if flat.get(name) != value]
    if data.truth is None or differ:
        what = "has no ground truth" if data.truth is None else "was simulated with " + ", ".join(differ)
        raise CneepError(f"{path} {what}: drop --reuse to simulate again, or write to another file")


def _train(args) -> None:
    from . import distributed
    from .movie import Movie
    from .run import train
    main_rank = distributed.is_main()   # under torchrun only rank 0 reports
    args.quiet = args.quiet or not main_rank
    data = _load(args, method=args.method)
    kind = "movie" if isinstance(data, Movie) else data.kind
    config = from_options(TrainConfig, args, model=args.method or estimators_for(kind)[0])
    method = ESTIMATORS[config.model]
    method.check_reads(data)
    if not args.quiet:
        for note in data.provenance.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
    if args.threads is not None:
        if args.threads < 1:
            raise CneepError("--threads must be at least 1")
        import torch
        torch.set_num_threads(args.threads)
    checks = None
    if isinstance(data, Movie):
        from .timearrow import input_report
        checks = input_report(data)
        if not args.quiet:
            for warning in checks["warnings"]:
                print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet and method.trained:   # train() makes the same choice of batch again, without the timing
        from .plan import plan_training
        print(plan_training(data, config).text(), file=sys.stderr)
    settings = {} if method.trained else {"closed_form": from_options(method.settings, args)}
    cancel = threading.Event()
    # First Ctrl-C: stop after the current step, keep the best model and write the results.
    previous = signal.signal(signal.SIGINT, lambda *_: (cancel.set(), signal.signal(signal.SIGINT, previous)))
    try:
        run = train(data, config, callback=None if args.quiet else ProgressBar(), cancel=cancel,
                    run_dir=args.output, checks=checks, **settings)
    finally:
        signal.signal(signal.SIGINT, previous)
    if main_rank:
        _print_result(run.summary, config, args.output)


def _print_result(s: dict, config: TrainConfig, output: Path) -> None:
    """The last lines of `cneep train`: the verdict, how it was reached, the comparison with the truth."""
    from .verdict import advice, describe
    if ESTIMATORS[config.model].trained:
        spread = f"; spread over seeds {s['ep_rate_std']:.3g}" if s["ep_rate_std"] is not None else ""
        print(f"{describe(s)}{spread}")
        print(f"  {s['ep_per_frame']:.4g} per frame; loss-based {s['loss_based_rate']:.4g} per s; on "
              f"{s['test_windows']} held-out windows in {s['block']['blocks']} blocks of ~{s['block']['windows']}; "
              f"{s['device']}, {s['wall_s']:.0f} s")
    else:
        debiased = f"; debiased {s['debiased_rate']:.4g}" if "debiased_rate" in s else ""
        bound = " (a lower bound)" if s["lower_bound"] else ""
        where = f"{s['device']}, " if "device" in s else ""   # the model-known methods train a network
        model_known = "static_rate" in s
        print(f"{config.model}: {describe(s)}{bound}{debiased}; on {s['test_windows']} held-out "
              f"{'snapshots' if model_known else 'transitions'}, {where}{s['wall_s']:.3g} s")
        if model_known:
            from .estimators.model_known_text import describe_model_known
            for line in describe_model_known(s):
                print(f"  {line}")
        if "components_curve" in s:
            print("  by components kept (rate ± error, debiased): " + "; ".join(
                f"{c['components']}: {c['ep_rate']:.3g} ± {c['ep_rate_err']:.2g}, {c['debiased_rate']:.3g}"
                for c in s["components_curve"]))
    if "map_uncertainty" in s:
        u = s["map_uncertainty"]
        how = f"over {u['seeds']} seeds" if u["method"] == "seeds" else f"block bootstrap, {u['blocks']} blocks"
        print(f"  map: {u['significant_fraction']:.0%} of pixels beyond {u['z']:g} standard errors of 0 ({how}; "
              "dissipation_map_sem.tif)")
    if "truth" in s:
        t = s["truth"]
        # sigma is left out where it holds EP the data cannot show (`hidden`); a relative error to a ceiling of 0 is
        # undefined, the difference is not
        against = [f"sigma {t['sigma']:.4g} ({t['rel_err_sigma']:+.2%})"] if "rel_err_sigma" in t else []
        if "sigma_2pt" in t and t.get("sigma_2pt_exact", True):   # none for a model-known estimate
            off = (f"{t['rel_err_2pt']:+.2%}" if t["sigma_2pt"] else f"off by {s['ep_rate'] - t['sigma_2pt']:+.3g}")
            against.append(f"sigma_2pt {t['sigma_2pt']:.4g} ({off})")
        # a constant ds (sigma_B's) correlates with nothing, and a model-known run's unresolved transitions have none
        per_window = ([f"R^2 {t['r2']:.4f}, slope {t['slope']:.3f} per window"]
                      if math.isfinite(t.get("r2", math.nan)) else [])
        if against or per_window:
            print("truth: " + ", ".join([*against, *per_window]))
        if "hidden" in t:
            print(f"  {t['hidden']}")
        if "map" in t:
            from .sites import describe_map
            print(f"  {describe_map(t['map'])}")
        if "observed" in t:
            o = t["observed"]
            print(f"best reachable from windows of {config.seq_len} observations: {o['ep_rate']:.4g} per s "
                  f"({o['rel_err']:+.2%}), R^2 {o['r2']:.4f} per window, slope {o['slope']:.3f}")
    for warning in s.get("warnings", []):
        print(f"warning: {warning}")
    for meaning in advice(s):   # as the app's Results panel says it
        print(f"what this means: {meaning}")
    print(f"results in {output}")


def main(argv: list[str] | None = None) -> int:
    allocator.keep_freed_memory()   # first, before any training thread picks its own heap
    parser = argparse.ArgumentParser(prog="cneep", description="Entropy production from movies (CNEEP) and trajectories (NEEP, RNEEP).")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    _add_train(sub)
    _add_apply(sub)
    _add_info(sub)
    _add_list(sub)
    _add_export(sub)
    _add_bench(sub)
    args = parser.parse_args(argv)
    try:
        {"simulate": _simulate, "train": _train, "apply": _apply, "info": _info, "list": _list, "export": _export,
         "bench": _bench}[args.command](args)
    except CneepError as e:
        print(f"cneep: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:   # a second Ctrl-C: whatever was being written is left out whole
        where = f"; {args.output} keeps what was complete" if args.command == "train" else ""
        print(f"\ncneep: interrupted{where}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
