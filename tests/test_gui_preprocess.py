"""Preprocessing in the app: the region drawn on the movie, binning and the rest change the preview and the plan,
train as `cneep train` with the same options would, are remembered per file, and bad choices are one message."""

import datetime
import json
import os

import numpy as np
import pytest

from cneep_engine import Movie, save_movie
from cneep_engine.cli import main
from cneep_engine.io import Preprocess
from cneep_engine.plan import plan_training
from cneep_gui import settings


def _movie_file(tmp_path, tiny_movie):
    return save_movie(Movie(frames=tiny_movie.frames, dt=0.05, pixel_size=0.2), tmp_path / "beads.tif")


def _prepared(studio, qtbot):
    panel = studio.preprocess_panel
    qtbot.waitUntil(lambda: panel.movie is not None or bool(panel.error), timeout=30_000)
    return panel.movie


def test_a_region_and_binning_change_the_preview_and_the_plan(studio, qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("CNEEP_TRAIN_BUDGET", "64M")
    frames = np.random.default_rng(0).integers(0, 255, (3, 30, 120, 160), dtype=np.uint8)
    studio.set_data(Movie(frames=frames, dt=0.05, pixel_size=0.2))
    panel, plan = studio.preprocess_panel, studio.training_panel.plan
    assert _prepared(studio, qtbot).frame_shape == (120, 160) and panel.options().is_identity
    assert panel.roi.isVisible() and panel.preview_image.image.shape == (120, 160)

    panel.set_crop((10, 90, 20, 140))        # as the mouse leaves it: the drag ends with the region's last place
    panel.bin.setValue(2)
    movie = _prepared(studio, qtbot)
    assert panel.options() == Preprocess(crop=(10, 90, 20, 140), bin=2)
    assert movie.frame_shape == (40, 60) and panel.preview_image.image.shape == (40, 60)
    assert np.allclose(panel.preview_image.image, frames[0, 0, 10:90, 20:140].reshape(40, 2, 60, 2).mean((1, 3)))
    assert movie.pixel_size == 0.4 and movie.dt == 0.05
    assert "40 × 60 px" in panel.result.text() and "pixel 0.4 µm" in panel.result.text()

    # The plan is that of the preprocessed movie: a window of 40 x 60 px fits more often in the budget.
    config = studio.training_panel.config()
    raw_batch = plan_training(studio.data, config, timed=False).config.batch
    batch = plan_training(movie, config, timed=False).config.batch
    assert batch > raw_batch
    qtbot.waitUntil(lambda: "per iteration" in plan.text(), timeout=30_000)
    assert f"batch {batch}" in plan.text() and "lowered from 1024 to fit" in plan.text()

    panel.step.setValue(3)                    # every third frame: three times the frame interval
    stepped = _prepared(studio, qtbot)
    assert stepped.dt == pytest.approx(0.15) and stepped.n_frames == 10
    panel.full_frame.click()
    panel.bin.setValue(1)
    panel.step.setValue(1)
    assert _prepared(studio, qtbot).frame_shape == (120, 160) and panel.options().is_identity


def test_a_region_clipped_to_the_frame_in_whole_pixels(studio, qtbot, tiny_movie):
    studio.set_data(tiny_movie)
    panel = studio.preprocess_panel
    panel.set_crop((-5, 12, 30, 99))
    assert panel.crop() == (0, 12, 30, 40)
    panel.roi.setPos((3.4, 2.6))              # a drag between pixels snaps to them
    assert panel.crop() == (3, 15, 3, 13)


def test_training_with_a_region_records_the_input_as_the_cli_does(studio, qtbot, tmp_path, tiny_movie, tiny_config):
    path = _movie_file(tmp_path, tiny_movie)
    assert studio.open_path(path)
    studio.movie_panel.dt.setValue(0.01)       # the user's frame interval, as --dt
    studio.preprocess_panel.set_crop((2, 18, 4, 36))
    studio.preprocess_panel.bin.setValue(2)
    studio.preprocess_panel.normalize.setChecked(True)
    studio.training_panel.set_config(tiny_config)
    assert _prepared(studio, qtbot).frame_shape == (8, 16)
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    assert studio.error_box is None and studio.run.summary["stopped"] == "finished"
    # The map lies over the frames that trained, not over the file's.
    assert studio.run.frame_shape == (8, 16) and studio.movie_view.image.image.shape == (8, 16)
    assert studio.shown.n_frames == studio.timeline.slider.maximum() + 1 == 200
    assert not studio.preprocess_panel.roi.isVisible()
    (x0, x1), (y0, y1) = studio.movie_view.view.viewRange()     # the view fits the 8 x 16 frames
    assert min(x1 - x0 - 16, y1 - y0 - 8) == pytest.approx(0, abs=1e-6)

    assert main(["train", str(path), "-o", str(tmp_path / "cli"), "--crop", "2:18,4:36", "--bin", "2",
                 "--normalize", "--dt", "0.01", "--depth", "2", "--channels", "4", "--batch", "64", "--iters", "40",
                 "--eval-every", "10", "--patience", "0", "--device", "cpu", "-q"]) == 0
    (app_dir,) = settings.runs_dir().iterdir()
    app, cli = (json.loads((d / "config.json").read_text())["input"] for d in (app_dir, tmp_path / "cli"))
    app.pop("source_from_run"), cli.pop("source_from_run")
    assert app == cli and app["preprocess"]["crop"] == [2, 18, 4, 36] and app["pixel_size"] == 0.4
    assert (app["dt"], app["dt_source"], app["pixel_size_source"]) == (0.01, "user", "metadata")

    studio.training_panel.train_button.click()     # a new training shows the file's frames again
    assert studio.movie_view.image.image.shape == (20, 40) and studio.preprocess_panel.roi.isVisible()
    studio.cancel_job()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)


