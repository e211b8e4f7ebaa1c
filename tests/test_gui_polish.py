"""What the app shows, read off the widgets: axis units, legends, empty states, the colour bar's range, movie
parts, export names, saving a run into a typed folder, Help/About, Preferences, the sample and the advice."""

import numpy as np
import pyqtgraph as pg
import pytest
from PyQt6.QtWidgets import QFileDialog

from cneep_engine import BeadSpringChain, Progress, save_movie
from cneep_engine.io import sidecar_path
from cneep_engine.verdict import advice
from cneep_gui import about_dialog, sample, settings
from cneep_gui.generate_dialog import GenerateDialog
from cneep_gui.movie_panel import TIME_AVERAGED
from cneep_gui.plots import TracePlot, TrainingPlots
from cneep_gui.summary_view import parts_text
from cneep_gui.preferences import PreferencesDialog


def _progress(i, rate, loss):
    return Progress(seed=0, seed_index=0, n_seeds=1, iteration=200 * i, iterations=2000, elapsed_s=i,
                    train_loss=loss, train_rate=rate, val_loss=loss, val_rate=rate)


def test_axes_name_their_units_without_an_si_prefix(qtbot, tiny_movie):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.reset(tiny_movie.truth)
    for i, (rate, loss) in enumerate([(3000.0, 1e27), (2500.0, 1e20), (2000.0, 1e3)], 1):
        plots.add(_progress(i, rate, loss))     # thousands of k_B/s and an exploding loss
    assert plots.rate.getAxis("left").labelString().count("k_B/s") == 1
    assert "kk_B" not in plots.rate.getAxis("left").labelString()
    assert "x1e" not in plots.loss.getAxis("left").labelString()
    trace = TracePlot()
    qtbot.addWidget(trace)
    trace.set_trace(np.arange(3.0), np.array([0, 1500.0, 3000.0]), None, 1.0)
    assert "kk_B" not in trace.getAxis("left").labelString()


def _legend_names(plot: TracePlot):
    return [label.text for _, label in plot.legend.items]


def test_the_trace_legend_names_exact_only_when_there_is_an_exact_trace(qtbot):
    trace = TracePlot()
    qtbot.addWidget(trace)
    t = np.arange(5.0)
    trace.set_trace(t, t, None, 1.0)
    assert _legend_names(trace) == ["estimated"]
    trace.set_trace(t, t, 2 * t, 1.0)
    assert _legend_names(trace) == ["estimated", "exact"]
    trace.set_trace(t, t, None, 1.0)
    assert _legend_names(trace) == ["estimated"]


def test_exact_rate_labels_stay_uncovered_when_the_estimate_overshoots(qtbot, tiny_movie):
    """Lines low in the plot (the estimate went far above them) put the labels where a legend in the plot sat."""
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(420, 560)
    plots.show()
    plots.reset(tiny_movie.truth)
    for i, rate in enumerate([0.5, 12.0, 9.0, 10.0, 11.0], 1):
        plots.add(_progress(i, rate, 1.0))
    qtbot.wait(200)
    legend = plots.rate.plotItem.legend.sceneBoundingRect()
    view = plots.rate.plotItem.vb.sceneBoundingRect()
    for line in plots.truth_lines:
        label = line.label.sceneBoundingRect()
        assert not legend.intersects(label) and view.contains(label), line.label.toPlainText()


def test_a_curve_that_settles_under_the_ceiling_stays_visible(qtbot, tiny_movie):
    """An estimate converges from below onto the two-frame ceiling: no label covers where the curve runs, and
    where one comes near, the curve is drawn over it."""
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(560, 420)
    plots.show()
    truth = tiny_movie.truth
    plots.reset(truth)
    rates = [0.3, 0.6, 0.8, 0.9, 0.95, 0.96, 0.97, 0.97, 0.97, 0.97]
    for i, fraction in enumerate(rates, 1):
        plots.add(_progress(i, fraction * truth.sigma_2pt, 1.0))
    qtbot.wait(200)
    plots.rate.setXRange(0, 200 * len(rates), padding=0)
    plots.rate.setYRange(0, 1.2 * truth.sigma, padding=0)
    qtbot.wait(100)
    vb = plots.rate.plotItem.vb
    for it, rate in zip(*plots.curve_data("vr")):
        point = vb.mapViewToScene(pg.QtCore.QPointF(it, rate))
        assert not any(line.label.sceneBoundingRect().contains(point) for line in plots.truth_lines), it
    for line in plots.truth_lines:    # drawn in front of a label that a curve crosses
        assert line.zValue() < plots._curves[0]["vr"].zValue()
    image = plots.rate.grab().toImage()
    end = vb.mapViewToScene(pg.QtCore.QPointF(200 * len(rates) - 100, 0.97 * truth.sigma_2pt))
    blue = [image.pixelColor(round(end.x()) + dx, round(end.y()) + dy) for dx in range(-2, 3) for dy in range(-3, 4)]
    assert max(c.blue() - c.red() for c in blue) > 100     # the validation pen, #3d9be9


