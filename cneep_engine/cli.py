"""`cneep`: the engine from the command line. Errors a user can fix end in one line and exit code 2."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from . import allocator, bench
from .errors import CneepError
from .io import input_formats
from .losses import LOSSES
from .training import MODELS, SCHEDULES, STOPS, Progress, TrainConfig


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="write a synthetic movie or trajectories with exact entropy production")
    systems = p.add_subparsers(dest="system", required=True)
    b = systems.add_parser("bead-spring", help="bead-spring chain between a cold and a hot bath",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("--beads", type=int, default=2)
    b.add_argument("--tc", type=float, default=1.0, help="temperature of bead 0 (cold end)")
    b.add_argument("--th", type=float, default=10.0, help="temperature of the last bead (hot end)")
    b.add_argument("--k", type=float, default=1.0, help="spring stiffness")
    b.add_argument("--gamma", type=float, default=1.0, help="friction coefficient")
    b.add_argument("--dt", type=float, default=0.01, help="frame interval, s")
    b.add_argument("--movies", type=int, default=1)
    b.add_argument("--trajectories", type=int, metavar="M",
                   help="write M trajectories of bead positions (.npy, .npz or .csv) instead of movies")
    b.add_argument("--frames", type=int, default=1000, help="frames per movie or trajectory")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--cell", type=int, default=20, help="pixels per bead cell (frame is cell x beads*cell)")
    b.add_argument("--pixel-size", type=float, default=1.0, help="micrometres per pixel")
    b.add_argument("--psf-sigma", type=float, default=3.0, help="PSF width, pixels")
    b.add_argument("--peak", type=float, default=255.0, help="counts at a bead's centre")
    b.add_argument("--background", type=float, default=0.0, help="background counts")
    b.add_argument("--poisson", action="store_true", help="add shot noise")
    b.add_argument("--read-noise", type=float, default=0.0, help="Gaussian camera noise, counts")
    b.add_argument("--binning", type=int, default=1, help="average b x b pixel blocks")
    b.add_argument("--dtype", choices=["uint8", "uint16"], default="uint8")
    b.add_argument("-o", "--output", type=Path, required=True, help="movie file (.tif), or trajectory file "
                   "(.npy, .npz, .csv) with --trajectories")
    r = systems.add_parser("ratchet", help="discrete flashing ratchet: 3 sites, a sawtooth potential switched on "
                           "and off", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("--potential", type=float, default=2.0, help="V, height of the sawtooth steps in k_B T")
    r.add_argument("--rate", type=float, default=1.0, help="r, switching rate of the potential")
    r.add_argument("--partial", action="store_true", help="record the position only, hiding whether the "
                   "potential is on (a non-Markovian series for rneep)")
    r.add_argument("--trajectories", type=int, default=1, metavar="M")
    r.add_argument("--steps", type=int, default=100_000, metavar="L", help="states per trajectory")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("-o", "--output", type=Path, required=True, help="state file (.npy, .npz or .csv)")


def _run_folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name would write the run into the current folder; name a folder")
    return Path(text)


def _add_train(sub) -> None:
    d = TrainConfig()
    p = sub.add_parser("train", help="train an EP estimator on a movie or trajectories and write a run folder",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("input", type=Path, help=f"movie or trajectories ({input_formats()}); NAME.truth.npz "
                   "beside it is used as ground truth")
    p.add_argument("-o", "--output", type=_run_folder, required=True, help="run folder")
    p.add_argument("--model", choices=MODELS, help="cneep for movies; neep (coordinates or discrete states) or "
                   "rneep (recurrent, for hidden degrees of freedom) for trajectories; unset: cneep, or neep "
                   "for a CSV, an .npz of 'coordinates'/'states' or a 1-D/2-D .npy")
    p.add_argument("--method", choices=("neural", "tur", "sfi"), default="neural", help="neural: train the "
                   "--model; tur or sfi: training-free closed forms for coordinate trajectories (short-time TUR "
                   "bound; projected EP of a linear velocity field), on the same held-out part, in seconds")
    p.add_argument("--diffusion", choices=("increments", "noise-robust"), default="increments", help="sfi: "
                   "diffusion matrix from the increments, or from neighbouring increments (robust to "
                   "localisation noise)")
    p.add_argument("--seq-len", type=int, default=d.seq_len, help="frames per window")
    p.add_argument("--depth", type=int, default=d.depth, help="cneep: convolutional blocks")
    p.add_argument("--channels", type=int, default=d.channels, help="cneep: channels of the first block")
    p.add_argument("--hidden", type=int, default=d.hidden, help="neep/rneep: hidden units (and embedding size)")
    p.add_argument("--layers", type=int, help="neep: hidden layers (default 2); rneep: GRU layers (default 1)")
    p.add_argument("--loss", default=d.loss, choices=LOSSES, help="neep: the published objective; alpha: the "
                   "alpha-divergence family, same optimum, lower variance")
    p.add_argument("--alpha", type=float, default=d.alpha, help="alpha of the alpha loss")
    p.add_argument("--iters", type=int, default=d.iterations, help="maximum training iterations")
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="iterations between validations")
    p.add_argument("--schedule", default=d.schedule, choices=SCHEDULES,
                   help="learning rate: cosine decay to 0 over --iters, halving on plateaus, or constant")
    p.add_argument("--average", type=float, default=d.average, help="decay per step of a moving average of the "
                   "weights, which is what validation judges and the run keeps (0: the raw weights)")
    p.add_argument("--patience", type=int, default=d.patience, help="validations without a new lowest "
                   "validation loss before stopping; 0 never stops early")
    p.add_argument("--val-samples", type=int, default=d.val_samples, help="validation windows (a fixed random "
                   "subset); more resolve smaller differences between models")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--test-fraction", type=float, default=d.test_fraction)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--seeds", type=int, default=d.seeds, help="independent estimators for mean and spread")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores); fewer can be "
                   "faster on a machine busy with other work")
    _add_input_options(p)
    p.add_argument("--crop", metavar="Y0:Y1,X0:X1", help="region of interest in pixels, ends exclusive")
    p.add_argument("--time-range", metavar="T0:T1", help="frames T0 to T1 (exclusive); T1 may be left out")
    p.add_argument("--frame-step", type=int, default=1, help="keep every k-th frame (dt becomes k * dt)")
    p.add_argument("--bin", type=int, default=1, help="average b x b pixel blocks (pixel size becomes b times)")
    p.add_argument("--normalize", action="store_true", help="scale each movie to zero mean, unit variance")
    p.add_argument("--split-into", type=int, default=1, metavar="N", help="cut each movie into N consecutive movies")
    p.add_argument("--register", action="store_true", help="shift the moving content back by its measured uniform "
                   "drift (the static background stays), cropping the margin it sweeps; see cneep info")
    p.add_argument("--bleach-correct", action="store_true", help="standardize every frame, removing a trend of the "
                   "intensity (bleaching) that a network would read as a time arrow")
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


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="show what a movie or trajectory file holds: shape, frame interval, "
                       "pixel size, channels or coordinates")
    p.add_argument("input", type=Path, help=f"movie or trajectories ({input_formats()})")
    _add_input_options(p)
    _add_trajectory_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


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
_MOVIE_ONLY = {"channel": None, "z": None, "pixel_size": None, "crop": None, "time_range": None, "frame_step": 1,
               "bin": 1, "normalize": False, "split_into": 1, "register": False, "bleach_correct": False}


def _load(args, model: str | None = None, truth: bool = True):
    """The input as a movie (with the movie options) or as trajectories (refusing movie-only options)."""
    from .io import is_trajectory_file, load_movie, load_trajectories
    if args.kind is not None or model in ("neep", "rneep") or (model is None and is_trajectory_file(args.input)):
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
    from .movie import Movie
    from .timearrow import describe_report, time_arrow_report
    data = _load(args, truth=False)
    if not isinstance(data, Movie):
        d = describe_trajectories(data)
        if args.json:
            print(json.dumps(d))
            return
        size = f"{d['file_bytes'] / 1e6:.1f} MB" if d["file_bytes"] is not None else "?"
        what = (f"{d['coordinates']} coordinate(s) ({', '.join(d['labels'])})" if d["kind"] == "coordinates"
                else f"{d['n_states']} discrete states ({', '.join(d['labels'])})")
        print(f"{d['path']}: {d['format']} trajectories, {size}\n"
              f"  {d['trajectories']} trajectory(ies) x {d['frames']} frames of {what}\n"
              f"  frame interval {d['dt']:g} s ({d['dt_source']})")
        for note in d["notes"]:
            print(f"  note: {note}")
        return
    d = describe(data)
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
    for line in describe_report(d):
        print(f"  {line}")
    for note in d["notes"]:
        print(f"  note: {note}")
    for warning in d["warnings"]:
        print(f"  warning: {warning}")


class ProgressBar:
    """One status line on stderr, redrawn on every event."""

    def __init__(self, stream=sys.stderr, width: int = 24):
        self.stream, self.width = stream, width

    def __call__(self, ev: Progress) -> None:
        done = ev.iteration / ev.iterations
        bar = "#" * round(done * self.width)
        left = f", <{ev.elapsed_s / ev.iteration * (ev.iterations - ev.iteration):.0f}s left" if ev.iteration else ""
        val = f" val EP rate {ev.val_rate:.4g}" if ev.val_rate is not None else ""
        val += f" R^2 {ev.val_r2:.3f}" if ev.val_r2 is not None else ""
        line = (f"\rseed {ev.seed_index + 1}/{ev.n_seeds} [{bar:<{self.width}}] {ev.iteration}/{ev.iterations}"
                f"{val} best@{ev.best_iteration} {ev.elapsed_s:.0f}s{left} ")
        self.stream.write(f"{line}: {ev.message}\n" if ev.message in STOPS else line)
        self.stream.flush()


def _simulate(args) -> None:
    if args.system == "ratchet":
        return _simulate_ratchet(args)
    from .io import save_movie, save_trajectories
    from .synth import BeadRenderer, BeadSpringChain, simulate_bead_spring, simulate_bead_spring_trajectories
    if args.trajectories is not None:
        if args.trajectories < 1 or args.frames < 2:
            raise CneepError("need at least 1 trajectory of at least 2 frames")
        try:
            chain = BeadSpringChain(beads=args.beads, tc=args.tc, th=args.th, k=args.k, gamma=args.gamma, dt=args.dt)
        except ValueError as e:
            raise CneepError(str(e)) from e
        traj = simulate_bead_spring_trajectories(chain, args.trajectories, args.frames, seed=args.seed)
        path = save_trajectories(traj, args.output)
        print(f"wrote {path} ({traj.n_trajectories} x {traj.n_frames} frames of {chain.beads} coordinates); "
              f"sigma = {chain.ep_rate:.6g}, sigma_2pt = {chain.ep_rate_two_frame:.6g} per s")
        return
    try:
        chain = BeadSpringChain(beads=args.beads, tc=args.tc, th=args.th, k=args.k, gamma=args.gamma, dt=args.dt)
        renderer = BeadRenderer(cell=args.cell, pixel_size=args.pixel_size, psf_sigma=args.psf_sigma,
                                background=args.background, peak=args.peak, poisson=args.poisson,
                                read_noise=args.read_noise, binning=args.binning, dtype=args.dtype)
        if args.movies < 1 or args.frames < 2:
            raise ValueError("need at least 1 movie of at least 2 frames")
    except ValueError as e:
        raise CneepError(str(e)) from e
    movie = simulate_bead_spring(chain, renderer, movies=args.movies, frames=args.frames, seed=args.seed)
    path = save_movie(movie, args.output)
    print(f"wrote {path} ({movie.n_movies} x {movie.n_frames} frames of {movie.frame_shape[0]}x{movie.frame_shape[1]}); "
          f"sigma = {chain.ep_rate:.6g}, sigma_2pt = {chain.ep_rate_two_frame:.6g} per s")


def _simulate_ratchet(args) -> None:
    from .io import save_trajectories
    from .synth import FlashingRatchet, simulate_ratchet
    if args.trajectories < 1 or args.steps < 2:
        raise CneepError("need at least 1 trajectory of at least 2 steps")
    try:
        ratchet = FlashingRatchet(potential=args.potential, rate=args.rate)
    except ValueError as e:
        raise CneepError(str(e)) from e
    traj = simulate_ratchet(ratchet, args.trajectories, args.steps, partial=args.partial, seed=args.seed)
    path = save_trajectories(traj, args.output)
    seen = f"; pairs of positions reveal {ratchet.ep_per_step_positions:.6g}" if args.partial else ""
    print(f"wrote {path} ({traj.n_trajectories} x {traj.n_frames} steps of {traj.n_states} states); "
          f"EP per step {ratchet.ep_per_step:.6g}{seen}")


def _estimate(args) -> None:
    """--method tur or sfi: a closed-form estimate on the held-out part, written as the run's summary.json."""
    from .estimators.report import run_estimator
    if args.model is not None:
        raise CneepError(f"--model {args.model} trains a network; --method {args.method} has none")
    data = _load(args, model="neep")
    s = run_estimator(data, args.method, args.output, val_fraction=args.val_fraction,
                      test_fraction=args.test_fraction, seed=args.seed,
                      diffusion=None if args.diffusion == "increments" or args.method != "sfi" else args.diffusion)
    debiased = f"; debiased {s['debiased_rate']:.4g}" if "debiased_rate" in s else ""
    bound = " (a lower bound)" if s["lower_bound"] else ""
    print(f"{args.method}: EP rate {s['ep_rate']:.4g} ± {s['ep_rate_err']:.2g} k_B/s{bound}{debiased}; on "
          f"{s['test_transitions']} held-out transitions in {s['blocks']} blocks, {s['wall_s']:.2g} s")
    if "truth" in s:
        t = s["truth"]
        print(f"truth: sigma {t['sigma']:.4g} ({t['rel_err_sigma']:+.2%}), sigma_2pt {t['sigma_2pt']:.4g} "
              f"({t['rel_err_2pt']:+.2%})")
    print(f"results in {args.output}")


