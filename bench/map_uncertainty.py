"""How much of the N=2 chain's exact dissipation the significance mask keeps: the time-averaged map's pixels beyond
two standard errors of 0, by seeds (CNEEP, 2 seeds) and by the block bootstrap (pca-sfi; the same CNEEP run).

For each run: the fraction of pixels kept, and the fraction of the exact velocity density's mass in them (each
bead's density spread over the pixels within its PSF width; `sites.density_map`), with the time each took.

    nice python bench/map_uncertainty.py [OUT_DIR] [--iters N]
"""

import argparse
import json
import time
from pathlib import Path

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring, train
from cneep_engine.sites import density_map
from cneep_engine.synth import bead_spring_sites

parser = argparse.ArgumentParser()
parser.add_argument("out", nargs="?", default="bench/out/map_uncertainty")
parser.add_argument("--iters", type=int, default=800)
args = parser.parse_args()
out = Path(args.out)
chain, renderer = BeadSpringChain(beads=2, tc=1, th=10, dt=0.01), BeadRenderer()
movie = simulate_bead_spring(chain, renderer, movies=10, frames=2000, seed=7)
exact = density_map(bead_spring_sites(chain, renderer), movie.frame_shape, radius=renderer.psf_sigma)
cneep = dict(iterations=args.iters, channels=8, batch=128, lr=1e-3, eval_every=100, device="cpu")
results = {}


def report(name: str, run, wall_s: float) -> None:
    kept = run.map_uncertainty.significant(run.mean_map)
    results[name] = {**run.summary["map_uncertainty"], "ep_rate": run.summary["ep_rate"],
                     "exact_mass_kept": float(exact[kept].sum() / exact.sum()),
                     "map_mass_kept": float(run.mean_map[kept].sum() / run.mean_map.sum()), "wall_s": wall_s}
    print(name, json.dumps(results[name]), flush=True)


for name, config in (("pca-sfi", TrainConfig(model="pca-sfi")), ("cneep", TrainConfig(**cneep, seeds=2))):
    t0 = time.perf_counter()
    run = train(movie, config, run_dir=out / name)
    report(f"{name}, {run.map_uncertainty.method}", run, time.perf_counter() - t0)
# the same two seeds' mean map, its error from the bootstrap of the held-out windows instead
t0 = time.perf_counter()
run.add_map_uncertainty()
report("cneep, 2 seeds' mean, bootstrap", run, time.perf_counter() - t0)
(out / "results.json").write_text(json.dumps({"sigma": chain.ep_rate, "runs": results}, indent=1))
