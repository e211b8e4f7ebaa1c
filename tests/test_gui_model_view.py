"""A model-known run in the app: its bracket converging in the EP-rate plot, EPR-Net's landscape with contours, the
probability current as arrows over the density and the particles coloured by their EP, the same once reopened."""

import numpy as np
import pytest

from cneep_engine import Progress, TrainConfig
from cneep_engine.estimators import ModelKnownConfig
from cneep_engine.estimators.epr_net import LANDSCAPE_CUT
from cneep_engine.export import save_run
from cneep_engine.run import train
from cneep_gui.main_window import MainWindow
from cneep_gui.model_view import _MAP, ARROW_FILL, CONTOURS, ModelView
from cneep_gui.plots import TrainingPlots

X, Y = np.linspace(0, 2, 5), np.linspace(-1, 1, 4)
POTENTIAL = (X[None, :] - 1) ** 2 * 30 + Y[:, None] ** 2       # (y, x), up to 30: above the colour scale's cut


@pytest.fixture
def view(qtbot):
    v = ModelView()
    qtbot.addWidget(v)
    return v


def _landscape_summary():
    return {"method": "epr-net", "landscape": {"x": X.tolist(), "y": Y.tolist(), "potential": POTENTIAL.tolist(),
                                               "exact": (POTENTIAL / 2).tolist(), "rrmse": 0.5, "axes": ["u", "w"]}}


def test_the_landscape_is_an_image_on_its_grid_with_contours_and_a_colour_bar(view):
    view.set_summary(_landscape_summary())
    assert [view.choice.itemText(i) for i in range(view.choice.count())] == ["Landscape φ (EPR-Net)",
                                                                             "Exact landscape −ln p"]
    np.testing.assert_array_equal(view.image.image, POTENTIAL)
    # pixels centred on the grid points: the image spans half a step beyond the first and last of each axis
    rect = view.image.mapRectToParent(view.image.boundingRect())
    assert (rect.left(), rect.right()) == pytest.approx((-0.25, 2.25))
    assert (rect.top(), rect.bottom()) == pytest.approx((-1 - 1 / 3, 1 + 1 / 3))
    assert view.colorbar.levels() == pytest.approx((0, LANDSCAPE_CUT)) and view.colorbar.isVisible()
    levels = [c.level for c in view.contours]
    assert len(levels) == CONTOURS and 0 < min(levels) and max(levels) < LANDSCAPE_CUT
    assert view.plot.getAxis("bottom").labelText == "u" and "0.5" in view.note.text()
    view.choice.setCurrentIndex(1)     # the exact one, on the same scale and contours
    np.testing.assert_array_equal(view.image.image, POTENTIAL / 2)
    assert [c.level for c in view.contours] == levels


def test_the_current_is_one_arrow_per_cell_with_a_current_over_the_density(view):
    edges = [np.linspace(0, 3, 4), np.linspace(0, 6, 4)]          # cells 1 wide, 2 high
    current = np.zeros((3, 3, 2))
    current[0, 0], current[2, 1], current[1, 2] = (1, 0), (0, -2), (3, 4)
    density = np.arange(9.0).reshape(3, 3)                       # (x bins, y bins), as histogram2d gives
    view.set_summary({"method": "score", "current": {"axes": ["x", "y"], "edges": [e.tolist() for e in edges],
                                                     "density": density.tolist(), "current": current.tolist()}})
    assert view.choice.currentText() == "Probability current over the density"
    np.testing.assert_array_equal(view.image.image, density.T)    # rows are y
    x, y = view.shafts.getData()
    tails, tips = np.c_[x, y][0::2], np.c_[x, y][1::2]
    assert len(tips) == 3 and "3 of 9 cells" in view.note.text()
    arrows = tips - tails
    np.testing.assert_allclose((tails + tips) / 2, [[0.5, 1], [1.5, 5], [2.5, 3]])   # at the cells' centres
    # along J, the longest (|J| = 5) spanning ARROW_FILL of the narrower side of a cell
    np.testing.assert_allclose(arrows, np.array([[1, 0], [3, 4], [0, -2]]) * ARROW_FILL / 5, atol=1e-12)
    assert len(view.heads.getData()[0]) == 4 * 3


