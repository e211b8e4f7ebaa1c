"""A trained CNEEP applied to new movies without retraining (`cneep apply`), against their exact EP.

Trains on 10 synthetic N=2 bead-spring movies (Tc = 1, Th = 10), then applies the model to 10 new movies of the
same system and to 10 movies of other drivings (Th = 5, and Th = 1: equilibrium), each against its exact
two-frame rate sigma_2pt and the exact EP of its own transitions (empirical rate).

    nice python bench/apply_model.py    # 27 minutes on 2 CPU cores shared with other work (training: 23)

Small movies (12 x 24 px, as bench/verdict_calibration.py) and a small network train to convergence on a CPU:

    OMP_NUM_THREADS=1 nice python bench/apply_model.py --cell 12 --channels 8 --batch 1024 --lr 1e-3 --iters 3000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cneep_engine import (BeadRenderer, BeadSpringChain, TrainConfig, load_movie, save_movie, simulate_bead_spring,
                          train)
from cneep_engine.apply import apply_run, read_like, trained_run
from cneep_engine.io.atomic import write_json


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--movies", type=int, default=10)
    p.add_argument("--frames", type=int, default=5000)
    p.add_argument("--iters", type=int, default=400)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--channels", type=int, default=32, help="channels of the network's first block")
    p.add_argument("--cell", type=int, default=20, help="pixels per bead: frames are cell x 2 cell, the PSF and the "
                   "pixel size scaled with it so that the beads move the same distance in micrometres")
    p.add_argument("--th", type=float, nargs="+", default=[10.0, 5.0, 1.0], help="hot baths of the new movies")
    p.add_argument("-o", "--output", type=Path, default=Path("bench/out/apply/results.json"))
    a = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cneep-apply-"))

    def movies(th: float, seed: int, name: str) -> Path:
        chain = BeadSpringChain(beads=2, tc=1.0, th=th, dt=0.01)
        renderer = BeadRenderer(cell=a.cell, pixel_size=20 / a.cell, psf_sigma=3 * a.cell / 20)
        return save_movie(simulate_bead_spring(chain, renderer, movies=a.movies, frames=a.frames, seed=seed),
                          folder / f"{name}.tif")

    t0 = time.perf_counter()
    config = TrainConfig(iterations=a.iters, batch=a.batch, lr=a.lr, channels=a.channels, eval_every=100, patience=0,
                         device="cpu")
    trained = train(load_movie(movies(10.0, 1, "train")), config, run_dir=folder / "run").summary
    results = {"train": _row(trained, time.perf_counter() - t0), "config": vars(a) | {"output": str(a.output)},
               "applied": {}}
    print(f"trained {a.iters} iterations on {a.movies} x {a.frames} frames (Th = 10): {_line(results['train'])}")
    run = trained_run(folder / "run")
    for i, th in enumerate(a.th):
        t0 = time.perf_counter()
        path = movies(th, 2 + i, f"th{th:g}")
        applied, _ = apply_run(folder / "run", read_like(run, path), folder / f"applied_th{th:g}", run=run)
        results["applied"][f"{th:g}"] = _row(applied.summary, time.perf_counter() - t0)
        print(f"applied to {a.movies} new movies, Th = {th:g}: {_line(results['applied'][f'{th:g}'])}")
    a.output.parent.mkdir(parents=True, exist_ok=True)
    write_json(a.output, results)
    print(f"wrote {a.output}; run folders in {folder}")


def _row(s: dict, wall_s: float) -> dict:
    t = s["truth"]
    return {"ep_rate": s["ep_rate"], "ep_rate_err": s["ep_rate_err"], "p_equilibrium": s["p_equilibrium"],
            "sigma_2pt": t["sigma_2pt"], "empirical_rate": t["empirical_rate"], "r2": t["r2"], "slope": t["slope"],
            "windows": s["test_windows"], "converged": s["converged"], "wall_s": wall_s}


def _line(r: dict) -> str:
    off = (r["ep_rate"] - r["empirical_rate"]) / r["ep_rate_err"]
    return (f"EP rate {r['ep_rate']:.3f} ± {r['ep_rate_err']:.3f} (p = {r['p_equilibrium']:.2g}); exact: "
            f"sigma_2pt {r['sigma_2pt']:.3f}, these transitions {r['empirical_rate']:.3f} ({off:+.1f} errors); "
            f"R^2 {r['r2']:.3f}, slope {r['slope']:.3f}; {r['windows']} windows, {r['wall_s']:.0f} s")


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
