"""The training-free estimators in the real window: picked like a model, run as a job, shown, exported, saved."""

import json

import numpy as np
import pytest

from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
from cneep_engine.estimators import ClosedFormConfig, ModelKnownConfig
from cneep_gui.main_window import MainWindow

CHAIN = BeadSpringChain(beads=2, tc=1, th=10, dt=0.01)


@pytest.fixture(scope="module")
def beads():
    # 10 trajectories of 5000 frames: 2 held out, 10^4 transitions, a rate to within about 15%
    return simulate_bead_spring_trajectories(CHAIN, trajectories=10, frames=5000, seed=3)


def _visible(panel, name: str) -> bool:
    box = panel.boxes.get(name) or panel.own_boxes[ClosedFormConfig][name]
    return panel.form.isRowVisible(box)


def test_the_form_shows_the_chosen_estimators_settings(studio, beads):
    studio.set_data(beads)
    panel = studio.training_panel
    assert [panel.model.itemText(i) for i in range(panel.model.count())] == ["neep", "rneep", "tur", "sfi", "score",
                                                                              "epr-net"]
    panel.model.setCurrentText("neep")
    assert _visible(panel, "hidden") and _visible(panel, "iterations") and not _visible(panel, "bootstrap")
    panel.model.setCurrentText("tur")
    assert not any(_visible(panel, n) for n in ("hidden", "iterations", "batch", "lr", "seq_len"))
    assert all(_visible(panel, n) for n in ("val_fraction", "test_fraction", "seed", "bootstrap"))
    assert not _visible(panel, "diffusion") and not panel.form.isRowVisible(panel.device)
    panel.model.setCurrentText("sfi")
    assert _visible(panel, "diffusion") and _visible(panel, "bootstrap")
    panel.own_boxes[ClosedFormConfig]["diffusion"].setCurrentText("noise-robust")
    panel.own_boxes[ClosedFormConfig]["bootstrap"].setValue(50)
    assert panel.closed_form() == ClosedFormConfig(bootstrap=50, diffusion="noise-robust")


@pytest.mark.parametrize("method", ["tur", "sfi"])
def test_a_closed_form_runs_as_a_job_and_its_run_is_shown_exported_and_saved(studio, qtbot, beads, method,
                                                                               monkeypatch, pick_file, tmp_path):
    studio.set_data(beads)
    studio.training_panel.model.setCurrentText(method)
    events = []
    shown = studio._training_progress
    monkeypatch.setattr(studio, "_training_progress", lambda ev: (events.append(ev), shown(ev)))
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    run = studio.run
    assert run is not None and run.summary["method"] == method and run.closed_form == ClosedFormConfig()
    s = run.summary
    exact = CHAIN.tur_rate_linear if method == "tur" else CHAIN.projected_ep_rate(estimated_diffusion=True)
    rate = s["ep_rate"] if method == "tur" else s["debiased_rate"]
    assert abs(rate - exact) < 3 * s["ep_rate_err"] and s["p_equilibrium"] < 0.001
    # One event as the estimate starts, one as it ends; the bar ends full.
    assert [(e.phase, e.done) for e in events] == [("evaluation", 0), ("evaluation", len(run.ds))]
    assert studio.training_panel.progress.value() == 1000
    text = studio.summary.text()
    assert "EP rate" in text and "dissipation detected" in text and f"{method}, training-free" in text
    assert ("lower bound" in text) == (method == "tur") and ("bias removed" in text) == (method == "sfi")

    studio.timeline.set_position(9, 10)      # a held-out trajectory: its cumulative EP, the exact one beside it
    t, cum = studio.trace.predicted.getData()
    assert cum[0] == 0 and cum[-1] == pytest.approx(run.ds[run.movie == 9].sum(), rel=1e-4)
    assert studio.trace.truth.getData()[1][-1] == pytest.approx(beads.truth.ds[9].sum(), rel=1e-6)

    enabled = {a.text(): a.isEnabled() for a in studio.export_actions}
    assert enabled["EP traces (CSV)…"] and enabled["Summary (JSON)…"]
    assert not any(a.isEnabled() for a in studio.map_export_actions)
    pick_file(tmp_path / "summary.json")
    enabled = {a.text(): a for a in studio.export_actions}
    enabled["Summary (JSON)…"].trigger()
    assert json.loads((tmp_path / "summary.json").read_text())["ep_rate"] == s["ep_rate"]
    pick_file(tmp_path / "trace.csv")
    enabled["EP traces (CSV)…"].trigger()
    assert (tmp_path / "trace.csv").read_text().count("\n") == len(run.ds) + 1

    pick_file(tmp_path / "saved")
    studio.save_run_action.trigger()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.open_path(tmp_path / "saved")
    assert again.run.summary == json.loads(json.dumps(s)) and again.run.closed_form == run.closed_form
    np.testing.assert_array_equal(again.run.ds, run.ds)
    np.testing.assert_array_equal(again.data.data, beads.data)
    assert f"{method}, training-free" in again.summary.text()