def _train(args) -> None:
    if args.method != "neural":
        return _estimate(args)
    from . import distributed
    from .movie import Movie
    from .run import train
    from .verdict import describe
    main_rank = distributed.is_main()   # under torchrun only rank 0 reports
    args.quiet = args.quiet or not main_rank
    data = _load(args, model=args.model)
    model = args.model or ("cneep" if isinstance(data, Movie) else "neep")
    config = TrainConfig(model=model, seq_len=args.seq_len, depth=args.depth, channels=args.channels,
                         iterations=args.iters, batch=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                         eval_every=args.eval_every, patience=args.patience, schedule=args.schedule,
                         average=args.average, val_fraction=args.val_fraction, val_samples=args.val_samples,
                         test_fraction=args.test_fraction, seed=args.seed, seeds=args.seeds, device=args.device,
                         hidden=args.hidden, layers=args.layers, loss=args.loss, alpha=args.alpha)
    if not args.quiet:
        for note in data.provenance.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
    if args.threads is not None:
        if args.threads < 1:
            raise CneepError("--threads must be at least 1")
        import torch
        torch.set_num_threads(args.threads)
    from .plan import plan_training
    checks = None
    if isinstance(data, Movie):
        from .timearrow import input_report
        checks = input_report(data)
        if not args.quiet:
            for warning in checks["warnings"]:
                print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:   # train() makes the same choice of batch again, without the timing
        print(plan_training(data, config).text(), file=sys.stderr)
    cancel = threading.Event()
    # First Ctrl-C: stop after the current step, keep the best model and write the results.
    previous = signal.signal(signal.SIGINT, lambda *_: (cancel.set(), signal.signal(signal.SIGINT, previous)))
    try:
        run = train(data, config, callback=None if args.quiet else ProgressBar(), cancel=cancel,
                    run_dir=args.output, checks=checks)
    finally:
        signal.signal(signal.SIGINT, previous)
    if not main_rank:
        return
    s = run.summary
    spread = f"; spread over seeds {s['ep_rate_std']:.3g}" if s["ep_rate_std"] is not None else ""
    print(f"{describe(s)}{spread}")
    print(f"  {s['ep_per_frame']:.4g} per frame; loss-based {s['loss_based_rate']:.4g} per s; on {s['test_windows']} "
          f"held-out windows in {s['block']['blocks']} blocks of ~{s['block']['windows']}; {s['device']}, "
          f"{s['wall_s']:.0f} s")
    for warning in s["warnings"]:
        print(warning)
    if "truth" in s:
        t = s["truth"]
        print(f"truth: sigma {t['sigma']:.4g}, sigma_2pt {t['sigma_2pt']:.4g} ({t['rel_err_2pt']:+.2%}), "
              f"R^2 {t['r2']:.4f}, slope {t['slope']:.3f}")
        if "observed" in t:
            o = t["observed"]
            print(f"best reachable from windows of {args.seq_len} observations: {o['ep_rate']:.4g} per s "
                  f"({o['rel_err']:+.2%}), R^2 {o['r2']:.4f} per window, slope {o['slope']:.3f}")
    for warning in s.get("warnings", []):
        print(f"warning: {warning}")
    print(f"results in {args.output}")


def main(argv: list[str] | None = None) -> int:
    allocator.keep_freed_memory()   # first, before any training thread picks its own heap
    parser = argparse.ArgumentParser(prog="cneep", description="Entropy production from movies (CNEEP) and trajectories (NEEP, RNEEP).")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    _add_train(sub)
    _add_info(sub)
    _add_bench(sub)
    args = parser.parse_args(argv)
    try:
        {"simulate": _simulate, "train": _train, "info": _info, "bench": _bench}[args.command](args)
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
