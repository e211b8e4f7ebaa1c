"""NEEP paper, Fig. 2a: EP rate of the bead-spring chain against Tc/Th for N = 2 and 5 beads.

NEEP on the bead coordinates (Th = 10, dt = 0.01), estimate from held-out trajectories against the exact
continuous-time rate sigma and the frame-pair ceiling sigma_2pt. Prints a markdown table, saves a plot.

    nice -n 10 python bench/neep_bead_spring.py    # scaled for a 2-core CPU: 8 minutes on a shared one
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from neep_common import estimate, print_table, save_plot  # noqa: E402

from cneep_engine import BeadSpringChain, TrainConfig, simulate_bead_spring_trajectories  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--beads", type=int, nargs="+", default=[2, 5])
    p.add_argument("--tc", type=float, nargs="+", default=[1, 4, 7], help="cold temperatures (Th = 10)")
    p.add_argument("--trajectories", type=int, default=20)
    p.add_argument("--frames", type=int, default=50_000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--iters", type=int, default=800)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--average", type=float, default=0.0, help="weight average decay (the documented "
                   "figures: 0)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (the documented figures: 1e-3)")
    p.add_argument("-o", "--output", type=Path, default=Path("bench/out/neep_bead_spring.png"))
    a = p.parse_args()
    config = TrainConfig(model="neep", iterations=a.iters, eval_every=100, batch=1024, hidden=a.hidden,
                         val_samples=20_000, patience=0, seeds=a.seeds, device=a.device, average=a.average, lr=a.lr)
    rows = []
    for beads in a.beads:
        for tc in a.tc:
            chain = BeadSpringChain(beads=beads, tc=tc, th=10.0, dt=0.01)
            data = simulate_bead_spring_trajectories(chain, a.trajectories, a.frames, seed=beads * 100 + int(tc))
            rows.append(estimate(data, config, N=beads, tc_th=tc / 10))
            r = rows[-1]
            r["err_2pt"] = f"{r['estimate'] / r['sigma_2pt'] - 1:+.1%}"
            r["err_empirical"] = f"{r['estimate'] / r['empirical'] - 1:+.1%}"
            print_table(rows[-1:], list(r))
    print()
    print_table(rows, ["N", "tc_th", "sigma", "sigma_2pt", "empirical", "estimate", "sd", "err_2pt",
                       "err_empirical", "r2", "seeds", "train_frames", "iterations", "wall_s"])

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for beads, colour in zip(a.beads, ["tab:blue", "tab:orange", "tab:green"]):
        sel = [r for r in rows if r["N"] == beads]
        x = np.linspace(min(a.tc) / 10, max(a.tc) / 10, 100)
        exact = [BeadSpringChain(beads=beads, tc=10 * v, th=10.0).ep_rate for v in x]
        ax.plot(x, exact, color=colour, label=f"N = {beads}, exact")
        ax.errorbar([r["tc_th"] for r in sel], [r["estimate"] for r in sel], [r["sd"] for r in sel], fmt="o",
                    color=colour, capsize=3, label=f"N = {beads}, NEEP ({a.seeds} seeds)")
    ax.set(xlabel="Tc / Th", ylabel="EP rate", yscale="log", title="Bead-spring chain, NEEP (cf. NEEP Fig. 2a)")
    ax.legend(fontsize=7)
    save_plot(fig, a.output)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
