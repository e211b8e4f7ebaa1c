"""`cneep simulate` and `cneep train` as a user runs them, and their answers to bad input."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from cneep_engine.cli import main
from cneep_engine.io import load_movie

TRAIN = ["--iters", "30", "--eval-every", "10", "--batch", "64", "--channels", "4", "-q"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "beads.tif"
    assert main(["simulate", "bead-spring", "--movies", "3", "--frames", "120", "--seed", "4", "--dt", "0.02",
                 "--pixel-size", "0.5", "-o", str(path)]) == 0
    return path


def test_simulate_writes_a_calibrated_tiff_and_its_truth(simulated):
    with tifffile.TiffFile(simulated) as tf:
        assert tf.is_imagej and len(tf.pages) == 360
        assert tf.imagej_metadata["finterval"] == pytest.approx(0.02)
        x, d = tf.pages[0].tags["XResolution"].value
        assert d / x == pytest.approx(0.5)
    movie = load_movie(simulated)
    assert movie.frames.shape == (3, 120, 20, 40)
    assert (movie.dt, movie.pixel_size, movie.dt_source) == (0.02, 0.5, "metadata")
    assert movie.truth.ds.shape == (3, 119)
    assert movie.truth.sigma == pytest.approx(2.025) and movie.truth.params["seed"] == 4


def test_train_round_trip_writes_the_run_folder(simulated, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(simulated), "-o", str(out), *TRAIN]) == 0
    printed = capsys.readouterr().out
    assert "EP rate" in printed and "k_B/s (95%: " in printed and "\nwarning: not converged: only " in printed
    assert printed.count("not converged: only ") == 1
    assert "\nwhat this means: The estimate was still changing when training ended" in printed   # as in the app
    s = json.loads((out / "summary.json").read_text())
    for key in ("ep_rate", "ep_rate_std", "ep_per_frame", "dt", "loss_based_rate", "iterations", "best_iteration",
                "wall_s", "device"):
        assert key in s
    assert s["dt"] == 0.02 and s["iterations"] == 30 and s["device"].startswith("cpu")
    assert set(s["truth"]) >= {"sigma", "sigma_2pt", "r2", "slope", "rel_err_2pt"}
    with open(out / "ep_trace.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 119 and rows[0]["part"] == "train" and rows[-1]["part"] == "test"
    last_movie = [float(r["ds"]) for r in rows if r["movie"] == "2"]
    assert float(rows[-1]["cumulative_ds"]) == pytest.approx(sum(last_movie), rel=1e-4, abs=1e-5)
    mean_map = tifffile.imread(out / "dissipation_map.tif")
    assert mean_map.shape == (20, 40) and mean_map.dtype == np.float32
    assert mean_map.sum() == pytest.approx(s["ep_rate"], rel=1e-3, abs=1e-6)
    assert tifffile.imread(out / "dissipation_maps.tif").shape == (3 * 119, 5, 10)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["iterations"] == 30 and cfg["models"][0]["feature_shape"] == [8, 5, 10]  # 4 channels, doubled once
    assert (out / "model_seed0.pt").is_file() and (out / "train_log.csv").is_file()


def test_dt_option_overrides_the_metadata(simulated, tmp_path):
    assert main(["train", str(simulated), "-o", str(tmp_path), "--dt", "0.5", *TRAIN]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["dt"] == 0.5


def _error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]  # notes (e.g. about defaulted metadata) may come before the error
    assert last.startswith("cneep: error: ")
    return last


def test_missing_and_unreadable_inputs(tmp_path, capsys):
    missing = tmp_path / "nothing.tif"
    assert str(missing) in _error(capsys, ["train", str(missing), "-o", str(tmp_path / "r")])
    text = tmp_path / "notes.tif"
    text.write_text("not an image\n")
    err = _error(capsys, ["train", str(text), "-o", str(tmp_path / "r")])
    assert str(text) in err and "TIFF" in err


def test_movie_shorter_than_the_window(simulated, tmp_path, capsys):
    err = _error(capsys, ["train", str(simulated), "-o", str(tmp_path / "r"), "--seq-len", "200", *TRAIN])
    assert str(simulated) in err and "seq_len" in err


def test_nan_frames_are_refused(tmp_path, capsys):
    path = tmp_path / "nan.npy"
    frames = np.zeros((40, 20, 40), np.float32)
    frames[7, 3, 3] = np.nan
    np.save(path, frames)
    err = _error(capsys, ["train", str(path), "-o", str(tmp_path / "r")])
    assert str(path) in err and "NaN" in err


def test_ground_truth_sidecar_that_does_not_fit(simulated, tmp_path, capsys):
    movie = tmp_path / "beads.tif"
    movie.write_bytes(simulated.read_bytes())
    sidecar = tmp_path / "beads.truth.npz"
    np.savez(sidecar, ds=np.zeros((2, 5)), meta=np.array(json.dumps({"sigma": 1.0, "sigma_2pt": 1.0})))
    err = _error(capsys, ["train", str(movie), "-o", str(tmp_path / "r")])
    assert str(sidecar) in err and "transitions" in err
    sidecar.write_bytes(b"garbage")
    assert str(sidecar) in _error(capsys, ["train", str(movie), "-o", str(tmp_path / "r")])


def test_bad_settings_are_one_line_errors(simulated, tmp_path, capsys):
    assert "device" in _error(capsys, ["train", str(simulated), "-o", str(tmp_path), "--device", "cuda:7"])
    assert "fractions" in _error(capsys, ["train", str(simulated), "-o", str(tmp_path), "--val-fraction", "0.9"])
    assert "beads" in _error(capsys, ["simulate", "bead-spring", "--beads", "1", "-o", str(tmp_path / "x.tif")])
    # A file name the data cannot be saved under is refused before simulating (mips would take minutes first).
    assert "movies are saved as .tif" in _error(capsys, ["simulate", "bead-spring", "-o", str(tmp_path / "x.npz")])
    assert "trajectories are saved as" in _error(capsys, ["simulate", "mips", "--trajectories", "1",
                                                          "-o", str(tmp_path / "x.tif")])


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "cneep_engine", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "simulate" in out.stdout and "train" in out.stdout


def test_threads_option_sets_torch_threads(simulated, tmp_path, capsys):
    import torch
    before = torch.get_num_threads()
    try:
        assert main(["train", str(simulated), "-o", str(tmp_path), "--threads", "1", *TRAIN]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert "threads" in _error(capsys, ["train", str(simulated), "-o", str(tmp_path), "--threads", "0"])
