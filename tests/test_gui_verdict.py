"""The verdict in the results panel: error bar, interval, equilibrium test, warnings; old runs without it."""

import json

from PyQt6.QtCore import Qt

from cneep_gui.main_window import MainWindow

VERDICT = {"ep_rate_err": 0.051, "ep_rate_ci95": [1.93, 2.13], "p_equilibrium": 1e-4, "noise_floor": 0.08,
           "block": {"windows": 40, "tau_int": 3.1, "blocks": 250}, "converged": False,
           "warnings": ["not converged: the validation rate still moved by +0.3 k_B/s over the last 800 "
                        "iterations (error bar 0.051): train longer"]}


def test_results_panel_shows_the_verdict_and_its_warnings(studio, tiny_movie, toy_run):
    studio.set_data(tiny_movie)
    toy_run.summary |= {"ep_rate": 2.031, **VERDICT}
    studio.set_run(toy_run)
    text = studio.summary.text()
    assert ("EP rate 2.031 ± 0.051 k<sub>B</sub>/s (95%: 1.930-2.130): dissipation detected "
            "(p &lt; 0.001 against equilibrium)") in text
    assert "250 blocks of ~40" in text
    assert "not converged: the validation rate still moved by +0.3 k<sub>B</sub>/s" in text
    toy_run.summary |= {"ep_rate": 0.011, "ep_rate_ci95": [-0.03, 0.05], "p_equilibrium": 0.41, "warnings": []}
    studio.set_run(toy_run)
    assert "no dissipation detected above 0.08 k<sub>B</sub>/s (p = 0.41)" in studio.summary.text()
    assert "not converged" not in studio.summary.text()
    # a short verdict starts at the top of the Results dock, not halfway down a tall one
    assert studio.summary.alignment() & Qt.AlignmentFlag.AlignTop


def test_a_run_saved_before_the_verdict_still_opens(qtbot, tiny_movie, toy_run, tmp_path):
    from cneep_engine import save_movie
    movie = save_movie(tiny_movie, tmp_path / "movie.tif")
    toy_run.summary["input"] = str(movie)
    toy_run.save(tmp_path / "run")
    old = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert not set(VERDICT) & set(old)          # saved as runs were before the verdict
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.open_path(tmp_path / "run") and window.error_box is None
    assert "EP rate" in window.summary.text() and "blocks" not in window.summary.text()
