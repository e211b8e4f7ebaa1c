"""NEEP paper, Fig. 3c: EP per step of the discrete flashing ratchet against the potential V.

NEEP with learned state embeddings on the six-state jump chain (r = 1), estimate from held-out
trajectories against the exact EP per step. Prints a markdown table, saves a plot.

    nice -n 10 python bench/neep_ratchet.py        # scaled for a 2-core CPU: 9 minutes on a shared one
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from neep_common import estimate, print_table, save_plot  # noqa: E402

from cneep_engine import FlashingRatchet, TrainConfig, simulate_ratchet  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--potentials", type=float, nargs="+", default=[0.5, 1, 2, 3, 4])
    p.add_argument("--trajectories", type=int, default=5)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--device", default="cpu")
    p.add_argument("--average", type=float, default=0.0, help="weight average decay (the documented "
                   "figures: 0)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (the documented figures: 1e-3)")
    p.add_argument("-o", "--output", type=Path, default=Path("bench/out/neep_ratchet.png"))
    a = p.parse_args()
    config = TrainConfig(model="neep", iterations=a.iters, eval_every=50, batch=1024, val_samples=20_000,
                         patience=0, seeds=a.seeds, device=a.device, average=a.average, lr=a.lr)
    rows = []
    for v in a.potentials:
        data = simulate_ratchet(FlashingRatchet(potential=v), a.trajectories, a.steps, seed=int(10 * v))
        rows.append(estimate(data, config, V=v))
        r = rows[-1]
        r["err"] = f"{r['estimate'] / r['sigma'] - 1:+.1%}"
        r["err_empirical"] = f"{r['estimate'] / r['empirical'] - 1:+.1%}"
        print_table(rows[-1:], list(r))
    print()
    print_table(rows, ["V", "sigma", "empirical", "estimate", "sd", "err", "err_empirical", "r2", "seeds",
                       "train_frames", "iterations", "wall_s"])

    fig, ax = plt.subplots(figsize=(5, 3.6))
    x = np.linspace(0, max(a.potentials), 100)
    ax.plot(x, [FlashingRatchet(potential=v).ep_per_step for v in x], "r--", label="exact")
    ax.errorbar([r["V"] for r in rows], [r["estimate"] for r in rows], [r["sd"] for r in rows], fmt="o",
                capsize=3, label=f"NEEP ({a.seeds} seeds)")
    ax.set(xlabel="V", ylabel="EP per step", title="Flashing ratchet, NEEP (cf. NEEP Fig. 3c)")
    ax.legend()
    save_plot(fig, a.output)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
