"""A model-known estimate (score, EPR-Net) in words, the same lines in the CLI and the app: its bounds and the
training-free static value, where the EP sits (per particle or per coordinate), the landscape's error, the drift,
and what the EP of single transitions says.

    for line in describe_model_known(run.summary): print(line)
"""

from __future__ import annotations

import numpy as np

LISTED = 8   # densities listed one by one; more (every disc of a MIPS snapshot) are summarised


def values_text(values) -> str:
    """"0.56, 0.63 k_B/s", or for more than LISTED values "mean 0.63, 0.54 to 0.74 k_B/s over 64"."""
    v = np.asarray(values, np.float64)
    if v.size <= LISTED:
        return ", ".join(f"{x:.3g}" for x in v) + " k_B/s"
    return f"mean {v.mean():.3g}, {v.min():.3g} to {v.max():.3g} k_B/s over {v.size}"


def describe_model_known(s: dict) -> list[str]:
    """The lines after the verdict for the summary `s` of a model-known run."""
    static = "" if s["static_rate"] is None else (
        f"; without learning (the static value) {s['static_rate']:.4g} ± {s['static_rate_err']:.2g}")
    upper = "" if s["bounds"]["upper"] is None else (
        f", upper bound {s['bounds']['upper']:.4g} ± {s['upper_bound_err']:.2g}")
    lines = [f"lower bound {s['bounds']['lower']:.4g} ± {s['lower_bound_err']:.2g}{upper} k_B/s{static}"]
    if s.get("particle_densities"):
        lines.append("per particle: " + values_text(s["particle_densities"]))
    elif s.get("densities"):
        lines.append("per coordinate: " + values_text(s["densities"]))
    if s.get("landscape_rrmse") is not None:
        lines.append(f"landscape against the exact −ln p: relative RMS error {s['landscape_rrmse']:.3g}")
    lines.append(f"drift: {s['drift']}")
    t = s.get("transitions")
    if t is not None:   # runs saved before it was reported have none
        line = f"EP of single transitions, v(x_mid)·D⁻¹dx: {t['ep_rate']:.3g} ± {t['ep_rate_err']:.2g} k_B/s"
        if not t["resolved"]:
            line += (", too far from the estimate: the frames are too far apart to resolve single transitions, so "
                     "no EP per transition is shown (the estimate itself needs only snapshots)")
        lines.append(line)
    return lines
