"""EP-rate error and validation R^2 against wall time, ours and the published loop, from the JSON that
`cneep bench accuracy --json` prints.

    cneep bench accuracy --json ... > bench/out/speed/accuracy.json
    .venv/bin/python bench/accuracy_plot.py bench/out/speed/accuracy.json docs/time_to_accuracy.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str) -> None:
    r = json.loads(Path(src).read_text())
    fig, (ax_rate, ax_r2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, style in (("ours", "o-"), ("baseline", "s--")):
        curve = r.get(name, {}).get("curve", [])
        t = [p["wall_s"] for p in curve]
        label = "ours" if name == "ours" else "published loop (re-implemented)"
        # Each loop against the exact rate of the windows it validated on (they differ: ours a fixed subset).
        ax_rate.plot(t, [100 * p["rel_err_windows"] for p in curve], style, ms=3, label=label)
        ax_r2.plot(t, [p["r2"] for p in curve], style, ms=3, label=label)
    target = r["target"]
    band = 100 * target.get("rel_err_windows", target.get("rel_err"))   # "rel_err": JSON before 2026-12-02
    ax_rate.axhline(0, color="k", lw=0.8)
    ax_rate.axhspan(-band, band, color="k", alpha=0.1)
    ax_r2.axhline(target["r2"], color="k", lw=0.8)
    ax_rate.set(xlabel="wall time (s)", ylabel="validation EP rate error (%)", ylim=(-40, 15),
                title=f"EP rate vs the windows' exact rate (band: {band:.0f}%)")
    ax_r2.set(xlabel="wall time (s)", ylabel="validation R^2", ylim=(0, 1), title="R^2 against the exact dS")
    ax_rate.legend(fontsize=8)
    m = r["movie"]
    fig.suptitle(f"N=2 bead-spring, {m['movies']} x {m['frames']} frames", fontsize=9)
    fig.tight_layout()
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dst, dpi=100)


if __name__ == "__main__":
    main(*sys.argv[1:3])
