"""CNEEP on movies of active particles: what a movie of active matter can and cannot see.

Two cases, each simulated and trained through the command line (`cneep simulate`, `cneep train`) on one thread:
  trapped  one AOUP in a harmonic trap (A = v0 = gamma = eps = 1, d = 2, dt = 0.01): it dissipates sigma_A = 1, yet
           its positions are reversible (sigma_2pt = 0 exactly): CNEEP must find a rate within 3 errors of 0.
  pair     the active pair at gamma = 2 (k_c = A = eps = 1, D_a = v0^2 / gamma = 9, dt = 0.01): sigma_A = 9.6, of
           which the movie can show sigma_2pt = 0.7602; CNEEP must land within 10% of it.
Training as the converged calibration of the bead chain (docs/benchmarks.md, "Verdict calibration"): batch 1024,
lr 1e-3, 8 channels, 3000 iterations unless --iters says otherwise.

    OMP_NUM_THREADS=1 nice python bench/aoup_movie.py --case pair [--iters 6000] [--simulate "--pixel-size 1"]
Writes OUT/CASE.json (the commands, the summary's rate, error, verdict and truth, the wall time) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

from cneep_engine.cli import main as cneep

CASES = {
    "trapped": {
        "simulate": ["aoup", "--particles", "1", "--trap", "1", "--v0", "1", "--gamma", "1", "--eps", "1",
                     "--dt", "0.01", "--width", "16", "--height", "16", "--pixel-size", "1", "--psf-sigma", "1.5",
                     "--movies", "20", "--frames", "4000"],
        "target": "within 3 errors of 0",
    },
    "pair": {
        "simulate": ["active-pair", "--gamma", "2", "--v0", str(18 ** 0.5), "--coupling", "1", "--trap", "1",
                     "--eps", "1", "--dt", "0.01", "--cell", "12", "--pixel-size", "2", "--psf-sigma", str(12 / 7),
                     "--movies", "40", "--frames", "10000"],
        "target": "within 10% of sigma_2pt",
    },
}
TRAIN = ["--batch", "1024", "--lr", "1e-3", "--channels", "8", "--eval-every", "100", "--patience", "0",
         "--threads", "1"]


def run(case: str, out: Path, iters: int, seed: int, extra: list[str]) -> dict:
    spec = CASES[case]
    out.mkdir(parents=True, exist_ok=True)
    movie, folder = out / f"{case}.tif", out / f"{case}_run"
    if folder.exists():
        shutil.rmtree(folder)
    simulate = ["simulate", *spec["simulate"], *extra, "--seed", str(seed), "-o", str(movie)]
    train = ["train", str(movie), *TRAIN, "--iters", str(iters), "--seed", str(seed), "-o", str(folder)]
    start = time.perf_counter()
    assert cneep(simulate) == 0
    simulated = time.perf_counter() - start
    assert cneep(train) == 0
    s = json.loads((folder / "summary.json").read_text())
    t = s["truth"]
    rate, err, ceiling = s["ep_rate"], s["ep_rate_err"], t["sigma_2pt"]
    passed = abs(rate) < 3 * err if case == "trapped" else abs(rate / ceiling - 1) < 0.1
    return {"case": case, "target": spec["target"], "passed": bool(passed),
            "commands": ["cneep " + " ".join(simulate), "cneep " + " ".join(train)],
            "ep_rate": rate, "ep_rate_err": err, "ep_rate_ci95": s["ep_rate_ci95"],
            "p_equilibrium": s["p_equilibrium"], "noise_floor": s["noise_floor"], "converged": s["converged"],
            "iterations": s["iterations"], "best_iteration": s["best_iteration"], "warnings": s["warnings"],
            "sigma_A": t["sigma"], "sigma_2pt": ceiling, "empirical_rate": t["empirical_rate"], "r2": t["r2"],
            "slope": t["slope"], "hidden": t["hidden"], "simulate_s": simulated, "train_s": s["wall_s"],
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=list(CASES), required=True)
    ap.add_argument("--iters", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--simulate", default="", help="more options of cneep simulate, overriding the case's, e.g. "
                    "'--pixel-size 1'")
    ap.add_argument("-o", "--out", type=Path, default=Path("bench/out/aoup_movie"))
    a = ap.parse_args()
    result = run(a.case, a.out, a.iters, a.seed, a.simulate.split())
    (a.out / f"{a.case}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
