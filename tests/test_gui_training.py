"""Generating a movie and training in the real window: live plots, the end of a run, Cancel, failures."""

from dataclasses import replace

import numpy as np
from PyQt6.QtWidgets import QDialogButtonBox

from cneep_engine import BeadRenderer, Progress
from cneep_engine.synth import Sampling
from cneep_gui.plots import TrainingPlots


def _generate(studio, qtbot, frames=200):
    dialog = studio.generate_dialog()
    sampling = dialog.forms["bead-spring"][Sampling]
    sampling["frames"].setValue(frames)
    sampling["movies"].setValue(3)
    dialog.update_preview()
    assert dialog.preview_image.image.shape == (20, 40)
    assert "σ = 2.025 k_B/s" in dialog.message.text() and "3 movies × 200 frames" in dialog.message.text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: studio.job is None and studio.data is not None, timeout=30_000)


def test_generate_then_train_to_the_end(studio, qtbot, tiny_config):
    _generate(studio, qtbot)
    movie = studio.data
    assert movie.frames.shape == (3, 200, 20, 40) and movie.truth is not None and movie.path is None
    assert [line.value() for line in studio.training_plots.truth_lines] == [movie.truth.sigma, movie.truth.sigma_2pt]

    studio.training_panel.set_config(tiny_config)
    studio.training_panel.train_button.click()
    assert not studio.training_panel.train_button.isEnabled() and studio.training_panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)

    run = studio.run
    assert run is not None and run.summary["stopped"] == "finished" and run.summary["iterations"] == 40
    iterations, rates = studio.training_plots.curve_data("vr")
    assert iterations.tolist() == [10, 20, 30, 40] and np.isfinite(rates).all()
    assert studio.training_plots.curve_data("vl")[1][-1] > 0
    assert studio.training_panel.progress.value() == 1000
    assert "EP rate" in studio.summary.text() and "two-frame" in studio.summary.text()
    assert studio.training_panel.train_button.isEnabled() and studio.save_run_action.isEnabled()
    assert studio.movie_view.overlay.isVisible()
    assert "EP rate" in studio.log_panel.toPlainText()
    # Every training leaves its best model, log and results in the app's runs folder as it goes.
    from cneep_gui import settings
    (run_dir,) = settings.runs_dir().iterdir()
    assert {"model_seed0.pt", "train_log.csv", "summary.json"} <= {p.name for p in run_dir.iterdir()}


def test_cancel_keeps_the_best_model_so_far(studio, qtbot, tiny_movie, tiny_config):
    studio.set_data(tiny_movie)
    studio.training_panel.set_config(replace(tiny_config, iterations=1_000_000, eval_every=5))
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: len(studio.training_plots._points.get(0, {}).get("it", [])) >= 2, timeout=30_000)
    assert studio.run is None
    studio.training_panel.cancel_button.click()
    assert studio.training_panel.cancel_button.text() == "Cancelling…"
    qtbot.waitUntil(lambda: studio.job is None, timeout=30_000)
    s = studio.run.summary
    assert s["stopped"] == "cancelled" and 10 <= s["iterations"] < 1_000_000 and s["best_iteration"] >= 5
    assert "cancelled" in studio.summary.text()
    assert studio.training_panel.train_button.isEnabled() and not studio.training_panel.cancel_button.isEnabled()


def test_an_engine_error_in_training_is_a_dialog_and_buttons_come_back(studio, qtbot, tiny_movie, tiny_config):
    studio.set_data(tiny_movie)
    studio.training_panel.set_config(replace(tiny_config, val_fraction=0.5, test_fraction=0.6))
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=30_000)
    assert studio.error_box.isVisible() and "fractions" in studio.error_box.text()
    assert studio.run is None and studio.training_panel.train_button.isEnabled()
    assert studio.training_panel.boxes["batch"].isEnabled()


def test_a_bug_in_the_engine_shows_its_message_and_logs_the_traceback(studio, qtbot, tiny_movie, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("the worker broke")

    monkeypatch.setattr("cneep_gui.main_window.train", broken)
    studio.set_data(tiny_movie)
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=30_000)
    text = studio.error_box.text()
    assert "the worker broke" in text and "Traceback" not in text
    assert "Traceback" in studio.log_panel.toPlainText()
    assert studio.training_panel.train_button.isEnabled()


def test_the_generator_refuses_impossible_parameters(studio):
    dialog = studio.generate_dialog()
    camera = dialog.forms["bead-spring"][BeadRenderer]
    camera["cell"].setValue(4)
    camera["binning"].setValue(8)
    dialog.update_preview()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "binning" in dialog.message.text()
    camera["binning"].setValue(2)
    dialog.update_preview()
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert dialog.preview_image.image.shape == (2, 4)
    dialog.reject()


def test_the_rate_legend_leaves_the_exact_values_readable(qtbot, tiny_movie):
    """The estimate climbs to the exact rate, so the curves and the truth lines' labels end up at the top
    right: the legend must not sit on them."""
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(420, 560)
    plots.show()
    plots.reset(tiny_movie.truth)
    for i, rate in enumerate([0.2, 1.2, 1.7, 1.9, 2.0, 2.02], 1):
        plots.add(Progress(seed=0, seed_index=0, n_seeds=1, iteration=200 * i, iterations=1200, elapsed_s=i,
                           train_loss=1.0, train_rate=rate, val_loss=1.0, val_rate=rate))
    qtbot.wait(200)   # the view's new range, then the labels' positions along it, arrive as events
    legend = plots.rate.plotItem.legend.sceneBoundingRect()
    assert len(plots.truth_lines) == 2
    for line in plots.truth_lines:
        assert not legend.intersects(line.label.sceneBoundingRect()), line.label.toPlainText()
