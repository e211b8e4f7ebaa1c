"""Motility-induced phase separation at the settings that separate: the generator's run, its cost and its truth.

Simulates `cneep simulate mips` at its defaults (N = 1024, phi 0.6, v0 0.05, gamma 5e-4, beta 30, k 1, dt 0.1,
uniform start, burn-in 4e4) with `--frames` snapshots 1/gamma = 2000 apart as coordinates (`--trajectories 1
--interval 2000`), then reports: ms per time step, the histogram of the local packing fraction (disc of radius
6 R) and its two peaks, sigma_B per particle, and the mean heat density of the dense and the dilute particles.
Writes the snapshots (the cache: `--draw-only` redraws from them), results.json and a figure of the last snapshot,
discs coloured by local packing fraction and by heat density.

    nice taskset -c 0 python bench/mips.py [--frames 10] [--out bench/out/mips] [--figure docs/mips_snapshot.png]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cneep_engine.cli import ProgressBar
from cneep_engine.io import load_trajectories, save_trajectories
from cneep_engine.registry import SYSTEMS
from cneep_engine.synth.mips import ActiveDiscs, DiscRepulsion, SnapshotSampling
from cneep_engine.synth.mips_movie import DiscRenderer

DENSE = 0.55   # local packing fraction between the two peaks: dense above, dilute below
PX = 7.0       # figure pixels per unit length


def peaks(packing: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Histogram (bins of 2/36: the local packing fraction moves in steps of 1/36) and its highest bin below and
    above DENSE."""
    edges = np.arange(0, 1.4 + 1e-9, 2 / 36)
    counts, _ = np.histogram(packing, edges)
    centres = (edges[:-1] + edges[1:]) / 2
    low, high = centres < DENSE, centres >= DENSE
    return counts, edges, [float(centres[low][counts[low].argmax()]), float(centres[high][counts[high].argmax()])]


def colour(values: np.ndarray, lo: float, hi: float) -> list[tuple[int, int, int]]:
    """Dark blue through white to dark red over [lo, hi]."""
    t = np.clip((values - lo) / (hi - lo), 0, 1)[:, None]
    blue, white, red = np.array([30, 60, 160]), np.array([245, 245, 245]), np.array([170, 30, 30])
    rgb = np.where(t < 0.5, blue + (white - blue) * 2 * t, white + (red - white) * (2 * t - 1))
    return [tuple(int(c) for c in row) for row in rgb]


def panel(x: np.ndarray, values: np.ndarray, box: float, radius: float, lo: float, hi: float,
          title: str) -> Image.Image:
    """Discs at their radius in the periodic box (drawn again across an edge they straddle), with a title."""
    size = round(box * PX)
    img = Image.new("RGB", (size, size + 24), "white")
    draw = ImageDraw.Draw(img)
    r = radius * PX
    for (px, py), c in zip(x * PX, colour(values, lo, hi)):
        for dx in (-size, 0, size):
            for dy in (-size, 0, size):
                cx, cy = px + dx, py + dy
                if -r <= cx <= size + r and -r <= cy <= size + r:
                    draw.ellipse([cx - r, cy - r + 24, cx + r, cy + r + 24], fill=c, outline=(90, 90, 90))
    draw.rectangle([0, 0, size, 23], fill="white")
    draw.text((6, 4), title, fill="black", font=ImageFont.load_default())
    return img


def figure(data, path: Path) -> None:
    p, t = data.truth.params, data.truth
    n = p["particles"]
    x = data.data[-1, -1, :2 * n].reshape(n, 2)
    packing, heat = t.particles["packing"][-1, -1], t.particles["heat"][-1, -1]
    hi = float(np.percentile(heat, 99))
    left = panel(x, packing, p["box"], p["radius"], 0.0, 1.0, "local packing fraction, 0 (blue) to 1 (red)")
    right = panel(x, heat, p["box"], p["radius"], -hi, hi,
                  f"heat density e_i = -div b_i, -{hi:.2g} (blue) to {hi:.2g} (red)")
    out = Image.new("RGB", (left.width + right.width + 12, left.height), "white")
    out.paste(left, (0, 0))
    out.paste(right, (left.width + 12, 0))
    out.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10, help="snapshots, 1/gamma apart")
    parser.add_argument("--out", type=Path, default=Path("bench/out/mips"))
    parser.add_argument("--figure", type=Path, default=Path("docs/mips_snapshot.png"))
    parser.add_argument("--draw-only", action="store_true", help="redraw from the snapshots written before")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    snapshots, results = args.out / "snapshots.npz", args.out / "results.json"
    if args.draw_only:
        data, report = load_trajectories(snapshots), json.loads(results.read_text())
    else:
        system = SYSTEMS["mips"]
        configs = (ActiveDiscs(), DiscRepulsion(), DiscRenderer(),
                   SnapshotSampling(trajectories=1, frames=args.frames, interval=2000.0))
        t0 = time.perf_counter()
        data = system.run(*configs, callback=ProgressBar())
        wall = time.perf_counter() - t0
        save_trajectories(data, snapshots)
        p = data.truth.params
        steps = round(p["burn_in"] / p["time_step"]) + (p["frames"] - 1) * p["steps_between"]
        packing, heat = data.truth.particles["packing"], data.truth.particles["heat"]
        counts, edges, (dilute, dense) = peaks(packing[0, -1])
        report = {"command": "nice taskset -c 0 python bench/mips.py --frames %d" % args.frames,
                  "machine": f"2-core AMD EPYC VM ({platform.processor() or 'x86_64'}), numpy {np.__version__}",
                  "particles": p["particles"], "box": p["box"], "steps": steps, "wall_s": wall,
                  "ms_per_step": 1e3 * wall / steps, "sigma_B": data.truth.sigma, "sigma_B_err": p["sigma_err"],
                  "sigma_B_per_particle": p["sigma_per_particle"],
                  "sigma_B_per_particle_err": p["sigma_per_particle_err"],
                  "last_snapshot": {"peaks": [dilute, dense], "dense_fraction": float((packing[0, -1] >= DENSE).mean()),
                                    "histogram": counts.tolist(), "edges": edges.round(4).tolist()},
                  "all_snapshots": {"peaks": peaks(packing)[2], "dense_fraction": float((packing >= DENSE).mean()),
                                    "heat_dense": float(heat[packing >= DENSE].mean()),
                                    "heat_dilute": float(heat[packing < DENSE].mean())}}
        results.write_text(json.dumps(report, indent=1))
    figure(data, args.figure)
    print(json.dumps({k: v for k, v in report.items() if k != "last_snapshot"}, indent=1))
    print("last snapshot:", {k: v for k, v in report["last_snapshot"].items() if k in ("peaks", "dense_fraction")})


if __name__ == "__main__":
    main()
