"""Results in the real window: overlay colours on screen, the trace cursor, every export, reopening a run."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
import pytest
import tifffile

from cneep_engine.export import frame_map
from cneep_engine.figure import render_figure
from cneep_gui.main_window import MainWindow
from cneep_gui.movie_panel import OFF, PER_WINDOW, STANDARD_ERROR, TIME_AVERAGED

HOT, NEUTRAL, COLD = (10, 4), (10, 20), (10, 35)     # the toy run's map: + in columns 0-15, - in 28-39


@pytest.fixture
def shown(studio, qtbot, tiny_movie, toy_run):
    """The window with the toy run's maps over the tiny movie, at a frame where the maps are strongest."""
    studio.set_data(tiny_movie)
    studio.set_run(toy_run)
    studio.timeline.set_position(2, 4)
    studio.movie_view.image.setLevels((0, 255))
    qtbot.waitUntil(lambda: studio.movie_view.view.width() > 100)
    studio.movie_view.view.autoRange(padding=0)
    return studio


def _screen_rgb(window, pixel):
    image = window.movie_view.grab().toImage()
    colour = image.pixelColor(window.movie_view.widget_pos(*pixel))
    return np.array([colour.red(), colour.green(), colour.blue()])


def test_overlay_on_screen_is_red_where_hot_blue_where_cold(shown, tiny_movie):
    shown.movie_panel.opacity.setValue(100)
    assert shown.movie_panel.mode.currentIndex() == PER_WINDOW
    r, g, b = _screen_rgb(shown, HOT)
    assert r > 150 and b < 100
    r, g, b = _screen_rgb(shown, COLD)
    assert b > r + 50
    grey = tiny_movie.frames[2, 4][NEUTRAL]
    assert np.abs(_screen_rgb(shown, NEUTRAL) - grey).max() <= 2
    shown.movie_panel.opacity.setValue(0)
    assert np.abs(_screen_rgb(shown, HOT) - tiny_movie.frames[2, 4][HOT]).max() <= 2
    shown.movie_panel.mode.setCurrentIndex(OFF)
    assert not shown.movie_view.overlay.isVisible() and not shown.movie_view.colorbar.isVisible()


def test_colour_bar_is_symmetric_and_labelled_in_ep_units(shown, toy_run):
    bar = shown.movie_view.colorbar
    low, high = bar.levels()
    assert high > 0 and low == pytest.approx(-high)
    assert "k_B" in bar.getAxis("left").labelText
    shown.movie_panel.mode.setCurrentIndex(TIME_AVERAGED)
    assert np.array_equal(shown.movie_view.overlay.image, toy_run.mean_map)
    assert "k_B/s" in bar.getAxis("left").labelText
    assert bar.levels()[1] != pytest.approx(high)


def test_scrubbing_moves_the_map_and_the_trace_cursor(shown, qtbot, toy_run):
    shown.timeline.slider.setValue(57)
    assert np.array_equal(shown.movie_view.overlay.image, frame_map(toy_run, 2, 57))
    assert shown.trace.cursor.value() == pytest.approx(57 * toy_run.dt)
    t, cum = shown.trace.predicted.getData()
    assert cum[-1] == pytest.approx(toy_run.ds[toy_run.movie == 2].sum(), rel=1e-5)
    shown.timeline.movie_box.setCurrentIndex(0)
    assert shown.trace.predicted.getData()[1][-1] == pytest.approx(toy_run.ds[toy_run.movie == 0].sum(), rel=1e-5)
    shown.trace.cursor.setValue(120 * toy_run.dt)       # dragging the cursor scrubs the movie
    shown.trace.cursor.sigDragged.emit(shown.trace.cursor)
    assert shown.timeline.frame() == 120


