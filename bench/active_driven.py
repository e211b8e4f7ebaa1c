"""Active particles and small driven systems: exact EP next to the training-free TUR and SFI estimates, and the
time to generate each data set.

Each case is generated as `cneep simulate` does (the registry's function with its declared settings), then TUR
and SFI run on the default split of a training run (the last 20% of the trajectories held out). For linear
systems observed in full, the estimators' own infinite-data values at this dt are exact and listed too.

    python bench/active_driven.py [--json bench/out/active_driven/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from cneep_engine.estimators import estimate_sfi, estimate_tur
from cneep_engine.registry import SYSTEMS

LONG = {"trajectories": 20, "frames": 20_000}
TUR_MAX = 16   # coordinates: TUR fits n^2 + n currents, 1056 for 16 particles in the plane (too slow here)
CASES = [   # name, system, settings given (the rest default), whether the linear model is observed in full
    ("gyrator", "gyrator", LONG),
    ("curl trap", "curl-trap", LONG),
    ("tilted ring", "ring", LONG),
    ("one AOUP, positions", "aoup", {"particles": 1, "trap": 1.0, "v0": 1.0, "gamma": 1.0, "eps": 1.0, "dt": 0.01,
                                     **LONG}),
    ("one AOUP, with propulsion", "aoup", {"particles": 1, "trap": 1.0, "v0": 1.0, "gamma": 1.0, "eps": 1.0,
                                           "dt": 0.01, "propulsion": True, **LONG}),
    ("active pair, positions", "active-pair", {"gamma": 2.0, "v0": 18 ** 0.5, **LONG}),
    ("active pair, with propulsion", "active-pair", {"gamma": 2.0, "v0": 18 ** 0.5, "propulsion": True, **LONG}),
    ("8 interacting AOUPs", "aoup", {"particles": 8, "trajectories": 16, "frames": 2000}),
]


def simulate(system: str, given: dict):
    s = SYSTEMS[system]
    configs = [c(**{k: v for k, v in given.items() if k in c.__dataclass_fields__}) for c in s.configs]
    return s.simulate(*configs), configs


def run_case(name: str, system: str, given: dict) -> dict:
    t, cpu = time.perf_counter(), time.process_time()
    traj, configs = simulate(system, given)
    gen = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - cpu}
    truth, p = traj.truth, traj.truth.params
    row = {"case": name, "system": system, "given": given, "shape": list(traj.data.shape), "dt": traj.dt,
           "generate": gen, "sigma": truth.sigma, "sigma_2pt": truth.sigma_2pt if p.get("sigma_2pt_exact", True)
           else None, **{k: p[k] for k in ("sigma_A_err", "sigma_A_medium", "sigma_A_medium_err", "sigma_A_free",
                                           "sigma_B") if k in p}}
    model = configs[0]
    if hasattr(model, "tur_rate_linear") and (system in ("gyrator", "curl-trap") or p.get("propulsion")) \
            and not p.get("substeps"):
        row["tur_limit"], row["sfi_limit"] = model.tur_rate_linear, model.projected_ep_rate(estimated_diffusion=True)
    for method, estimate in (("tur", estimate_tur), ("sfi", estimate_sfi)):
        if method == "tur" and traj.n_coordinates > TUR_MAX:
            continue
        t = time.perf_counter()
        e = estimate(traj, None)
        row[method] = {"rate": e.rate, "err": e.rate_err, "debiased": e.debiased_rate,
                       "wall_s": time.perf_counter() - t}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--cases", help="only the cases whose name contains this text")
    args = ap.parse_args()
    rows = []
    for case in CASES:
        if args.cases and args.cases not in case[0]:
            continue
        row = run_case(*case)
        rows.append(row)
        ceiling = "n/a" if row["sigma_2pt"] is None else f"{row['sigma_2pt']:.4f}"
        tur = f"{row['tur']['rate']:.4f} ± {row['tur']['err']:.4f}" if "tur" in row else "not run"
        print(f"{row['case']:<30} sigma {row['sigma']:.4f} sigma_2pt {ceiling}  "
              f"tur {tur}  sfi {row['sfi']['debiased']:.4f} ± "
              f"{row['sfi']['err']:.4f}  generated in {row['generate']['wall_s']:.1f} s", flush=True)
        if "sigma_A_medium" in row:
            print(f"{'':<30} sigma_A static {row['sigma']:.4f} ± {row['sigma_A_err']:.4f}, per-step heat "
                  f"{row['sigma_A_medium']:.4f} ± {row['sigma_A_medium_err']:.4f}, free {row['sigma_A_free']:.4f}")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"machine": platform.processor() or platform.machine(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
