"""cneep apply: a run's trained models on new data, without retraining, and the data it refuses."""

import shutil
import threading
from dataclasses import replace

import numpy as np
import pytest
import tifffile

from cneep_engine import (BeadRenderer, BeadSpringChain, CneepError, TrainConfig, load_movie, load_run,
                          load_trajectories, save_movie, save_trajectories, simulate_bead_spring,
                          simulate_bead_spring_trajectories, simulate_ratchet, train)
from cneep_engine.apply import apply_run, read_like, trained_run
from cneep_engine.cli import main
from cneep_engine.errors import Cancelled
from cneep_engine.export import open_run
from cneep_engine.run import TEST

TINY = TrainConfig(depth=2, channels=4, batch=32, iterations=20, eval_every=10, patience=0, device="cpu")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained for a few steps on 3 synthetic movies, and 2 new movies of the same system."""
    root = tmp_path_factory.mktemp("apply")
    own = save_movie(simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=3, frames=120, seed=7),
                     root / "own.tif")
    save_movie(simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=2, frames=100, seed=8),
               root / "new.tif")
    train(load_movie(own), TINY, run_dir=root / "run")
    return root


def test_applied_to_its_own_movie_it_reproduces_the_held_out_ds(trained, tmp_path):
    run = trained_run(trained / "run")
    applied, _ = apply_run(trained / "run", read_like(run, trained / "own.tif"), tmp_path / "out", run=run)
    assert np.array_equal(applied.movie, run.movie) and np.array_equal(applied.frame, run.frame)
    test = run.part == TEST
    assert test.any() and np.array_equal(applied.ds[test], run.ds[test])
    assert (applied.part == TEST).all()    # every window of new data is held out


def test_applied_to_a_new_movie_it_writes_a_run_folder_with_the_verdict_and_the_truth(trained, tmp_path):
    out = tmp_path / "out"
    applied, movie = apply_run(trained / "run", read_like(trained_run(trained / "run"), trained / "new.tif"), out)
    s = applied.summary
    windows = movie.n_movies * (movie.n_frames - 1)
    assert s["test_windows"] == windows and s["movies"] == 2
    assert s["ep_rate"] == pytest.approx(float(applied.ds.mean()) / movie.dt, rel=1e-5)
    assert s["ep_rate_err"] > 0 and 0 < s["p_equilibrium"] <= 1 and s["dt"] == movie.dt
    assert s["applied"]["run"] == str((trained / "run").resolve()) and s["applied"]["model"] == "cneep"
    assert s["truth"]["sigma"] == pytest.approx(movie.truth.sigma) and "r2" in s["truth"]
    assert np.allclose(s["truth"]["empirical_rate"], movie.truth.ds.mean() / movie.dt)
    reopened, data = open_run(out)     # opens like a run, over the new movie
    assert np.array_equal(reopened.ds, applied.ds) and reopened.maps.shape == (windows, *applied.maps.shape[1:])
    assert data.path == trained / "new.tif" and len(reopened.models) == 1
    assert np.allclose(reopened.maps.sum(axis=(1, 2)), reopened.ds, atol=1e-4)


def test_a_movie_without_frame_interval_takes_the_runs(trained, tmp_path):
    run = trained_run(trained / "run")
    frames = tifffile.imread(trained / "new.tif")
    np.save(tmp_path / "bare.npy", frames.reshape(2, 100, *frames.shape[-2:]))
    applied, movie = apply_run(trained / "run", read_like(run, tmp_path / "bare.npy"), tmp_path / "out", run=run)
    assert movie.dt == run.dt and any("the run's" in w for w in applied.summary["warnings"])


def test_an_in_memory_movie_is_saved_with_the_results(trained, tmp_path):
    movie = simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=1, frames=60, seed=9)
    apply_run(trained / "run", movie, tmp_path / "out")
    assert movie.path is None      # the caller's movie is left alone
    assert open_run(tmp_path / "out")[1].path == tmp_path / "out" / "movie.tif"


def one_line(match):
    return pytest.raises(CneepError, match=match)


def test_refusals_are_one_line_each(trained, tmp_path):
    run_dir = trained / "run"
    run = trained_run(run_dir)
    new = read_like(run, trained / "new.tif")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with one_line("not a run folder"):
        trained_run(tmp_path / "notes")
    with one_line("no such run folder"):
        trained_run(tmp_path / "nothing")
    bare = tmp_path / "bare_run"
    shutil.copytree(run_dir, bare)
    (bare / "model_seed0.pt").unlink()
    with one_line(r"no saved model \(model_seed0.pt missing\)"):
        trained_run(bare)
    (tmp_path / "exists").mkdir()
    with one_line("already exists"):
        apply_run(run_dir, new, tmp_path / "exists", run=run)
    assert not any((tmp_path / "exists").iterdir())
    with one_line(r"frames 0.02 s apart \(user\), but the model was trained on frames 0.01 s apart"):
        apply_run(run_dir, read_like(run, trained / "new.tif", dt=0.02), tmp_path / "out", run=run)
    with one_line("pixels of 2 um"):
        apply_run(run_dir, read_like(run, trained / "new.tif", pixel_size=2.0), tmp_path / "out", run=run)
    small = simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=1, frames=30, seed=1)
    small = replace(small, frames=small.frames[:, :, :16])
    with one_line("frames of 16x40 px after the run's preprocessing, but the model reads 20x40 px frames"):
        apply_run(run_dir, small, tmp_path / "out", run=run)
    assert not (tmp_path / "out").exists()


def test_a_channel_that_cannot_match_is_refused_unless_named(trained, tmp_path, capsys):
    frames = tifffile.imread(trained / "new.tif")[:50]
    two = tmp_path / "two.tif"
    tifffile.imwrite(two, np.stack([frames, frames[::-1]], axis=1), imagej=True,
                     metadata={"axes": "TCYX", "finterval": 0.01})
    run = trained_run(trained / "run")
    with one_line("read as channel 0 of 2 channel.s., but the model was trained on the first or grey of 1"):
        apply_run(trained / "run", read_like(run, two), tmp_path / "out", run=run)
    assert main(["apply", str(trained / "run"), str(two), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["apply", str(trained / "run"), str(two), "-o", str(tmp_path / "out"), "-q", "--channel", "0"]) == 0


def test_training_free_runs_are_refused(tmp_path):
    tracks = simulate_bead_spring_trajectories(BeadSpringChain(), trajectories=5, frames=2000, seed=2)
    train(tracks, TrainConfig(model="tur"), run_dir=tmp_path / "tur")
    with one_line("a tur run has no trained model to apply: tur is training-free"):
        trained_run(tmp_path / "tur")


def test_cancel_leaves_no_folder(trained, tmp_path):
    cancel = threading.Event()
    cancel.set()
    run = trained_run(trained / "run")
    with pytest.raises(Cancelled, match="cancelled; nothing written"):
        apply_run(trained / "run", read_like(run, trained / "new.tif"), tmp_path / "out", run=run, cancel=cancel)
    assert not (tmp_path / "out").exists()


def test_neep_applies_to_trajectories_and_refuses_states(tmp_path):
    own = save_trajectories(simulate_bead_spring_trajectories(BeadSpringChain(), trajectories=3, frames=400, seed=3),
                            tmp_path / "own.npz")
    config = replace(TINY, model="neep", hidden=8)
    train(load_trajectories(own), config, run_dir=tmp_path / "run")
    run = trained_run(tmp_path / "run")
    applied, _ = apply_run(tmp_path / "run", read_like(run, own), tmp_path / "out", run=run)
    test = run.part == TEST
    assert np.array_equal(applied.ds[test], run.ds[test]) and load_run(tmp_path / "out").maps is None
    states = simulate_ratchet(trajectories=1, steps=200)
    with one_line("holds states, but the model reads 2 coordinate"):
        apply_run(tmp_path / "run", replace(states, dt=run.dt), tmp_path / "out2", run=run)
    with one_line("--channel applies to movies"):
        read_like(run, own, channel=1)


def test_cli_apply_prints_the_verdict(trained, tmp_path, capsys):
    assert main(["apply", str(trained / "run"), str(trained / "new.tif"), "-o", str(tmp_path / "out"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "applied to every window of" in out and "EP rate" in out and "truth: sigma" in out
    assert load_run(tmp_path / "out").summary["applied"]["trained_on"] == str(trained / "own.tif")
    assert main(["apply", str(trained / "run"), str(trained / "new.tif"), "-o", str(tmp_path / "out")]) == 2
    assert "already exists" in capsys.readouterr().err
