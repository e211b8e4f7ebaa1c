"""The run's result in words: the verdict (EP rate, error bar, equilibrium test), its spread over seeds,
warnings, and how it compares with the truth."""

from __future__ import annotations

from html import escape

from PyQt6.QtWidgets import QLabel

from cneep_engine.verdict import describe


def _html(text: str) -> str:
    return escape(text).replace("k_B", "k<sub>B</sub>")


def summary_text(summary: dict) -> str:
    s = summary
    lines = [f"<b>{_html(describe(s))}</b>"]
    if s.get("ep_rate_std") is not None:
        lines.append(f"spread over {len(s['seeds'])} seeds (s.d.): {s['ep_rate_std']:.3g} k<sub>B</sub>/s")
    block = s.get("block")
    blocks = f" in {block['blocks']} blocks of ~{block['windows']}" if block else ""
    lines.append(f"on {s.get('test_windows', '?')} held-out test windows{blocks}")
    lines += [f"<span style='color:#b35900'>⚠ {_html(w)}</span>" for w in s.get("warnings", [])]
    if "truth" in s:
        t = s["truth"]
        r2 = f", R² = {t['r2']:.3f} per transition" if t.get("r2") is not None else ""
        lines.append(f"exact σ = {t['sigma']:.4g}, two-frame σ = {t['sigma_2pt']:.4g} k<sub>B</sub>/s: "
                     f"error {t['rel_err_2pt']:+.1%} against the two-frame value{r2}")
        if "observed" in t:   # partially observed data: the best any estimator of these windows can reach
            o = t["observed"]
            lines.append(f"best reachable from these windows = {o['ep_rate']:.4g} k<sub>B</sub>/s: "
                         f"error {o['rel_err']:+.1%}, R² = {o['r2']:.3f} per window")
    stop = s.get("stopped", "")
    lines.append(f"{stop} after {s.get('iterations', '?')} iterations (best at {s.get('best_iteration', '?')}), "
                 f"{s.get('device', '')}, {s.get('wall_s', 0):.0f} s")
    if stop == "cancelled":
        lines.append("<i>cancelled: these are the results of the best model found before Cancel</i>")
    return "<br>".join(lines)


class SummaryView(QLabel):
    def __init__(self, parent=None):
        super().__init__("Train a model or open a run to see its results.", parent)
        self.setWordWrap(True)
        self.setMargin(6)

    def set_summary(self, summary: dict | None) -> None:
        self.setText(summary_text(summary) if summary else "Train a model or open a run to see its results.")
