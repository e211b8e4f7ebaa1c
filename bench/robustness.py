"""Robustness curves of CNEEP: the held-out EP rate, relative to the two-frame ceiling of what the movie shows, and
R^2 against the exact EP of every transition, as one property of the movie is degraded.

Axes (one command per curve):
  noise     shot noise at a bead's (or the network's brightest pixel's) peak of 1000, 100, 30 and 10 photons;
            Gaussian read noise of s.d. 0, 5, 15 and 50 counts over a camera offset of 200 counts (noise-free
            peak 255 counts for the chain, 200 for the network; read noise 0 is the noise-free movie)
  binning   1, 2, 4. The chain is rendered at twice the baseline's resolution (24 px cells, 1 um per px, PSF
            24/7 px), so binning 2 is the baseline's 12 x 24 px frame and binning 1 costs about 4x per iteration
  psf       three PSF widths around the baseline's (chain: 1, 12/7, 3 px; network: 0.8, 1.2, 2.4 px)
  interval  the frame interval dt x 1, 2, 5 (dt = 0.01 s); the ceiling sigma_2pt is that of the interval used,
            and every movie has the same number of frames (as many transitions, over 1, 2, 5 times the time)
  window    network only, partial observation: square windows of 20, 40, 60 px around the first hot node; the
            ceiling is that of the nodes whose filaments reach into the window
The data seed is the same at every point, so the points of a curve see the same trajectories (but interval's).

Systems: bead-spring, the N=2 chain (Tc=1, Th=10) as 12 x 24 px frames (cell 12, 2 um per px, PSF 12/7 px), 20
movies x 4000 frames, CNEEP with 8 channels, batch 1024, lr 1e-3, 3000 iterations, validation every 100, no early
stopping; each point trains in minutes on one CPU core. network, the default 8 x 8 filament network (99 x 119 px
frames), 60 movies x 5000 frames, 32 channels, batch 4096, lr 4e-4, 20,000 iterations: sized for a GPU, far too
slow for a CPU (docs/benchmarks.md, "Training on a network movie").

    OMP_NUM_THREADS=1 nice python bench/robustness.py --axis noise --jobs 2 --plot
    python bench/robustness.py --system network --axis window --device cuda --plot

Writes bench/out/robustness/SYSTEM_AXIS.json after each point: a rerun skips the points it holds (it refuses a
JSON made with other settings). --plot draws docs/robustness_SYSTEM_AXIS.png from the JSON (pyqtgraph, offscreen).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from verdict_calibration import _cpu   # bench/ is the script's folder, first on sys.path

PHOTONS = (1000, 100, 30, 10)
READ_NOISE = (0, 5, 15, 50)
CAMERA_OFFSET = 200     # counts: read noise around it is not clipped at 0
INTERVALS = (1, 2, 5)
BINNINGS = (1, 2, 4)
WINDOWS = (20, 40, 60)  # px, the side of a window around a hot node

# series -> (x-axis label, logarithmic x)
SERIES = {"shot noise": ("photons at the peak", True), "read noise": ("read noise s.d. (counts)", False),
          "binning": ("binning (px per side)", False), "PSF": ("PSF s.d. (px before binning)", False),
          "frame interval": ("frame interval (x 0.01 s)", False), "window": ("window side (px)", False)}


@dataclass(frozen=True)
class Point:
    name: str
    series: str
    x: float
    system: dict = field(default_factory=dict)     # fields of BeadSpringChain or FilamentNetwork
    renderer: dict = field(default_factory=dict)   # fields of BeadRenderer or FilamentRenderer


def noise_points(base: dict) -> list[Point]:
    return ([Point(f"shot noise {n}", "shot noise", n, {}, base | {"peak": n, "poisson": True, "dtype": "uint16"})
             for n in PHOTONS] +
            [Point(f"read noise {s}", "read noise", s, {},
                   base | {"read_noise": s, "background": CAMERA_OFFSET, "dtype": "uint16"}) for s in READ_NOISE])


def interval_points(base: dict, dt: float) -> list[Point]:
    return [Point(f"dt x{m}", "frame interval", m, {"dt": dt * m}, base) for m in INTERVALS]


def chain_points(axis: str) -> list[Point]:
    from cneep_engine import BeadSpringChain
    base = {"cell": 12, "pixel_size": 2.0, "psf_sigma": 12 / 7}
    if axis == "noise":
        return noise_points(base)
    if axis == "binning":
        return [Point(f"binning {b}", "binning", b, {}, {"cell": 24, "pixel_size": 1.0, "psf_sigma": 24 / 7,
                                                         "binning": b}) for b in BINNINGS]
    if axis == "psf":
        return [Point(f"psf {s:.3g}", "PSF", s, {}, base | {"psf_sigma": s}) for s in (1.0, 12 / 7, 3.0)]
    return interval_points(base, BeadSpringChain().dt)


def network_points(axis: str) -> list[Point]:
    from cneep_engine import FilamentNetwork, FilamentRenderer
    if axis == "noise":
        return noise_points({})
    if axis == "binning":
        return [Point(f"binning {b}", "binning", b, {}, {"binning": b}) for b in BINNINGS]
    if axis == "psf":
        return [Point(f"psf {s:.3g}", "PSF", s, {}, {"psf_sigma": s}) for s in (0.8, 1.2, 2.4)]
    if axis == "interval":
        return interval_points({}, FilamentNetwork().dt)
    network, renderer = FilamentNetwork(), FilamentRenderer()
    h, w = renderer.frame_shape(network)
    x, y = renderer.node_pixels(network)[network.node(*network.hot_nodes[0])]
    crops = [(max(0, round(y - s / 2)), min(h, round(y + s / 2)), max(0, round(x - s / 2)), min(w, round(x + s / 2)))
             for s in WINDOWS]
    return [Point(f"window {s}", "window", s, {}, {"crop": f"{y0}:{y1},{x0}:{x1}"})
            for s, (y0, y1, x0, x1) in zip(WINDOWS, crops)]


# system -> (its points, the training it gets unless overridden)
SYSTEMS = {
    "bead-spring": (chain_points, {"movies": 20, "frames": 4000, "iters": 3000, "batch": 1024, "lr": 1e-3,
                                   "channels": 8, "eval_every": 100}),
    "network": (network_points, {"movies": 60, "frames": 5000, "iters": 20_000, "batch": 4096, "lr": 4e-4,
                                 "channels": 32, "eval_every": 500}),
}
AXES = ("noise", "binning", "psf", "interval", "window")


def simulate(system: str, point: Point, movies: int, frames: int, seed: int):
    import cneep_engine as ce
    if system == "network":
        return ce.simulate_network(ce.FilamentNetwork(**point.system), ce.FilamentRenderer(**point.renderer),
                                   movies, frames, seed=seed)
    return ce.simulate_bead_spring(ce.BeadSpringChain(**point.system), ce.BeadRenderer(**point.renderer),
                                   movies, frames, seed=seed)


def run_point(system: str, point: Point, settings: dict, threads: int) -> dict:
    """Simulate the point's movies, train on them and return what the curve shows of the held-out test part."""
    import torch
    torch.set_num_threads(threads)
    from cneep_engine import TrainConfig, train
    t0 = time.perf_counter()
    movie = simulate(system, point, settings["movies"], settings["frames"], settings["seed"])
    t1 = time.perf_counter()
    config = TrainConfig(iterations=settings["iters"], batch=settings["batch"], lr=settings["lr"],
                         channels=settings["channels"], eval_every=settings["eval_every"], patience=0,
                         seeds=settings["seeds"], device=settings["device"])
    s = train(movie, config).summary
    t = s["truth"]
    ceiling = t["sigma_2pt"]
    return {"series": point.series, "x": point.x, "system": point.system, "renderer": point.renderer,
            "frame_shape": list(movie.frames.shape[2:]), "dt": movie.dt,
            "rate_over_ceiling": s["ep_rate"] / ceiling, "rate_over_ceiling_err": s["ep_rate_err"] / ceiling,
            "empirical_over_ceiling": t["empirical_rate"] / ceiling, "r2": t["r2"], "slope": t["slope"],
            "ep_rate": s["ep_rate"], "ep_rate_err": s["ep_rate_err"], "ep_rate_std": s["ep_rate_std"],
            "sigma_2pt": ceiling, "sigma": t["sigma"], "empirical_rate": t["empirical_rate"],
            "converged": s["converged"], "warnings": s["warnings"], "best_iteration": s["best_iteration"],
            "device": s["device"], "simulate_s": t1 - t0, "train_s": time.perf_counter() - t1,
            "wall_s": time.perf_counter() - t0, "date": time.strftime("%Y-%m-%d")}