def test_a_movie_offers_pca_sfi_whose_maps_are_shown_and_saved(studio, qtbot, pick_file, tmp_path):
    from cneep_engine import BeadRenderer, simulate_bead_spring
    from cneep_engine.export import frame_map
    movie = simulate_bead_spring(BeadSpringChain(beads=2, tc=0.1, th=1, dt=0.01), BeadRenderer(cell=10, psf_sigma=2),
                                 movies=4, frames=1500, seed=1)
    studio.set_data(movie)
    panel = studio.training_panel
    assert [panel.model.itemText(i) for i in range(panel.model.count())] == ["cneep", "pca-sfi"]
    panel.model.setCurrentText("pca-sfi")
    assert _visible(panel, "components") and _visible(panel, "diffusion") and not _visible(panel, "channels")
    panel.own_boxes[ClosedFormConfig]["components"].setValue(3)
    panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    run = studio.run
    assert run.summary["method"] == "pca-sfi" and run.closed_form.components == 3
    assert "pca-sfi, training-free" in studio.summary.text() and "debiased, with 1, 2, … principal components" in \
        studio.summary.text()
    assert all(a.isEnabled() for a in studio.map_export_actions)
    studio.timeline.set_position(3, 100)      # a held-out movie: its transition's map over the frame
    assert np.array_equal(studio.movie_view.overlay.image, frame_map(run, 3, 100))
    assert studio.movie_view.overlay.isVisible()

    pick_file(tmp_path / "saved")
    studio.save_run_action.trigger()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.open_path(tmp_path / "saved")
    assert again.run.summary["components_curve"] == run.summary["components_curve"]
    np.testing.assert_array_equal(np.asarray(again.run.maps), np.asarray(run.maps))


def test_the_score_method_runs_against_the_datas_own_drift_and_refuses_a_bad_drift_file(studio, qtbot, tmp_path):
    beads = simulate_bead_spring_trajectories(BeadSpringChain(dt=1.0), trajectories=10, frames=400, seed=2)
    studio.set_data(beads)
    panel = studio.training_panel
    panel.model.setCurrentText("score")
    own = panel.own_boxes[ModelKnownConfig]
    assert panel.form.isRowVisible(own["drift"]) and panel.form.isRowVisible(panel.boxes["iterations"])
    assert not panel.form.isRowVisible(panel.own_boxes[ClosedFormConfig]["bootstrap"])
    assert panel.form.isRowVisible(panel.device)   # its network trains where a neural estimator's would
    bad = tmp_path / "bad.py"
    bad.write_text("D = 1.0\ndef drift(x):\n    return x[:, :1]\n")
    own["drift"].setText(str(bad))
    panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    assert studio.run is None and str(bad) in studio.error_box.text() and "shape" in studio.error_box.text()
    studio.error_box.close()
    own["drift"].setText("")
    panel.boxes["iterations"].setValue(40)
    panel.boxes["eval_every"].setValue(20)
    panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    s = studio.run.summary
    assert s["method"] == "score" and np.isfinite(s["static_rate"]) and len(s["densities"]) == 2
    assert "lower bound" in studio.summary.text() and "mlp trained on" in studio.summary.text()
    assert s["device"] in studio.summary.text() and "two-frame" not in studio.summary.text()
    assert len(studio.training_plots.truth_lines) == 1   # sigma's line: the two-frame ceiling does not bound it


def test_the_epr_net_method_shows_its_own_rows_and_reports_both_bounds(studio, qtbot):
    from cneep_engine.synth import RotatedDoubleWell, TrajectorySampling
    from cneep_engine.synth.steady import steady_trajectories
    studio.set_data(steady_trajectories(RotatedDoubleWell(), TrajectorySampling(trajectories=4, frames=200, seed=1)))
    panel = studio.training_panel
    panel.model.setCurrentText("epr-net")
    own = panel.own_boxes[ModelKnownConfig]
    assert all(panel.form.isRowVisible(own[k]) for k in ("drift", "enhanced", "spread", "grid", "width"))
    assert not any(panel.form.isRowVisible(own[k]) for k in ("score_loss", "noise", "bootstrap"))
    panel.boxes["iterations"].setValue(20)
    panel.boxes["eval_every"].setValue(10)
    panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    s = studio.run.summary
    assert s["method"] == "epr-net" and s["bounds"]["upper"] is not None and s["landscape_rrmse"] > 0
    assert "upper bound" in studio.summary.text() and "potential trained on" in studio.summary.text()
    # The double well has no exact two-frame ceiling: none is drawn or quoted.
    assert [line.value() for line in studio.training_plots.truth_lines] == [s["truth"]["sigma"]]
    assert "two-frame" not in studio.summary.text() and "exact σ = 2.168" in studio.summary.text()
