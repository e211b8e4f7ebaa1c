"""Shared by the NEEP-family benchmark scripts: train seeds, collect one table row, print the table."""

from __future__ import annotations

import os
import time

import torch

from cneep_engine import TrainConfig, train

# Two threads on the 2-core benchmark machine; OMP_NUM_THREADS=1 when another benchmark shares it.
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", min(2, os.cpu_count() or 1))))


def estimate(data, config: TrainConfig, **row) -> dict:
    """Train config.seeds estimators on `data` and return the numbers a table row shows (per step and per
    unit time, the seeds' mean and standard deviation, the exact values and the test set's empirical EP)."""
    t0 = time.perf_counter()
    s = train(data, config).summary
    t = s["truth"]
    sd = s["ep_rate_std"] or 0.0
    return {**row, "estimate": s["ep_rate"], "sd": sd, "sigma": t["sigma"], "sigma_2pt": t["sigma_2pt"],
            "empirical": t["empirical_rate"], "r2": t["r2"], "seeds": len(s["seeds"]),
            "train_frames": int(0.6 * data.n_trajectories) * data.n_frames,
            "iterations": max(x["iterations"] for x in s["seeds"]), "wall_s": time.perf_counter() - t0}


def print_table(rows: list[dict], columns: list[str]) -> None:
    cells = [[f"{r[c]:.5g}" if isinstance(r[c], float) else str(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for x in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(x, widths)) + " |")


def save_plot(fig, path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")
