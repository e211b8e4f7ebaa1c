"""NEEP paper, Fig. 3e: RNEEP on the partially observed flashing ratchet against the window length n.

Only the position (0, 1, 2) is seen; whether the potential is on stays hidden, so the series is
non-Markovian. RNEEP's EP per step is a lower bound that grows with n toward the full-information EP
(the upper line); pairs of positions alone reveal almost nothing. Prints a markdown table, saves a plot.

    nice -n 10 python bench/rneep_partial_ratchet.py    # 2-core CPU: 37 minutes on a shared one (n = 128: 24)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from neep_common import estimate, print_table, save_plot  # noqa: E402

from cneep_engine import FlashingRatchet, TrainConfig, simulate_ratchet  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--potential", type=float, default=2.0)
    p.add_argument("--seq-lens", type=int, nargs="+", default=[2, 8, 32, 128])
    p.add_argument("--trajectories", type=int, default=10)
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("-o", "--output", type=Path, default=Path("bench/out/rneep_partial_ratchet.png"))
    a = p.parse_args()
    ratchet = FlashingRatchet(potential=a.potential)
    data = simulate_ratchet(ratchet, a.trajectories, a.steps, partial=True, seed=7)
    rows = []
    for n in a.seq_lens:
        config = TrainConfig(model="rneep", seq_len=n, iterations=a.iters, eval_every=50, batch=256,
                             hidden=a.hidden, val_samples=10_000, patience=0, seeds=a.seeds, device=a.device)
        rows.append(estimate(data, config, n=n))
        r = rows[-1]
        r["of_full"] = f"{r['estimate'] / r['sigma']:.1%}"
        print_table(rows[-1:], list(r))
    print()
    print(f"V = {a.potential}: full-information EP per step {ratchet.ep_per_step:.5f}, "
          f"from pairs of positions {ratchet.ep_per_step_positions:.3g}")
    print_table(rows, ["n", "estimate", "sd", "of_full", "sigma", "sigma_2pt", "seeds", "train_frames",
                       "iterations", "wall_s"])

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.axhline(ratchet.ep_per_step, color="r", ls="--", label="full information (exact)")
    ax.axhline(ratchet.ep_per_step_positions, color="grey", ls=":", label="pairs of positions (exact)")
    ax.errorbar([r["n"] for r in rows], [r["estimate"] for r in rows], [r["sd"] for r in rows], fmt="o-",
                capsize=3, label=f"RNEEP ({a.seeds} seeds)")
    ax.set(xlabel="sequence length n", ylabel="EP per step", xscale="log", yscale="log",
           title=f"Partially observed ratchet, V = {a.potential:g} (cf. NEEP Fig. 3e)")
    ax.legend(fontsize=7)
    save_plot(fig, a.output)


if __name__ == "__main__":
    main()