def test_empty_states_before_an_input_and_before_a_run(studio, tiny_movie):
    x_range = studio.trace.getViewBox().viewRange()[0]
    assert x_range[0] >= -0.05 and x_range[1] <= 1.05        # 0 to 1 s, not -0.4 to 0.4
    assert studio.trace.empty.isVisible()
    assert studio.movie_panel.dt.isHidden()                  # no "0.000001 s" for a movie not yet open
    studio.set_data(tiny_movie)
    assert not studio.movie_panel.dt.isHidden()
    x_range = studio.trace.getViewBox().viewRange()[0]
    duration = (tiny_movie.n_frames - 1) * tiny_movie.dt
    assert x_range[0] <= 0 <= 0.1 * duration and duration <= x_range[1] <= 1.1 * duration
    assert studio.movie_panel.dt_source.text() == "as generated"   # generated in memory: no file, no metadata


def test_generator_and_opacity_show_their_units(studio, qtbot):
    dialog = GenerateDialog(studio)
    qtbot.addWidget(dialog)
    assert dialog.forms["bead-spring"][BeadSpringChain]["dt"].suffix() == " s"
    studio.movie_panel.opacity.setValue(35)
    assert studio.movie_panel.opacity_value.text() == "35 %"


def test_time_averaged_colour_bar_spans_the_shown_maps_values(studio, tiny_movie, toy_run):
    toy_run.maps = toy_run.maps * np.float32(1e-5)      # a weak map: its range is far below the per-window one
    toy_run.maps[::7, 0, 0] = 3.0                        # strong windows, not in the time average's scale
    studio.set_data(tiny_movie)
    studio.set_run(toy_run)
    studio.movie_panel.mode.setCurrentIndex(TIME_AVERAGED)
    shown = studio.movie_view.overlay.image
    low, high = studio.movie_view.colorbar.levels()
    assert low == -high and 0.5 * np.abs(shown).max() <= high <= np.abs(shown).max()
    assert studio.movie_view.limit == high               # what exports draw


def test_movie_selector_and_summary_say_which_movies_were_train_validation_test(studio, tiny_movie, toy_run):
    studio.set_data(tiny_movie)
    box = studio.timeline.movie_box
    assert [box.itemText(i) for i in range(3)] == ["movie 1/3", "movie 2/3", "movie 3/3"]
    studio.set_run(toy_run)          # movie 0 trains, 1 validates, 2 tests
    assert [box.itemText(i) for i in range(3)] == ["movie 1/3 (train)", "movie 2/3 (validation)",
                                                   "movie 3/3 (test)"]
    assert "movies: 1 train, 1 validation, 1 test" in studio.summary.text()
    toy_run.part = np.where(toy_run.frame < 100, 0, np.where(toy_run.frame < 150, 1, 2)).astype(np.int8)
    studio.set_run(toy_run)          # fewer than three movies: each cut in time
    assert box.itemText(0) == "movie 1/3 (train, validation, test)"
    assert "each of the 3 movies cut in time into train, validation and test" in studio.summary.text()
    studio.set_run(None)
    assert parts_text(["train, validation, test"]) == "the movie cut in time into train, validation and test parts"
    assert box.itemText(2) == "movie 3/3"


@pytest.fixture
def save_dialog_start(monkeypatch):
    """The name every save dialog proposes, recorded; the dialog is then cancelled."""
    starts = []

    def cancelled(parent, title, start, *args, **kwargs):
        starts.append(start)
        return "", ""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", cancelled)
    return starts


def test_export_names_start_with_the_movie_and_say_what_is_exported(studio, tiny_movie, toy_run, tmp_path,
                                                                    save_dialog_start):
    studio.set_data(tiny_movie)
    tiny_movie.path = tmp_path / "water.tif"
    studio.set_run(toy_run)
    studio.export_figure_dialog()
    studio.export_actions[4].trigger()
    studio.save_run_action.trigger()
    assert [p.rsplit("/", 1)[1] for p in save_dialog_start] == ["water-overlay.png", "water-ep-trace.csv",
                                                                "water-run"]


def test_save_run_into_a_typed_new_folder_or_refuse_a_folder_of_other_files(studio, tiny_movie, toy_run, tmp_path,
                                                                           pick_file):
    movie = save_movie(tiny_movie, tmp_path / "movie.tif")
    studio.set_data(tiny_movie)
    studio.set_run(toy_run)
    toy_run.summary["input"] = str(movie)
    pick_file(tmp_path / "new" / "my run")          # typed: neither folder exists yet
    studio.save_run_action.trigger()
    assert studio.error_box is None and (tmp_path / "new" / "my run" / "summary.json").is_file()
    studio.save_run_action.trigger()                # an earlier run is replaced
    assert studio.error_box is None
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.txt").write_text("keep")
    pick_file(other)
    studio.save_run_action.trigger()
    assert "holds other files and no run" in studio.error_box.text() and str(other) in studio.error_box.text()
    assert sorted(p.name for p in other.iterdir()) == ["thesis.txt"]


