"""Trajectories in the real window: the coordinates and the track, NEEP training, the cumulative EP, save/reopen."""

from dataclasses import replace

import numpy as np
import pytest

from cneep_engine import (BeadSpringChain, TrainConfig, save_trajectories, simulate_bead_spring_trajectories,
                          simulate_ratchet)
from cneep_gui.main_window import MainWindow


@pytest.fixture
def tracks(tmp_path):
    """Three 2-D tracks (the two beads of a driven chain as x and y) in a CSV, with their ground truth."""
    data = simulate_bead_spring_trajectories(BeadSpringChain(), trajectories=3, frames=400, seed=3)
    data.labels = ["x", "y"]
    return save_trajectories(data, tmp_path / "tracks.csv"), data


def test_a_track_file_shows_its_coordinates_and_its_path_in_the_plane(studio, tracks):
    path, data = tracks
    assert studio.open_path(path)
    view = studio.trajectory_view
    assert studio.views.currentWidget() is view and view.plane.isVisible()
    assert [studio.timeline.movie_box.itemText(i) for i in range(3)] == [f"trajectory {i}/3" for i in (1, 2, 3)]
    studio.timeline.set_position(2, 150)
    t, x = view.curves[0].getData()
    np.testing.assert_allclose(x, data.data[2, :, 0], rtol=1e-12)
    np.testing.assert_allclose(t, np.arange(400) * data.dt)
    np.testing.assert_allclose(view.track.getData()[1], data.data[2, :, 1], rtol=1e-12)
    assert view.cursor.value() == pytest.approx(150 * data.dt)
    np.testing.assert_allclose(np.ravel(view.here.getData()), data.data[2, 150], rtol=1e-12)
    panel = studio.training_panel
    assert [panel.model.itemText(i) for i in range(2)] == ["neep", "rneep"]
    assert panel.boxes["hidden"].isVisible() and not panel.boxes["channels"].isVisible()
    assert not studio.movie_panel.pixel_size.isVisible() and "2 coordinates (x, y)" in studio.movie_panel.info.text()
    # Dragging the cursor moves the timeline, as on the trace plot.
    view.cursor.setValue(40 * data.dt)
    view.cursor.sigDragged.emit(view.cursor)
    assert studio.timeline.frame() == 40


def test_what_the_reader_made_of_a_track_file_is_in_the_log(studio, tmp_path):
    path = tmp_path / "uneven.csv"
    path.write_text("id,frame,x\n" + "".join(f"{k},{f},{f}\n" for k, n in (("a", 6), ("b", 3)) for f in range(n)))
    assert studio.open_path(path)
    assert ("uneven.csv: tracks have 3 to 6 frames: read as 3 trajectories of 3 frames"
            in studio.log_panel.toPlainText())


def test_discrete_states_draw_as_steps_without_a_plane(studio):
    studio.set_data(simulate_ratchet(trajectories=2, steps=500, seed=1))
    view = studio.trajectory_view
    assert len(view.curves) == 1 and view.curves[0].opts["stepMode"] == "left" and not view.plane.isVisible()
    studio.timeline.set_position(1, 0)
    assert view.curves[0].getData()[1].tolist() == studio.data.data[1].tolist()


def test_train_neep_on_tracks_plot_the_cumulative_ep_save_and_reopen(studio, qtbot, tracks, tmp_path):
    path, data = tracks
    studio.open_path(path)
    studio.training_panel.set_config(TrainConfig(model="neep", hidden=16, batch=64, iterations=40, eval_every=10,
                                                 patience=0, device="cpu"))
    assert studio.training_panel.config().model == "neep"
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    run = studio.run
    assert run is not None and run.summary["stopped"] == "finished" and run.maps is None
    assert run.config.model == "neep" and run.config.hidden == 16 and studio.training_plots.curve_data("vr")[0].tolist() == [10, 20, 30, 40]

    studio.timeline.set_position(2, 10)      # the test trajectory: the trace is its cumulative EP, exact beside it
    t, cum = studio.trace.predicted.getData()
    assert cum[0] == 0 and cum[-1] == pytest.approx(run.ds[run.movie == 2].sum(), rel=1e-5)
    assert studio.trace.truth.getData()[1][-1] == pytest.approx(data.truth.ds[2].sum(), rel=1e-6)
    enabled = {a.text(): a.isEnabled() for a in studio.export_actions}
    assert enabled["EP traces (CSV)…"] and enabled["Summary (JSON)…"]
    assert not any(a.isEnabled() for a in studio.map_export_actions)
    assert "EP rate" in studio.summary.text()

    from cneep_engine.export import save_run
    save_run(studio.run, studio.data, tmp_path / "run")
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.open_path(tmp_path / "run")
    assert again.views.currentWidget() is again.trajectory_view and again.run.maps is None
    np.testing.assert_array_equal(again.data.data, data.data)
    np.testing.assert_array_equal(again.run.ds, run.ds)
    np.testing.assert_allclose(again.training_plots.curve_data("vl")[1], studio.training_plots.curve_data("vl")[1])
    reopened = again.training_panel.config()   # ready to train again as it was trained
    assert (reopened.model, reopened.hidden, reopened.iterations) == ("neep", 16, 40)