def _write(out: dict, path: Path) -> None:
    """Whole or not at all: an interrupted run leaves the previous JSON."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(path)


def _row(name: str, r: dict) -> str:
    return (f"| {name} | {r['rate_over_ceiling']:.3f} +- {r['rate_over_ceiling_err']:.3f} | "
            f"{r['empirical_over_ceiling']:.3f} | {r['r2']:.3f} | {r['converged']} | {r['wall_s']:.0f} |")


def plot(out: dict, path: Path) -> None:
    """Rate / ceiling with its error bar (and the test windows' exact rate / ceiling) over R^2, a column per
    series, against the axis value."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter
    pg.mkQApp()
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    series = list(dict.fromkeys(r["series"] for r in out["points"].values()))
    win = pg.GraphicsLayoutWidget()
    win.resize(max(640, 420 * len(series)), 620)
    s = out["settings"]
    win.addLabel(f"{out['system']}, {out['axis']}: {s['movies']} movies x {s['frames']} frames, {s['iters']} "
                 f"iterations, batch {s['batch']}", row=0, col=0, colspan=len(series))
    for col, name in enumerate(series):
        rows = sorted((r for r in out["points"].values() if r["series"] == name), key=lambda r: r["x"])
        x = np.array([r["x"] for r in rows], float)
        xlabel, log = SERIES[name]
        vx = np.log10(x) if log else x      # the view's coordinates: error bars are not log-transformed for us
        ratio = np.array([r["rate_over_ceiling"] for r in rows])
        err = np.array([r["rate_over_ceiling_err"] for r in rows])
        top = win.addPlot(row=1, col=col, title=name)
        top.setLogMode(x=log)
        if col == 0:
            top.addLegend(offset=(10, -10), labelTextSize="8pt")
        top.addLine(y=1.0, pen=pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine))
        top.addItem(pg.ErrorBarItem(x=vx, y=ratio, height=2 * err, beam=0.02 * (np.ptp(vx) or 1), pen="b"))
        top.plot(x, ratio, pen="b", symbol="o", symbolBrush="b", name="CNEEP, held out (+- 1 s.e.)")
        top.plot(x, [r["empirical_over_ceiling"] for r in rows], pen=None, symbol="x", symbolPen="k",
                 name="exact EP of the same windows")
        top.setLabel("left", "rate / two-frame ceiling")
        shown = np.concatenate([ratio - err, ratio + err, [r["empirical_over_ceiling"] for r in rows]])
        top.setYRange(min(0.0, *shown), max(1.1, *shown))
        bottom = win.addPlot(row=2, col=col)
        bottom.setLogMode(x=log)
        r2 = [r["r2"] for r in rows]
        bottom.plot(x, r2, pen="r", symbol="s", symbolBrush="r")
        bottom.setYRange(min(0.0, *r2), 1)
        bottom.setLabel("left", "R² per transition")
        bottom.setLabel("bottom", xlabel)
        ticks = [[(v, f"{u:g}") for v, u in zip(vx, x)]]     # the points' own values, not a log axis's clutter
        for plt in (top, bottom):
            plt.getAxis("bottom").setTicks(ticks)
    win.show()              # offscreen: lays the plots out at the window's size
    pg.QtWidgets.QApplication.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    ImageExporter(win.ci).export(str(path))
    print(f"plot: {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--axis", choices=AXES, required=True)
    p.add_argument("--system", choices=list(SYSTEMS), default="bead-spring")
    p.add_argument("--movies", type=int)
    p.add_argument("--frames", type=int, help="frames per movie")
    p.add_argument("--iters", type=int, help="training iterations")
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--channels", type=int, help="channels of CNEEP's first block")
    p.add_argument("--eval-every", type=int, help="iterations between validations")
    p.add_argument("--seeds", type=int, default=1, help="estimators trained per point (their spread: ep_rate_std)")
    p.add_argument("--seed", type=int, default=0, help="data seed, the same at every point")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--jobs", type=int, default=1, help="points trained at once, in processes sharing the cores")
    p.add_argument("--plot", action="store_true", help="draw the curve from the JSON once the points are done")
    p.add_argument("-o", "--output", type=Path, help="JSON (default bench/out/robustness/SYSTEM_AXIS.json)")
    p.add_argument("--png", type=Path, help="plot (default docs/robustness_SYSTEM_AXIS.png)")
    a = p.parse_args()
    from torch import __version__ as torch_version
    if a.axis == "window" and a.system != "network":
        p.error("--axis window crops the network around a hot node: use --system network")
    make_points, defaults = SYSTEMS[a.system]
    settings = {k: getattr(a, k) if getattr(a, k) is not None else v for k, v in defaults.items()}
    settings |= {"seeds": a.seeds, "seed": a.seed, "device": a.device}
    stem = f"{a.system.replace('-', '_')}_{a.axis}"
    output = a.output or Path(f"bench/out/robustness/{stem}.json")
    png = a.png or Path(f"docs/robustness_{stem}.png")
    out = {"system": a.system, "axis": a.axis, "settings": settings, "points": {}}
    if output.exists():
        old = json.loads(output.read_text())
        same = {k: v for k, v in old["settings"].items() if k != "device"} == \
            {k: v for k, v in settings.items() if k != "device"}
        if (old["system"], old["axis"]) != (a.system, a.axis) or not same:
            p.error(f"{output} holds a {old['system']} {old['axis']} curve with settings {old['settings']}: "
                    f"rerun with those, or pass another -o")
        out = old
    out |= {"machine": f"{_cpu()}, {os.cpu_count()} cores", "torch": torch_version}
    output.parent.mkdir(parents=True, exist_ok=True)
    todo = [pt for pt in make_points(a.axis) if pt.name not in out["points"]]
    print(f"{len(todo)} points to run, {len(out['points'])} already in {output}", flush=True)
    print("| point | rate / ceiling | test windows' exact / ceiling | R^2 | converged | wall s |\n"
          "|---|---|---|---|---|---|", flush=True)
    for name, r in out["points"].items():
        print(_row(name, r), flush=True)
    threads = max(1, (os.cpu_count() or 1) // a.jobs)
    with ProcessPoolExecutor(a.jobs) as pool:
        futures = {pool.submit(run_point, a.system, pt, settings, threads): pt for pt in todo}
        for f in as_completed(futures):
            pt = futures[f]
            try:
                out["points"][pt.name] = f.result()
            except Exception as e:     # the other points go on; a rerun tries this one again
                print(f"| {pt.name} | failed: {type(e).__name__}: {e} |", flush=True)
                continue
            _write(out, output)
            print(_row(pt.name, out["points"][pt.name]), flush=True)
    if a.plot and out["points"]:
        plot(out, png)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