def test_noiseless_coordinates_show_their_density_and_say_why_no_current_is_drawn(view):
    edges = [np.linspace(0, 3, 4), np.linspace(0, 6, 4)]
    view.set_summary({"method": "score", "current": {"axes": ["x", "y"], "edges": [e.tolist() for e in edges],
                                                     "density": np.ones((3, 3)).tolist(),
                                                     "current": np.zeros((3, 3, 2)).tolist(), "noiseless": True}})
    assert view.choice.currentText() == "Density (noiseless coordinates: no current)"
    assert view.shafts.getData()[0] is None and view.image.image is not None
    assert "no noise (D = 0)" in view.note.text() and "cells have a current" not in view.note.text()


def test_particles_are_drawn_at_their_radius_and_coloured_by_their_ep(view):
    pos = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 2.0]])
    view.set_summary({"method": "score", "particle_densities": [1.0, 2.0, 4.0],
                      "particles": {"axes": ["x", "y"], "positions": pos.tolist(), "ep_rate": [0.5, 2.0, 1.0],
                                    "radius": 0.7}})
    assert view.choice.count() == 2 and view.colorbar.levels() == pytest.approx((0, 2.0))
    spots = view.particles.points()
    np.testing.assert_allclose([[p.pos().x(), p.pos().y()] for p in spots], pos)
    assert all(p.size() == pytest.approx(1.4) for p in spots) and not view.particles.opts["pxMode"]
    want = _MAP.map(np.array([0.25, 1.0, 0.5]), mode="qcolor")
    assert [p.brush().color().name() for p in spots] == [c.name() for c in want]
    view.choice.setCurrentIndex(1)     # each particle's mean over the test snapshots
    want = _MAP.map(np.array([0.25, 0.5, 1.0]), mode="qcolor")
    assert [p.brush().color().name() for p in view.particles.points()] == [c.name() for c in want]


def test_a_run_without_anything_to_draw_says_why(view):
    view.set_summary({"method": "epr-net", "bounds": {"lower": 1.0, "upper": 2.0}})
    assert not view.choice.isEnabled() and "two coordinates" in view.note.text()
    assert view.image.image is None and not view.colorbar.isVisible()
    view.set_summary(None)
    assert "Train score or EPR-Net" in view.note.text()