def test_a_movie_after_trajectories_brings_the_movie_view_back(studio, tracks, tiny_movie):
    studio.open_path(tracks[0])
    studio.set_data(replace(tiny_movie))
    assert studio.views.currentWidget() is studio.movie_view
    picker = studio.training_panel.model
    assert [picker.itemText(i) for i in range(picker.count())] == ["cneep", "pca-sfi"]
    assert studio.movie_panel.pixel_size.isVisibleTo(studio.movie_panel)
    panel = studio.training_panel
    assert panel.boxes["channels"].isVisibleTo(panel) and not panel.boxes["hidden"].isVisibleTo(panel)


def test_generate_partially_observed_ratchet_trajectories(studio, qtbot):
    from PyQt6.QtWidgets import QDialogButtonBox
    from cneep_engine import FlashingRatchet
    from cneep_engine.synth import RatchetSampling
    dialog = studio.generate_dialog()
    dialog.system.setCurrentText("ratchet")
    dialog.forms["ratchet"][FlashingRatchet]["potential"].setValue(2.0)
    sampling = dialog.forms["ratchet"][RatchetSampling]
    sampling["partial"].setChecked(True)
    sampling["trajectories"].setValue(3)
    sampling["steps"].setValue(500)
    dialog.update_preview()
    assert dialog.pages["ratchet"].isVisibleTo(dialog) and not dialog.pages["bead-spring"].isVisibleTo(dialog)
    assert not dialog.preview.isVisibleTo(dialog)
    assert f"σ_2pt = {FlashingRatchet(2.0).ep_per_step_positions:.4g} k_B/step" in dialog.message.text()
    assert "3 trajectories × 500 frames of 3 states" in dialog.message.text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: studio.job is None and studio.data is not None, timeout=30_000)
    data = studio.data
    assert data.data.shape == (3, 500) and data.n_states == 3 and data.truth is not None
    assert data.truth.sigma == pytest.approx(0.21307, abs=1e-5)
    assert studio.views.currentWidget() is studio.trajectory_view and "0.2131" in studio.log_panel.toPlainText()


def test_summary_of_a_partially_observed_run_names_the_best_reachable():
    from cneep_gui.summary_view import summary_text
    truth = {"sigma": 0.213, "sigma_2pt": 0.000123, "rel_err_2pt": 400.0, "r2": 0.2,
             "observed": {"ep_rate": 0.0614, "rel_err": -0.076, "r2": 0.946}}
    text = summary_text({"ep_rate": 0.0567, "ep_rate_std": None, "seeds": [{}], "truth": truth})
    assert "best reachable from these windows = 0.0614" in text and "error -7.6%" in text and "R² = 0.946" in text


def test_training_on_partial_observations_draws_the_best_reachable_rate(studio, qtbot):
    from cneep_engine import FlashingRatchet
    ratchet = FlashingRatchet(2.0)
    studio.set_data(simulate_ratchet(ratchet, trajectories=4, steps=2000, partial=True, seed=2))
    plots = studio.training_plots
    assert len(plots.truth_lines) == 2          # sigma and sigma_2pt; the reachable one needs the windows
    studio.training_panel.set_config(TrainConfig(model="rneep", seq_len=4, hidden=8, batch=64, iterations=20,
                                                 eval_every=10, patience=0, device="cpu"))
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    assert len(plots.truth_lines) == 3
    reachable = plots.truth_lines[2].value()
    # The exact EP of windows of 4 positions, per step: between pairs' and the full EP, near the exact curve.
    assert ratchet.ep_per_step_positions < reachable < ratchet.ep_per_step
    assert reachable == pytest.approx(ratchet.observed_ep_per_step(4)[0], rel=0.1)   # ~2000 windows