def test_the_trace_shades_what_the_network_trained_on(shown, toy_run):
    def shading():
        return [(tuple(r.getRegion()), next(i.toPlainText() for i in r.lines[0].childItems()
                                             if isinstance(i, pg.InfLineLabel))) for r in shown.trace.parts]
    assert shading() == []                               # movie 2: all held out, nothing to shade
    shown.timeline.movie_box.setCurrentIndex(0)
    assert shading() == [((0.0, pytest.approx(199 * toy_run.dt)), "trained on")]
    in_one = toy_run.movie == 1                          # movie 1 cut in time: train, a straddling window, val, test
    toy_run.part[in_one] = np.r_[np.zeros(100), -1, np.ones(49), np.full(49, 2)]
    shown.set_run(toy_run)
    shown.timeline.movie_box.setCurrentIndex(1)
    dt = toy_run.dt
    assert shading() == [((0.0, pytest.approx(100 * dt)), "trained on"),
                         ((pytest.approx(101 * dt), pytest.approx(150 * dt)), "validation"),
                         ((pytest.approx(150 * dt), pytest.approx(199 * dt)), "held out")]
    train, _, test = shown.trace.parts
    assert train.brush.color().alpha() > 0 and test.brush.style() == Qt.BrushStyle.NoBrush


def test_every_export_reads_back(shown, tmp_path, pick_file, toy_run, qtbot):
    shown.movie_panel.opacity.setValue(100)
    actions = {a.text(): a for a in shown.export_actions}

    pick_file(tmp_path / "maps.tif")
    actions["Dissipation maps, all windows (TIFF stack)…"].trigger()
    qtbot.waitUntil(lambda: shown.job is None, timeout=30_000)
    assert shown.training_panel.progress.value() == 1000 and "export" in shown.training_panel.progress.text()
    stack = tifffile.imread(tmp_path / "maps.tif")
    assert stack.shape == (len(toy_run.maps), 20, 40) and np.allclose(stack[5], frame_map(toy_run, 0, 5))

    pick_file(tmp_path / "mean")                        # no suffix typed: the format's own is added
    actions["Time-averaged map (TIFF)…"].trigger()
    assert np.allclose(tifffile.imread(tmp_path / "mean.tif"), toy_run.mean_map)

    pick_file(tmp_path / "frame.png")
    actions["Overlay figure (PNG or TIFF)…"].trigger()
    png = iio.imread(tmp_path / "frame.png")
    assert png.shape[1] > 512                              # 40 px wide, enlarged 12.8 times, and the colour bar
    # Where the image lies in the figure does not depend on its content; a movie pixel spans 12.8 figure pixels.
    x0, y0, _, _ = render_figure(np.zeros((20, 40)), None, (0, 1), 1.0).image
    figure_pixel = lambda p: png[y0 + int((p[0] + 0.5) * 12.8), x0 + int((p[1] + 0.5) * 12.8)]  # noqa: E731
    hot, cold = figure_pixel(HOT).astype(int), figure_pixel(COLD).astype(int)
    assert hot[0] > 150 and cold[2] > cold[0] + 50
    assert np.abs(hot - _screen_rgb(shown, HOT)).max() <= 3   # the file matches the screen
    pick_file(tmp_path / "frame.tif")
    actions["Overlay figure (PNG or TIFF)…"].trigger()
    assert np.array_equal(tifffile.imread(tmp_path / "frame.tif"), png)

    pick_file(tmp_path / "overlay.avi")
    actions["Overlay movie (MP4 or AVI)…"].trigger()
    qtbot.waitUntil(lambda: shown.job is None, timeout=30_000)
    movie = iio.imread(tmp_path / "overlay.avi", plugin="pyav")
    assert movie.shape == (200, *png.shape)
    assert np.array_equal(movie[4], png)                      # lossless: frame 4 is the PNG's frame

    pick_file(tmp_path / "overlay.mp4")
    actions["Overlay movie (MP4 or AVI)…"].trigger()
    qtbot.waitUntil(lambda: shown.job is None, timeout=30_000)
    assert iio.improps(tmp_path / "overlay.mp4", plugin="pyav").shape[:2] == (200, png.shape[0] + png.shape[0] % 2)

    pick_file(tmp_path / "trace.csv")
    actions["EP traces (CSV)…"].trigger()
    with open(tmp_path / "trace.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(toy_run.ds) and float(rows[3]["ds"]) == pytest.approx(float(toy_run.ds[3]), rel=1e-6)

    pick_file(tmp_path / "summary.json")
    actions["Summary (JSON)…"].trigger()
    assert json.loads((tmp_path / "summary.json").read_text())["ep_rate"] == pytest.approx(toy_run.summary["ep_rate"])


def test_an_export_that_cannot_be_written_is_a_dialog(shown, tmp_path, pick_file):
    pick_file(tmp_path / "no" / "such" / "folder" / "trace.csv")
    shown.export_actions[4].trigger()
    assert shown.error_box.isVisible() and "trace.csv" in shown.error_box.text()
    assert all(a.isEnabled() for a in shown.export_actions)


def test_a_trained_run_saved_and_reopened_without_retraining(studio, qtbot, tiny_movie, tiny_config, tmp_path,
                                                            pick_file):
    studio.set_data(tiny_movie)            # in memory only, as a generated movie is
    studio.training_panel.set_config(tiny_config)
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    trained = studio.run
    pick_file(tmp_path / "run")
    studio.save_run_action.trigger()
    assert (tmp_path / "run" / "movie.tif").is_file() and (tmp_path / "run" / "model_seed0.pt").is_file()
    assert studio.windowTitle().endswith("movie.tif")

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    again.open_path(tmp_path / "run")
    assert again.error_box is None
    assert np.allclose(again.run.maps, trained.maps) and again.run.summary["ep_rate"] == trained.summary["ep_rate"]
    assert np.array_equal(again.data.frames, tiny_movie.frames) and again.data.truth is not None
    again.timeline.set_position(2, 30)
    assert np.allclose(again.movie_view.overlay.image, frame_map(trained, 2, 30))
    assert again.summary.text() == studio.summary.text()


def test_hiding_uncertain_pixels_and_showing_the_standard_error(studio, qtbot, tiny_movie, toy_run):
    studio.set_data(tiny_movie)
    studio.set_run(toy_run)       # no map uncertainty: nothing to hide, no standard error to show
    panel = studio.movie_panel
    panel.mode.setCurrentIndex(TIME_AVERAGED)
    assert not panel.hide_uncertain.isEnabled() and not panel.mode.model().item(STANDARD_ERROR).isEnabled()
    # Feature column 5 (pixel columns 20-23) flips sign every 10 frames about a mean far within its error.
    toy_run.maps[:, :, 5] = 0.01 + np.where(toy_run.frame // 10 % 2, 1.0, -1.0)[:, None]
    toy_run.add_map_uncertainty()
    studio.set_run(toy_run)
    mean = toy_run.mean_map
    assert np.array_equal(studio.movie_view.overlay.image, mean) and mean[:, 20:24].all()
    figure = studio.overlay_renderer()(2, 4)
    assert panel.hide_uncertain.isEnabled()
    panel.hide_uncertain.setChecked(True)
    drawn = studio.movie_view.overlay.image
    assert np.array_equal(drawn, toy_run.map_uncertainty.hide_uncertain(mean))
    assert not drawn[:, 20:24].any() and np.array_equal(drawn[:, :16], mean[:, :16])   # the hot columns stay
    assert not np.array_equal(studio.overlay_renderer()(2, 4), figure)    # the exported figure hides them too
    panel.mode.setCurrentIndex(STANDARD_ERROR)
    assert np.array_equal(studio.movie_view.overlay.image, toy_run.map_uncertainty.sem)
    assert "standard error" in studio.movie_view.colorbar.getAxis("left").labelText
    assert not panel.hide_uncertain.isEnabled()
