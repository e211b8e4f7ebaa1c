"""The run's result in words: the verdict (EP rate, error bar, equilibrium test), its spread over seeds,
which movies it learnt and was tested on, warnings with what to do about them, and how it compares with the truth."""

from __future__ import annotations

from html import escape

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel

from cneep_engine import Run
from cneep_engine.estimators.model_known_text import describe_model_known
from cneep_engine.sites import describe_map
from cneep_engine.verdict import advice, describe
from cneep_engine.windows import PARTS

PART_NAMES = dict(zip(PARTS, ("train", "validation", "test")))
EMPTY = "Train a model or open a run to see its results."


def _html(text: str) -> str:
    return escape(text).replace("k_B", "k<sub>B</sub>")


def _off(rate: float, truth: dict) -> str:
    """How far an EP rate lies from the two-frame ceiling: relative, or by its difference where the ceiling is 0."""
    if truth["sigma_2pt"]:
        return f"error {truth['rel_err_2pt']:+.1%}"
    return f"off by {rate - truth['sigma_2pt']:+.3g} k<sub>B</sub>/s"


def movie_parts(run: Run, n_movies: int) -> list[str]:
    """Each movie's part of the run in words: "train", "validation", "test", or, for a movie cut into time
    blocks, its parts in order ("train, validation, test"); "" for a movie without windows."""
    out = []
    for m in range(n_movies):
        codes = run.part[(run.movie == m) & (run.part >= 0)]
        order = sorted(np.unique(codes))
        out.append(", ".join(PART_NAMES[PARTS[c]] for c in order))
    return out


def parts_text(parts: list[str], noun: str = "movies") -> str:
    """How many movies (or trajectories) went to each part, e.g. "movies: 12 train, 4 validation, 4 test"."""
    if all(", " in p for p in parts if p):
        which = f"each of the {len(parts)} {noun}" if len(parts) > 1 else f"the {noun.removesuffix('s')}"
        return f"{which} cut in time into train, validation and test parts"
    counts = {name: sum(p == name for p in parts) for name in PART_NAMES.values()}
    return f"{noun}: " + ", ".join(f"{n} {name}" for name, n in counts.items())


def summary_text(summary: dict, parts: list[str] | None = None, noun: str = "movies") -> str:
    s = summary
    lines = [f"<b>{_html(describe(s))}</b>"]
    if s.get("lower_bound"):
        lines.append("a lower bound on the EP rate (thermodynamic uncertainty relation)")
    if s.get("debiased_rate") is not None:
        lines.append(f"with its finite-data bias removed: {s['debiased_rate']:.4g} k<sub>B</sub>/s")
    if s.get("components_curve"):
        lines.append("debiased, with 1, 2, … principal components: " + "; ".join(
            f"{c['debiased_rate']:.3g} ± {c['ep_rate_err']:.2g}" for c in s["components_curve"]) + " k<sub>B</sub>/s")
    model_known = "static_rate" in s
    if model_known:
        lines += [_html(line) for line in describe_model_known(s)]
    lines += [f"<span style='color:#b35900'><b>What this means:</b> {_html(a)}</span>" for a in advice(s)]
    if s.get("ep_rate_std") is not None:
        lines.append(f"spread over {len(s['seeds'])} seeds (s.d.): {s['ep_rate_std']:.3g} k<sub>B</sub>/s")
    block = s.get("block")
    blocks = f" in {block['blocks']} blocks of ~{block['windows']}" if block else ""
    applied = s.get("applied")
    if applied:
        err = f" ± {applied['trained_ep_rate_err']:.2g}" if applied.get("trained_ep_rate_err") is not None else ""
        lines.append(f"on all {s.get('test_windows', '?')} windows{blocks}, with the {applied['model']} model of "
                     f"{_html(applied['run'])}, not retrained (EP rate {applied['trained_ep_rate']:.4g}{err} "
                     "k<sub>B</sub>/s on its own test part)")
    elif model_known:
        # EPR-Net's errors allow for the correlation along each trajectory, without blocks
        blocks = f" in {s['bootstrap_blocks']} blocks" if s.get("bootstrap_blocks") else ""
        lines.append(f"on {s['test_windows']} held-out test snapshots{blocks}")
    else:
        lines.append(f"on {s.get('test_windows', '?')} held-out test windows{blocks}")
    if parts and not applied:
        lines.append(parts_text(parts, noun))
    lines += [f"<span style='color:#b35900'>⚠ {_html(w)}</span>" for w in s.get("warnings", [])]
    if "truth" in s:
        t = s["truth"]
        r2 = f", R² = {t['r2']:.3f} per transition" if t.get("r2") is not None else ""
        if "hidden" in t:   # sigma holds EP these data cannot show: measured against the ceiling only, if exact
            if t.get("sigma_2pt_exact", True):
                lines.append(f"two-frame σ of what is seen = {t['sigma_2pt']:.4g} k<sub>B</sub>/s: "
                             f"{_off(s['ep_rate'], t)} against it{r2}")
            lines.append(_html(t["hidden"]))
        elif "sigma_2pt" in t and t.get("sigma_2pt_exact", True):   # none for a model-known estimate
            lines.append(f"exact σ = {t['sigma']:.4g}, two-frame σ = {t['sigma_2pt']:.4g} k<sub>B</sub>/s: "
                         f"{_off(s['ep_rate'], t)} against the two-frame value{r2}")
        else:
            lines.append(f"exact σ = {t['sigma']:.4g} k<sub>B</sub>/s: error {t['rel_err_sigma']:+.1%} against it{r2}")
        if "map" in t:   # the time-averaged map against the exact per-site densities
            lines.append(_html(describe_map(t["map"])))
        if "observed" in t:   # partially observed data: the best any estimator of these windows can reach
            o = t["observed"]
            lines.append(f"best reachable from these windows = {o['ep_rate']:.4g} k<sub>B</sub>/s: "
                         f"error {o['rel_err']:+.1%}, R² = {o['r2']:.3f} per window")
    stop = s.get("stopped", "")
    if "training" in s:   # a model-known estimator's own network
        t = s["training"]
        lines.append(f"{s['method']}, {t['network']['network']} trained on {s['snapshots']['train']} snapshots: "
                     f"{t['stopped']} after {t['iterations']} steps (best at {t['best_iteration']}), "
                     f"{s['device'] + ', ' if 'device' in s else ''}{s.get('wall_s', 0):.0f} s")
        return "<br>".join(lines)
    if "method" in s:   # a training-free estimator
        lines.append(f"{s['method']}, training-free: {s.get('wall_s', 0):.1f} s")
        return "<br>".join(lines)
    if applied:
        lines.append(f"the model: {stop} after {s.get('iterations', '?')} iterations (best at "
                     f"{s.get('best_iteration', '?')}); applied on {s.get('device', '')} in {s.get('wall_s', 0):.0f} s")
        return "<br>".join(lines)
    lines.append(f"{stop} after {s.get('iterations', '?')} iterations (best at {s.get('best_iteration', '?')}), "
                 f"{s.get('device', '')}, {s.get('wall_s', 0):.0f} s")
    if stop == "cancelled":
        lines.append("<i>cancelled: these are the results of the best model found before Cancel</i>")
    return "<br>".join(lines)


class SummaryView(QLabel):
    def __init__(self, parent=None):
        super().__init__(EMPTY, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)   # from the top of a tall dock
        self.setWordWrap(True)
        self.setMargin(6)

    def set_summary(self, summary: dict | None, parts: list[str] | None = None, noun: str = "movies") -> None:
        self.setText(summary_text(summary, parts, noun) if summary else EMPTY)