def test_calibration_and_preprocessing_are_offered_again_when_the_file_is_reopened(studio, qtbot, tmp_path,
                                                                                     tiny_movie):
    path = _movie_file(tmp_path, tiny_movie)
    studio.open_path(path)
    studio.movie_panel.dt.setValue(0.01)
    studio.preprocess_panel.set_crop((0, 16, 8, 40))
    studio.preprocess_panel.bin.setValue(2)
    assert _prepared(studio, qtbot).dt == 0.01

    other = save_movie(Movie(frames=tiny_movie.frames[:, :50], dt=0.05), tmp_path / "other.tif")
    studio.open_path(other)                   # another file has its own (none)
    assert studio.data.dt == 0.05 and studio.preprocess_panel.options().is_identity
    studio.open_path(path)
    today = datetime.date.today().isoformat()
    assert studio.data.dt == 0.01 and studio.data.dt_source == "user"
    assert studio.movie_panel.dt_source.text() == f"set by you on {today}"
    assert studio.data.pixel_size == 0.2 and studio.movie_panel.pixel_source.text() == "from the file's metadata"
    assert studio.preprocess_panel.options() == Preprocess(crop=(0, 16, 8, 40), bin=2)
    assert _prepared(studio, qtbot).dt == 0.01 and studio.preprocess_panel.movie.frame_shape == (8, 16)

    stat = path.stat()                       # the file changed since: what was set for it no longer applies
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    studio.open_path(path)
    assert studio.data.dt == 0.05 and studio.preprocess_panel.options().is_identity


def test_impossible_choices_are_one_message(studio, qtbot, tiny_movie, tiny_config):
    studio.set_data(tiny_movie)
    studio.training_panel.set_config(tiny_config)
    panel, plan = studio.preprocess_panel, studio.training_panel.plan
    panel.first.setValue(50)
    panel.end.setValue(50)
    qtbot.waitUntil(lambda: bool(panel.error), timeout=30_000)
    assert panel.error == "movie: time range 50:50 lies outside the movie's 200 frames"
    qtbot.waitUntil(lambda: "time range 50:50" in plan.text(), timeout=30_000)
    studio.training_panel.train_button.click()
    assert studio.job is None and studio.error_box.text() == panel.error

    panel.end.setValue(0)                     # to the end again; a region smaller than the network can read
    panel.set_crop((0, 2, 0, 2))
    assert _prepared(studio, qtbot).frame_shape == (2, 2) and not panel.error
    qtbot.waitUntil(lambda: "too small" in plan.text(), timeout=30_000)
    assert "frames of (2, 2) pixels are too small for depth 2" in plan.text()
    studio.error_box = None
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None and studio.error_box is not None, timeout=30_000)
    assert "frames of (2, 2) pixels are too small for depth 2" in studio.error_box.text()
    assert "Traceback" not in studio.error_box.text() and studio.run is None
