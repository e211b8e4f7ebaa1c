"""EPR-Net against exact EP: the rotated double well (exact sigma and landscape) and the driven 12-D Gaussian
mixture (Monte Carlo sigma), trained on exact steady draws.

Per case: n_train training, as many validation and twice as many test draws; the published network (tanh 20-20-20,
Adam 1e-3, batch 1024, 50 validations, no weight average, no early stopping) trained by the estimator's shared loop
(`model_known.fit_network`); the bounds, midpoint, gap and landscape error of the model kept after each number of steps
(separate runs, same seed), and the wall time. The double well's landscape is scored on the published benchmark's
box [0, 3]^2. One torch thread: the network is small, more threads only wait on each other.

    python bench/epr_net.py [--steps 2000 5000 10000] [--json bench/out/epr_net/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from cneep_engine.drift_models import DriftModel
from cneep_engine.estimators.base import TEST, TRAIN, VAL
from cneep_engine.estimators.epr_net import bound_terms, divergence, estimate_epr_net
from cneep_engine.estimators.model_known import ModelKnownConfig
from cneep_engine.synth import DrivenGaussianMixture, RotatedDoubleWell
from cneep_engine.training import TrainConfig

CASES = {   # name: (model, training draws, box of the landscape)
    "double well, D = 0.1, c = 0.5": (RotatedDoubleWell(), 10_000, [(0, 3), (0, 3)]),
    "12-D Gaussian mixture, D = 0.1": (DrivenGaussianMixture(), 10_000, None),
}


def run(model, n_train: int, box, steps: int, seed: int = 0, enhanced: float = 0.0) -> dict:
    draws = model.draw(4 * n_train, torch.Generator().manual_seed(seed)).numpy()
    parts = np.r_[np.full(n_train, TRAIN), np.full(n_train, VAL), np.full(2 * n_train, TEST)]
    t0 = time.perf_counter()
    drift = DriftModel(type(model).__name__, model.drift, np.diag(model.diffusion).copy(),
                       log_density=model.log_density)
    config = TrainConfig(model="epr-net", iterations=steps, batch=1024, lr=1e-3, eval_every=max(1, steps // 50),
                         patience=0, average=0.0, seed=seed)
    est = estimate_epr_net(draws, parts, drift, ModelKnownConfig(width=20, blocks=3, enhanced=enhanced), config,
                           box=box)
    d = est.details
    sigma = model.ep_rate
    # The upper bound at the exact potential on the same test draws: what these draws allow at best.
    test = torch.as_tensor(draws[parts == TEST])
    force, div = (t.detach() for t in divergence(model.drift, test))
    exact_up, _ = bound_terms(lambda z: -model.log_density(z), test, force, div,
                              torch.as_tensor(np.diag(model.diffusion).copy()))
    b = d["bounds"]
    return {"steps": steps, "wall_s": round(time.perf_counter() - t0, 1), "sigma": sigma,
            "upper": b["upper"], "upper_err": d["upper_bound_err"], "lower": b["lower"],
            "lower_err": d["lower_bound_err"],
            "midpoint": est.rate, "midpoint_err": est.rate_err, "gap": d["gap"], "gap_err": d["gap_err"],
            "static": d["static_rate"], "static_err": d["static_rate_err"], "exact_potential": float(exact_up.mean()), "rrmse": d["landscape_rrmse"],
            "best_step": d["training"]["best_iteration"],
            "accepted": bool(b["upper"] >= sigma - 2 * d["upper_bound_err"] and b["lower"] <= sigma + 2 * d["lower_bound_err"]
                             and abs(est.rate - sigma) <= 0.02 * sigma and d["landscape_rrmse"] < 0.1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[2000, 5000, 10_000])
    ap.add_argument("--json", default="bench/out/epr_net/results.json")
    ap.add_argument("--enhanced", type=float, default=0.0, help="weight of the enhanced loss (0: the plain EPR loss)")
    ap.add_argument("--cases", nargs="+", choices=["well", "mixture"], default=["well", "mixture"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {"machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}", "cases": {}}
    for name, (model, n_train, box) in CASES.items():
        if ("well" if "well" in name else "mixture") not in args.cases:
            continue
        rows = results["cases"][name] = []
        for steps in args.steps:
            r = run(model, n_train, box, steps, enhanced=args.enhanced)
            rows.append(r)
            print(f"{name}, {steps} steps: upper {r['upper']:.4f} ± {r['upper_err']:.4f}, lower {r['lower']:.4f} ± "
                  f"{r['lower_err']:.4f}, midpoint {r['midpoint']:.4f} ± {r['midpoint_err']:.4f} (sigma "
                  f"{r['sigma']:.4f}; exact potential on these draws {r['exact_potential']:.4f}), gap {r['gap']:.4f}, static {r['static']:.3f} ± {r['static_err']:.3f}, "
                  f"rRMSE {r['rrmse']:.3f}, {r['wall_s']} s, accepted {r['accepted']}", flush=True)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