def test_the_bracket_gets_each_validations_bounds_and_a_band_between_them(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.reset(None)
    for it, (lo, mid, up) in enumerate([(-5.0, 2.0, 9.0), (1.0, 2.1, 3.2)]):
        plots.add(Progress(iteration=it * 10, val_loss=up, val_rate=mid, val_lower=lo, val_upper=up))
    assert plots.curve_data("lo")[1].tolist() == [-5, 1] and plots.curve_data("up")[1].tolist() == [9, 3.2]
    assert plots.curve_data("vr")[1].tolist() == [2, 2.1] and 0 in plots.bands
    plots.reset(None)                  # the score: a lower bound only, no band
    plots.add(Progress(iteration=0, val_loss=1.0, val_rate=2.0, val_lower=1.5))
    assert plots.curve_data("lo")[1].tolist() == [1.5] and not plots.bands


def test_an_epr_net_run_shows_its_bracket_live_and_its_landscape_again_when_reopened(studio, qtbot, tmp_path):
    from cneep_engine.synth import RotatedDoubleWell, TrajectorySampling
    from cneep_engine.synth.steady import steady_trajectories
    data = steady_trajectories(RotatedDoubleWell(), TrajectorySampling(trajectories=4, frames=200, seed=1))
    studio.set_data(data)
    panel = studio.training_panel
    panel.model.setCurrentText("epr-net")
    panel.own_boxes[ModelKnownConfig]["grid"].setValue(8)
    panel.boxes["iterations"].setValue(20)
    panel.boxes["eval_every"].setValue(10)
    panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    run = studio.run
    assert studio.views.currentWidget() is studio.model_view and studio.views.count() == 2
    np.testing.assert_array_equal(studio.model_view.image.image, run.summary["landscape"]["potential"])
    validations = [e for e in run.history if e.val_upper is not None]
    its, lows = studio.training_plots.curve_data("lo")
    assert its.tolist() == [0, 10, 20] == [e.iteration for e in validations]
    assert lows.tolist() == [e.val_lower for e in validations]
    # its errors follow each trajectory's correlation, not blocks
    assert f"on {run.summary['test_windows']} held-out test snapshots<br>" in studio.summary.text()

    save_run(run, studio.data, tmp_path / "run")
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.open_path(tmp_path / "run")
    assert again.views.currentWidget() is again.model_view
    assert again.training_panel.own_boxes[ModelKnownConfig]["grid"].value() == 8    # its own settings, to train again
    np.testing.assert_array_equal(again.model_view.image.image, studio.model_view.image.image)
    for key in ("lo", "up", "vr"):
        np.testing.assert_allclose(again.training_plots.curve_data(key)[1], studio.training_plots.curve_data(key)[1],
                                   rtol=1e-6)
    again.set_data(data)               # new input: the results tab goes with the run
    assert again.views.count() == 1 and again.views.currentWidget() is again.trajectory_view


def test_a_reopened_score_run_of_particles_shows_them_and_the_current(studio, tmp_path):
    from cneep_engine.synth import ActiveSampling, Integration, ParticleRenderer, Repulsion, TrappedAOUP, aoup
    # frames 5 s apart, beyond the persistence time: enough nearly independent test snapshots for an error bar
    data = aoup(TrappedAOUP(particles=3, dims=2, dt=5.0), Repulsion(repulsion=0.0), Integration(),
                ParticleRenderer(), ActiveSampling(trajectories=10, frames=60, seed=0, propulsion=True))
    run = train(data, TrainConfig(model="score", iterations=4, eval_every=2, batch=32),
                closed_form=ModelKnownConfig(network="mlp", width=8, bootstrap=10))
    save_run(run, data, tmp_path / "run")
    assert studio.open_path(tmp_path / "run")
    view, s = studio.model_view, studio.run.summary
    assert [view.choice.itemText(i) for i in range(view.choice.count())] == [
        "Probability current over the density", "Particles of a test snapshot: EP there",
        "Particles of a test snapshot: each one's mean EP"]
    current = np.asarray(s["current"]["current"])
    assert len(view.shafts.getData()[0]) == 2 * np.count_nonzero(np.hypot(*current.transpose(2, 0, 1)))
    view.choice.setCurrentIndex(1)
    np.testing.assert_allclose([[p.pos().x(), p.pos().y()] for p in view.particles.points()],
                               s["particles"]["positions"])
    assert view.particles.opts["pxMode"]          # no radius: dots


def test_a_score_run_on_frames_too_far_apart_draws_no_ep_per_transition_and_says_why(studio, tmp_path):
    from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
    from cneep_gui.plots import UNRESOLVED
    # frames one relaxation time apart: transitions carry a sixth of the rate, whatever the float path
    data = simulate_bead_spring_trajectories(BeadSpringChain(beads=2, tc=1, th=10, dt=1.0), trajectories=20,
                                             frames=500, seed=4)
    run = train(data, TrainConfig(model="score", iterations=300, eval_every=100, batch=256, lr=3e-3),
                closed_form=ModelKnownConfig(bootstrap=20))
    save_run(run, data, tmp_path / "run")
    assert studio.open_path(tmp_path / "run")
    assert studio.trace.empty.isVisible() and studio.trace.empty.toPlainText() == UNRESOLVED
    assert studio.trace.predicted.getData()[0] is None
    text = studio.summary.text()
    assert "too far apart to resolve single transitions" in text and "dissipation detected (p &lt; 0.001" in text
    assert "held-out test snapshots" in text and "R²" not in text


def test_a_method_trained_after_another_on_the_same_input_is_drawn_against_its_result(studio, qtbot):
    from cneep_engine.synth import RotatedDoubleWell, TrajectorySampling
    from cneep_engine.synth.steady import steady_trajectories
    studio.set_data(steady_trajectories(RotatedDoubleWell(), TrajectorySampling(trajectories=4, frames=200, seed=1)))
    panel = studio.training_panel

    def train(method):
        panel.model.setCurrentText(method)
        panel.boxes["iterations"].setValue(20)
        panel.boxes["eval_every"].setValue(10)
        panel.train_button.click()
        labels = [line.label.textItem.toPlainText() for line in studio.training_plots.truth_lines]
        qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
        return labels

    assert not any("earlier run" in t for t in train("neep"))
    neep = studio.run.summary
    during = [t for t in train("epr-net") if "earlier run" in t]
    assert during == [f"neep (earlier run) = {neep['ep_rate']:.4g} ± {neep['ep_rate_err']:.2g}"]
    assert [t for t in train("neep") if "earlier run" in t][0].startswith("epr-net (earlier run) = ")
    studio.set_data(studio.data)       # opened again: nothing earlier to compare with
    assert not any("earlier run" in t for t in train("epr-net"))
