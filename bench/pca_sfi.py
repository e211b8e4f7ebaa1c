"""pca-sfi on bead-spring movies: the held-out rate against the number of principal components kept, against
sigma_2pt, and its wall time.

Movies: the README demo's (20 movies of 5000 frames, 20 x 40 px, PSF 3 px, Tc = 1, Th = 10, uint8), the same
chain at a tenth of the temperatures (the same sigma; displacements a third as large, so the image is nearly
linear in them) and at equilibrium. The default split: 4 held-out movies, tau = 200 s. Each case with
`--repeats` seeds of the simulation; the curve goes up to `--components`.

    python bench/pca_sfi.py [--repeats 3] [--components 12] [--json bench/out/pca_sfi/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring, train
from cneep_engine.estimators import ClosedFormConfig, estimate_pca_sfi

MOVIES, FRAMES = 20, 5000
CASES = {"Tc=1, Th=10": (1.0, 10.0), "Tc=0.1, Th=1": (0.1, 1.0), "equilibrium Tc=Th=1": (1.0, 1.0)}


def run_case(tc: float, th: float, components: int, seed: int, diffusion=None) -> dict:
    movie = simulate_bead_spring(BeadSpringChain(beads=2, tc=tc, th=th, dt=0.01), BeadRenderer(), movies=MOVIES,
                                 frames=FRAMES, seed=seed)
    t, cpu = time.perf_counter(), time.process_time()
    est = estimate_pca_sfi(movie, None, components=components, diffusion=diffusion, seed=seed)
    return {"sigma": movie.truth.sigma, "sigma_2pt": movie.truth.sigma_2pt, "curve": est.details["components_curve"],
            "wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - cpu}


def whole_run(components: int) -> dict:
    """`train` with a run folder: the estimate, the verdict, and the maps of 10^5 transitions written to disk."""
    movie = simulate_bead_spring(BeadSpringChain(beads=2), BeadRenderer(), movies=MOVIES, frames=FRAMES, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        t, cpu = time.perf_counter(), time.process_time()
        run = train(movie, TrainConfig(model="pca-sfi"), run_dir=folder,
                    closed_form=ClosedFormConfig(components=components))
        return {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - cpu,
                "r2": run.summary["truth"]["r2"], "ep_rate": run.summary["ep_rate"],
                "debiased_rate": run.summary["debiased_rate"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--components", type=int, default=12)
    parser.add_argument("--json")
    args = parser.parse_args()
    out = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "cases": {}}
    for name, (tc, th) in CASES.items():
        runs = [run_case(tc, th, args.components, seed) for seed in range(args.repeats)]
        out["cases"][name] = runs
        print(f"{name}: sigma {runs[0]['sigma']:.4g}, sigma_2pt {runs[0]['sigma_2pt']:.4g}; "
              f"wall {np.mean([r['wall_s'] for r in runs]):.1f} s, CPU {np.mean([r['cpu_s'] for r in runs]):.1f} s")
        for k in range(args.components):
            rate, debiased, err, var = (np.array([r["curve"][k][key] for r in runs])
                                        for key in ("ep_rate", "debiased_rate", "ep_rate_err", "variance_explained"))
            spread = rate.std(ddof=1) if len(runs) > 1 else 0.0
            print(f"  {k + 1:2d} components: plug-in {rate.mean():.4g} (sd {spread:.2g}), debiased "
                  f"{debiased.mean():.4g}, bootstrap error {err.mean():.2g}, variance {var.mean():.4f}")
    noisy = run_case(1.0, 10.0, args.components, 0, diffusion="noise-robust")
    out["noise-robust Tc=1, Th=10, seed 0"] = noisy
    print("noise-robust D, Tc=1, Th=10, seed 0: " + "; ".join(
        f"{c['components']}: {c['debiased_rate']:.3g} ± {c['ep_rate_err']:.2g}" for c in noisy["curve"]))
    out["whole_run"] = whole_run(8)
    print(f"train() with a run folder, 8 components: {out['whole_run']}")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
