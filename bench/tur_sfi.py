"""Training-free TUR and SFI estimators on the bead-spring chain: speed, accuracy against their exact
infinite-data values, error bars, and the SFI plug-in bias at equilibrium.

Each accuracy run: 100 trajectories of 10^4 frames at dt = 0.01 (10^6 transitions), the default split of a
training run (the last 20 trajectories held out: tau = 2000). Speed: best of 3 calls on 10^6 transitions of 2
and 5 coordinates, wall and CPU time (the CPU time tells the cost on a machine that other work keeps busy).

    python bench/tur_sfi.py [--repeats 10] [--json bench/out/tur_sfi/results.json]     # --repeats 0: speed only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from cneep_engine.estimators import estimate_sfi, estimate_tur
from cneep_engine.synth import BeadSpringChain, simulate_bead_spring_trajectories
from cneep_engine.trajectories import Trajectories

TRAJECTORIES, FRAMES = 100, 10_000
CASES = {"N=2": (2, 10.0), "N=5": (5, 10.0), "N=2 equilibrium": (2, 1.0), "N=5 equilibrium": (5, 1.0)}


def speed() -> dict:
    out = {}
    for beads in (2, 5):
        traj = Trajectories(data=BeadSpringChain(beads=beads).sample(TRAJECTORIES, FRAMES + 1, seed=0), dt=0.01)
        for name, estimate in (("tur", estimate_tur), ("sfi", estimate_sfi)):
            times = []
            for _ in range(3):
                t, cpu = time.perf_counter(), time.process_time()
                estimate(traj, None)
                times.append((time.perf_counter() - t, time.process_time() - cpu))
            wall, cpu = min(times)
            out[f"{name} N={beads}"] = {"wall_s": wall, "cpu_s": cpu}
    return out


def accuracy(repeats: int) -> dict:
    out = {}
    for case, (beads, th) in CASES.items():
        chain = BeadSpringChain(beads=beads, tc=1.0, th=th, dt=0.01)
        rows = []
        for seed in range(repeats):
            traj = simulate_bead_spring_trajectories(chain, TRAJECTORIES, FRAMES, seed=1000 + seed)
            tur, sfi = estimate_tur(traj, None), estimate_sfi(traj, None)
            given = estimate_sfi(traj, None, diffusion=chain.diffusion)
            rows.append([tur.rate, tur.rate_err, sfi.rate, sfi.debiased_rate, sfi.rate_err, given.rate,
                         given.debiased_rate, given.rate_err])
        r = np.array(rows)
        tau = 0.2 * TRAJECTORIES * (FRAMES - 1) * chain.dt
        exact = {"sigma": chain.ep_rate, "sigma_2pt": chain.ep_rate_two_frame, "tur": chain.tur_rate_linear,
                 "sfi": chain.projected_ep_rate(estimated_diffusion=True), "sfi_given_d": chain.projected_ep_rate()}
        stats = {}
        for k, (col, err, limit) in {"tur": (0, 1, "tur"), "sfi plug-in": (2, 4, "sfi"), "sfi debiased": (3, 4, "sfi"),
                                     "sfi D given, plug-in": (5, 7, "sfi_given_d"),
                                     "sfi D given, debiased": (6, 7, "sfi_given_d")}.items():
            z = (r[:, col] - exact[limit]) / r[:, err]
            stats[k] = {"mean": r[:, col].mean(), "sd": r[:, col].std(ddof=1) if repeats > 1 else None,
                        "mean_err": r[:, err].mean(), "exact": exact[limit], "within_3_err": float(np.mean(abs(z) < 3)),
                        "mean_z": z.mean()}
        out[case] = {"exact": exact, "tau": tau, "bias_n(n-1)/tau": beads * (beads - 1) / tau,
                     "bias_2Nb/tau": 2 * beads * (beads + 1) / tau, "estimates": stats, "runs": r.tolist()}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=10, help="independent data sets per case")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "date": time.strftime("%Y-%m-%d"), "load_before": os.getloadavg()[0], "speed_s_per_1e6": speed()}
    for k, v in result["speed_s_per_1e6"].items():
        print(f"{k}: {v['wall_s']:.2f} s per 10^6 transitions ({v['cpu_s']:.2f} s of CPU time, all threads)")
    result["accuracy"] = accuracy(args.repeats) if args.repeats else {}
    result["load_after"] = os.getloadavg()[0]
    for case, a in result["accuracy"].items():
        print(f"\n{case}: sigma {a['exact']['sigma']:.4f}, sigma_2pt {a['exact']['sigma_2pt']:.4f}; SFI bias "
              f"n(n-1)/tau {a['bias_n(n-1)/tau']:.4f}, 2N_b/tau {a['bias_2Nb/tau']:.4f}")
        print("| estimate | exact limit | mean | sd over runs | mean bootstrap err | within 3 err | mean z |")
        print("|---|---|---|---|---|---|---|")
        for k, s in a["estimates"].items():
            print(f"| {k} | {s['exact']:.4f} | {s['mean']:.4f} | {s['sd']:.4f} | {s['mean_err']:.4f} | "
                  f"{s['within_3_err']:.0%} | {s['mean_z']:+.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