def test_help_shows_versions_device_and_the_readme_sections(studio, qtbot, tmp_path):
    import torch
    text = about_dialog.about_text("cpu")
    assert torch.__version__ in text and "cpu (" in text and about_dialog.version() in text
    assert not studio.windowIcon().isNull()
    for title, heading in about_dialog.SECTIONS:
        section = about_dialog.readme_section(heading)
        assert section.startswith("#") and heading in section.splitlines()[0]
    verdict = about_dialog.readme_section("The verdict: error bar, equilibrium test, convergence")
    assert "p_equilibrium" in verdict and "### Speed" not in verdict      # stops at the next heading
    assert about_dialog.readme_section("Command line", tmp_path / "README.md") is None
    dialog = about_dialog.section_dialog("Command line", "no such heading", studio)
    qtbot.addWidget(dialog)
    assert "not installed with the package" in dialog.text.toPlainText()


def test_preferences_set_the_runs_folder(studio, qtbot, tmp_path):
    assert settings.runs_dir() == settings.default_runs_dir()
    dialog = PreferencesDialog(studio)
    qtbot.addWidget(dialog)
    dialog.runs.setText(str(tmp_path / "my runs"))
    dialog.accept()
    assert settings.runs_dir() == tmp_path / "my runs"


def test_open_sample_generates_once_then_opens_the_cached_movie(studio, qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(sample, "data_dir", lambda: tmp_path / "data")
    studio.sample_action.trigger()
    qtbot.waitUntil(lambda: studio.job is None and studio.data is not None, timeout=30_000)
    path = tmp_path / "data" / sample.NAME
    assert studio.error_box is None and studio.data.path == path and studio.data.truth is not None
    assert (studio.data.n_movies, studio.data.n_frames) == (sample.MOVIES, sample.FRAMES)
    assert path.stat().st_size < 5e6 and sidecar_path(path).is_file()
    written = path.stat().st_mtime_ns
    studio.sample_action.trigger()                  # cached: opened at once, no job
    assert studio.job is None and path.stat().st_mtime_ns == written and studio.data.path == path


SOUND = {"ep_rate": 2.0, "ep_rate_err": 0.05, "ep_rate_ci95": [1.9, 2.1], "p_equilibrium": 1e-4,
         "noise_floor": 0.08, "converged": True, "stopped": "finished"}


@pytest.mark.parametrize("change, words", [
    ({}, None),
    ({"stopped": "ran away"}, "Do not report this rate"),
    ({"stopped": "diverged"}, "lower learning rate"),
    ({"converged": False}, "still changing"),
    ({"converged": False, "warnings": ["not converged: training and validation rates disagree (3.87 against 3.32 "
                                       "k_B/s over the last validations): overfitting, or train longer"]},
     "learn its training frames"),
    ({"p_equilibrium": 0.41, "ep_rate_ci95": [-0.1, 0.1]}, "below about 0.08 k_B/s"),
    ({"input_checks": {"arrows": ["drift"]}}, "rule out the drift"),
    ({"input_checks": {"arrows": ["drift", "bleaching"]}},
     "Register and Bleach-correct in the Preprocessing panel (cneep train --register --bleach-correct)"),
    ({"input_checks": {"arrows": ["drift"]}, "p_equilibrium": 0.41, "ep_rate_ci95": [-0.1, 0.1]}, "below about"),
    ({"input_checks": {"arrows": ["drift"]}, "stopped": "ran away"}, "Do not report this rate"),
])
def test_each_problem_shows_what_it_means_and_what_to_do(studio, tiny_movie, toy_run, change, words):
    summary = SOUND | change
    studio.set_data(tiny_movie)
    toy_run.summary |= summary
    studio.set_run(toy_run)
    text = studio.summary.text()
    if words is None:
        assert advice(summary) == [] and "What this means" not in text
    else:
        [said] = advice(summary)
        assert words in said and "Next:" in said
        assert text.count("What this means") == 1 and words.replace("k_B", "k<sub>B</sub>") in text


def test_the_results_panel_has_room_for_the_verdict_at_the_default_size(studio, qtbot):
    studio.resize(1400, 900)
    qtbot.waitUntil(lambda: studio.height() == 900)
    assert studio.docks["Results"].height() > 250 and studio.docks["Training progress"].height() > 300


def test_the_input_description_has_room_for_its_wrapped_lines(studio, qtbot):
    from cneep_engine.synth import RotatedDoubleWell, TrajectorySampling
    from cneep_engine.synth.steady import steady_trajectories
    studio.resize(1400, 900)
    studio.set_data(steady_trajectories(RotatedDoubleWell(), TrajectorySampling(trajectories=20, frames=2000, seed=1)))
    label = studio.movie_panel.info
    qtbot.waitUntil(lambda: label.text().count("\n") >= 1)
    qtbot.wait(50)
    assert label.height() >= label.heightForWidth(label.width())   # no line clipped
