"""Movies of active particles: the frames show the simulated positions, the sidecar holds the positions' own exact
ceiling (0 for trapped AOUPs, the table's 0.7602 for the active pair) and says that sigma_A is out of a movie's
reach, and every truth report measures an estimate against the ceiling only."""

import json

import numpy as np
import pytest

from cneep_engine import load_movie
from cneep_engine.cli import main
from cneep_engine.synth import ActivePair, ActiveSampling, BeadRenderer, ParticleRenderer, TrappedAOUP, active_pair
from cneep_engine.synth.aoup_movie import linear_movie

PAIR = ["--gamma", "2", "--v0", str(18 ** 0.5), "--coupling", "1", "--trap", "1", "--eps", "1", "--dt", "0.01"]


def _centroids(frames: np.ndarray) -> np.ndarray:
    """Intensity-weighted centre (x, y) of each frame (..., H, W), in pixels."""
    f = frames.astype(np.float64)
    total = f.sum((-2, -1))
    return np.stack([(f.sum(-2) * np.arange(f.shape[-1])).sum(-1) / total,
                     (f.sum(-1) * np.arange(f.shape[-2])).sum(-1) / total], axis=-1)


def test_a_pair_movie_round_trips_with_the_positions_ceiling_as_its_truth(tmp_path, capsys):
    out = tmp_path / "pair.tif"
    assert main(["simulate", "active-pair", *PAIR, "--movies", "2", "--frames", "40", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "sigma_2pt = 0.760" in said and "hidden from it" in said
    movie = load_movie(out)
    t = movie.truth
    model = ActivePair(gamma=2, v0=18 ** 0.5)
    assert movie.frame_shape == (20, 40) and movie.dt == 0.01 and movie.pixel_size == 1.0
    assert round(t.sigma_2pt, 4) == 0.7602 and t.sigma == pytest.approx(9.6, rel=1e-9)   # table 2.3, gamma = 2
    assert t.params["sigma_A"] == t.sigma and t.params["convention"].startswith("A:")
    # the transitions are the positions' pair EP, exact for what two frames show; the windows are no positions
    assert t.ds == pytest.approx(model.transition_ep(t.positions, model.positions), rel=1e-5, abs=1e-6)
    assert t.observed_window_ep is None
    assert t.params["renderer"] == BeadRenderer().describe() and t.params["frame"]["in_view"] == 1.0
    again = active_pair(model, BeadRenderer(), ActiveSampling(movies=2, frames=40))
    assert np.array_equal(np.asarray(movie.frames), again.frames)
    assert main(["info", str(out)]) == 0
    assert f"  {t.params['hidden']}" in capsys.readouterr().out


@pytest.mark.parametrize("dt", [0.01, 0.3])
def test_a_trapped_aoups_movie_shows_nothing_of_its_dissipation(dt):
    model = TrappedAOUP(particles=1, trap=1, v0=1, gamma=1, eps=1, dt=dt)
    movie = linear_movie(model, ParticleRenderer(), ActiveSampling(movies=2, frames=30), "aoup")
    t = movie.truth
    assert t.sigma == pytest.approx(1.0) and abs(t.sigma_2pt) < 1e-12 and np.abs(t.ds).max() < 1e-9
    assert "sigma_A = 1 k_B/s" in t.params["hidden"] and "sigma_2pt = 0 k_B/s" in t.params["hidden"]


@pytest.mark.parametrize("dims, binning", [(2, 1), (2, 2), (1, 1)])
def test_the_blob_centroids_follow_the_positions(dims, binning):
    model = TrappedAOUP(particles=1, dims=dims, trap=1, v0=1, gamma=1, eps=1)
    renderer = ParticleRenderer(width=48, height=40, pixel_size=0.5, binning=binning, dtype="uint16", peak=4000)
    movie = linear_movie(model, renderer, ActiveSampling(movies=2, frames=20, seed=3), "aoup")
    frame = movie.truth.params["frame"]
    assert movie.frame_shape == (40 // binning, 48 // binning) and movie.pixel_size == 0.5 * binning
    x = movie.truth.positions.reshape(2, 20, dims)
    if dims == 1:
        x = np.concatenate([x, np.zeros_like(x)], axis=-1)
    expected = np.asarray(frame["origin"])[0] + frame["px_per_unit"] * x
    assert np.abs(_centroids(movie.frames) - expected).max() < 0.02


def test_the_pair_is_drawn_a_blob_per_particle_in_its_own_cell():
    model = ActivePair(gamma=2, v0=18 ** 0.5)
    renderer = BeadRenderer(pixel_size=2.0, psf_sigma=2.0, dtype="uint16", peak=4000)
    movie = linear_movie(model, renderer, ActiveSampling(movies=1, frames=30, seed=1), "active-pair")
    frame = movie.truth.params["frame"]
    cells = movie.frames.reshape(1, 30, 20, 2, 20).transpose(0, 1, 3, 2, 4)   # (movie, frame, bead, H, W)
    found = _centroids(cells) + np.array([[0, 0], [20, 0]])
    expected = np.asarray(frame["origin"]) + frame["px_per_unit"] * np.stack(
        [movie.truth.positions, np.zeros_like(movie.truth.positions)], axis=-1)
    assert np.abs(found - expected).max() < 0.02


def test_a_run_on_an_active_movie_is_measured_against_the_ceiling_and_says_why(tmp_path, capsys):
    movie, run = tmp_path / "pair.tif", tmp_path / "run"
    assert main(["simulate", "active-pair", *PAIR, "--movies", "10", "--frames", "500", "-o", str(movie)]) == 0
    assert main(["train", str(movie), "--method", "pca-sfi", "-o", str(run)]) == 0
    said = capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    t = summary["truth"]
    assert "rel_err_sigma" not in t and "rel_err_2pt" in t   # never against sigma_A
    assert t["hidden"].startswith("a movie shows positions only: the propulsion's EP (sigma_A = 9.6 k_B/s)")
    assert "truth: sigma_2pt 0.7602 (" in said and "truth: sigma " not in said and f"  {t['hidden']}" in said
    from cneep_gui.summary_view import summary_text   # the app's results say the same
    shown = summary_text(summary)
    assert "two-frame σ of what is seen = 0.7602" in shown and "exact σ" not in shown
    assert "a movie shows positions only" in shown and "k<sub>B</sub>/s) is hidden" in shown
    # a ceiling of 0 (one trapped AOUP) has no relative error: the difference is shown
    zero = {**summary, "truth": {**t, "sigma_2pt": 0.0, "rel_err_2pt": None}}
    assert f"off by {summary['ep_rate']:+.3g} k<sub>B</sub>/s against it" in summary_text(zero)


@pytest.mark.parametrize("system, options, message", [
    ("aoup", ["--propulsion"], "--propulsion writes the propulsion as coordinates"),
    ("aoup", ["--dims", "3", "--particles", "1"], "--dims 3: a movie shows the plane"),
    ("aoup", ["--crop", "0:10,0:10"], "--crop 0:10,0:10: a movie of particles is framed"),
    ("active-pair", ["--dims", "2"], "--dims 2: a movie of the pair shows its motion along x"),
])
def test_movies_that_cannot_show_what_is_asked_are_refused_in_one_line(tmp_path, capsys, system, options, message):
    assert main(["simulate", system, *options, "--frames", "5", "--movies", "1", "-o", str(tmp_path / "x.tif")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
