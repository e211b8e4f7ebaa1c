"""NEEP paper, Fig. 3e: RNEEP on the partially observed flashing ratchet against the window length n.

Only the position (0, 1, 2) is seen; whether the potential is on stays hidden, so the series is
non-Markovian. The paper compares RNEEP with the full-information EP, which no estimator of positions can
reach. Here each n also gets its exact ceiling: the EP per step that windows of n positions reveal,
KL(forward || reversed windows) / (n - 1), and every held-out window its exact optimal label
ln P(w) / P(reversed w) (forward algorithm over the hidden flag), so RNEEP is scored per window (R^2)
against the best any estimator can do. Prints a markdown table, saves a plot.

    python bench/rneep_partial_ratchet.py                      # V = 2, n = 2 .. 128, 2 seeds
    # 2-core CPU, shared with another benchmark: 54 minutes for n = 2 .. 64; n = 128 alone takes longer still
    python bench/rneep_partial_ratchet.py --potential 1.5 --seq-lens 32   # the published notebook's point
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from neep_common import print_table, save_plot  # noqa: E402

from cneep_engine import FlashingRatchet, TrainConfig, simulate_ratchet, train  # noqa: E402


def row(ratchet: FlashingRatchet, data, config: TrainConfig) -> dict:
    n = config.seq_len
    ceiling, ceiling_se = ratchet.observed_ep_per_step(n, windows=100_000, seed=11)
    s = train(data, config).summary
    per_window = s["truth"]["observed"]   # against each held-out window's exact ln P(w) / P(reversed w)
    rate, sd = s["ep_rate"], s["ep_rate_std"] or 0.0
    return {"n": n, "estimate": rate, "sd": sd, "exact_n": ceiling, "exact_n_se": ceiling_se,
            "exact_test": per_window["ep_rate"],
            "of_exact_n": f"{rate / ceiling:.1%}" if ceiling > 0 else "-",
            "of_full": f"{rate / ratchet.ep_per_step:.1%}",
            "r2": per_window["r2"], "slope": per_window["slope"], "seeds": len(s["seeds"]),
            "iterations": max(x["iterations"] for x in s["seeds"]), "wall_s": s["wall_s"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--potential", type=float, default=2.0)
    p.add_argument("--seq-lens", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64, 128])
    p.add_argument("--trajectories", type=int, default=10)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--average", type=float, default=0.0, help="weight average decay (the documented "
                   "figures: 0)")
    p.add_argument("--device", default="auto")
    p.add_argument("-o", "--output", type=Path, default=Path("bench/out/rneep_partial_ratchet.png"))
    a = p.parse_args()
    ratchet = FlashingRatchet(potential=a.potential)
    data = simulate_ratchet(ratchet, a.trajectories, a.steps, partial=True, seed=7)
    columns = ["n", "estimate", "sd", "exact_n", "exact_n_se", "exact_test", "of_exact_n", "of_full", "r2", "slope",
               "seeds", "iterations", "wall_s"]
    rows = []
    for n in a.seq_lens:
        config = TrainConfig(model="rneep", seq_len=n, iterations=a.iters, eval_every=max(1, a.iters // 20),
                             batch=a.batch, lr=a.lr, hidden=a.hidden, val_samples=20_000, patience=0,
                             seeds=a.seeds, device=a.device, average=a.average)
        rows.append(row(ratchet, data, config))
        print_table(rows[-1:], columns)
    print()
    print(f"V = {a.potential:g}: full-information EP per step {ratchet.ep_per_step:.5f}, from pairs of positions "
          f"{ratchet.ep_per_step_positions:.3g}; {a.trajectories} x {a.steps} steps (60% train), "
          f"GRU {a.hidden}, batch {a.batch}, lr {a.lr:g} cosine")
    print_table(rows, columns)

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ns = [r["n"] for r in rows]
    ax.axhline(ratchet.ep_per_step, color="r", ls="--", label="full information (exact)")
    ax.plot(ns, [r["exact_n"] for r in rows], "k:", marker="s", ms=3, label="windows of n positions (exact)")
    ax.errorbar(ns, [r["estimate"] for r in rows], [r["sd"] for r in rows], fmt="o-", capsize=3,
                label=f"RNEEP ({a.seeds} seeds)")
    ax.set(xlabel="sequence length n", ylabel="EP per step", xscale="log", yscale="log",
           title=f"Partially observed ratchet, V = {a.potential:g} (cf. NEEP Fig. 3e)")
    ax.legend(fontsize=7)
    save_plot(fig, a.output)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
