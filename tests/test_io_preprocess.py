"""Preprocessing on the fly: frames, dt, pixel size and ground truth stay consistent, and the run records it."""

import json

import numpy as np
import pytest
import tifffile

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring, train
from cneep_engine.cli import main
from cneep_engine.io import (LazyFrames, Preprocess, load_movie, parse_crop, parse_time_range, prepare, preprocess,
                             save_movie)
from cneep_engine.movie import GroundTruth, Movie


@pytest.fixture
def movie_file(tmp_path):
    data = np.random.default_rng(1).integers(0, 4000, (2, 40, 12, 16)).astype(np.uint16)
    truth = GroundTruth(ds=np.random.default_rng(2).normal(size=(2, 39)), sigma=2.0, sigma_2pt=1.5,
                        positions=np.random.default_rng(3).normal(size=(2, 40, 2)))
    path = save_movie(Movie(frames=data, dt=0.1, pixel_size=0.2, truth=truth), tmp_path / "m.tif")
    return path, data, truth


def test_time_range_step_and_crop_are_views_with_dt_adjusted(movie_file):
    path, data, truth = movie_file
    m = load_movie(path, time_range=(5, 35), frame_step=3, crop=(2, 10, 4, 16))
    assert isinstance(m.frames, np.memmap)                     # still no copy of the file
    np.testing.assert_array_equal(m.frames, data[:, 5:35:3, 2:10, 4:16])
    assert m.dt == pytest.approx(0.3) and m.pixel_size == pytest.approx(0.2)
    assert m.truth is None and any("ground truth dropped" in n for n in m.provenance["notes"])
    assert m.provenance["preprocess"]["frame_step"] == 3


def test_binning_normalisation_and_split(movie_file):
    path, data, truth = movie_file
    m = load_movie(path, time_range=(1, 39), bin=2, normalize=True, split_into=2)
    assert isinstance(m.frames, LazyFrames)
    assert m.frames.shape == (4, 19, 6, 8) and m.frames.dtype == np.float32
    assert m.dt == pytest.approx(0.1) and m.pixel_size == pytest.approx(0.4)
    binned = data[:, 1:39].reshape(2, 38, 6, 2, 8, 2).mean(axis=(3, 5))
    rec = m.provenance["preprocess"]
    mean, std = np.array(rec["normalize_mean"]), np.array(rec["normalize_std"])
    expected = (binned - mean[:, None, None, None]) / std[:, None, None, None]
    expected = expected.reshape(4, 19, 6, 8)                    # movie 0 -> movies 0, 1; movie 1 -> 2, 3
    np.testing.assert_allclose(m.frames[:], expected, rtol=1e-5, atol=1e-5)
    assert abs(float(np.mean(m.frames[:2]))) < 0.2              # each source movie near zero mean
    # Truth follows the time range and the split: transitions inside each piece, none across the cut.
    np.testing.assert_array_equal(m.truth.ds, truth.ds[:, 1:38].reshape(2, 37)[:, [*range(18), *range(19, 37)]]
                                  .reshape(4, 18))
    np.testing.assert_allclose(m.truth.positions, truth.positions[:, 1:39].reshape(4, 19, 2), rtol=1e-6)
    assert m.truth.sigma == truth.sigma


def test_preprocessing_a_lazy_movie_equals_preprocessing_in_memory(movie_file):
    path, data, _ = movie_file
    opts = Preprocess(crop=(1, 11, 0, 15), time_range=(2, None), frame_step=2, bin=3, split_into=2)
    lazy = preprocess(load_movie(path, truth=False), opts)
    eager = preprocess(Movie(frames=data.copy(), dt=0.1, pixel_size=0.2), opts)
    np.testing.assert_array_equal(lazy.frames[:], eager.frames[:])
    assert lazy.frames.shape == (4, 9, 3, 5) and lazy.dt == pytest.approx(0.2)


def test_parsers():
    assert parse_crop("0:128,64:192") == (0, 128, 64, 192)
    assert parse_time_range("100:") == (100, None) and parse_time_range(":50") == (0, 50)


def test_run_records_input_provenance_and_cli_flags(tmp_path):
    movie = simulate_bead_spring(BeadSpringChain(), BeadRenderer(cell=12, psf_sigma=2.0), movies=1, frames=400, seed=4)
    path = save_movie(movie, tmp_path / "beads.tif")
    loaded = load_movie(path, time_range=(0, 300), split_into=3)
    run = train(loaded, TrainConfig(iterations=4, eval_every=2, batch=16, channels=4, depth=1), run_dir=tmp_path / "r")
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["input"]["source"] == str(path)
    assert config["input"]["preprocess"]["split_into"] == 3 and config["input"]["dt"] == movie.dt
    assert run.summary["movies"] == 3 and run.true_ds is not None
    code = main(["train", str(path), "-o", str(tmp_path / "cli"), "--iters", "2", "--eval-every", "1", "--batch", "8",
                 "--channels", "4", "--depth", "1", "--crop", "0:12,0:24", "--time-range", "0:300", "--frame-step", "2",
                 "--bin", "2", "--normalize", "--split-into", "3", "--pixel-size", "0.5", "-q"])
    assert code == 0
    config = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert config["dt"] == pytest.approx(2 * movie.dt) and config["pixel_size"] == pytest.approx(1.0)
    assert config["input"]["pixel_size_source"] == "user" and config["input"]["preprocess"]["bin"] == 2
    assert config["frame_shape"] == [6, 12]


def test_hyperstack_channel_flag_reaches_training(tmp_path):
    data = np.random.default_rng(0).integers(0, 255, (60, 2, 16, 16)).astype(np.uint8)
    data[:, 1] = 0
    path = tmp_path / "two.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TCYX"})
    assert main(["train", str(path), "-o", str(tmp_path / "r"), "--channel", "1", "--iters", "1",
                 "--eval-every", "1", "--batch", "4", "--channels", "2", "--depth", "1", "-q"]) == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["input"]["channel"] == 1 and config["input"]["channels"] == 2


def test_prepare_records_the_calibration_that_results_and_leaves_the_source_alone(movie_file):
    path = movie_file[0]
    movie = load_movie(path)
    movie.dt, movie.dt_source = 0.5, "user"      # as the app's calibration edit leaves it
    stepped = prepare(movie, Preprocess(frame_step=2, bin=2))
    assert (stepped.dt, stepped.pixel_size) == (1.0, pytest.approx(0.4))
    assert {k: stepped.provenance[k] for k in ("dt", "dt_source", "pixel_size_source")} == \
        {"dt": 1.0, "dt_source": "user", "pixel_size_source": "metadata"}
    assert stepped.provenance["pixel_size"] == pytest.approx(0.4)
    same = prepare(movie, Preprocess())          # nothing to do: a copy that records the edit, the source as it was
    assert same is not movie and same.frames is movie.frames and same.provenance["dt"] == 0.5
    assert movie.provenance["dt"] == 0.1 and "preprocess" not in movie.provenance
    assert stepped.provenance == load_movie(path, dt=0.5, frame_step=2, bin=2).provenance
