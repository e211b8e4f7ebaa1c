"""Movies of motility-induced phase separation: the frame is one period of the box (a disc at an edge lights both
sides, shifting every disc by the box changes nothing, by a pixel rolls the frame), the light of every frame is the
same, a blob sits where the fixed map puts its disc, the file round-trips with its truth, and a run on it is never
scored against sigma."""

import json

import numpy as np
import pytest

from cneep_engine import load_movie
from cneep_engine.cli import main
from cneep_engine.movie import GroundTruth
from cneep_engine.synth.mips import ActiveDiscs, DiscRepulsion, SnapshotSampling
from cneep_engine.synth.mips_movie import DiscRenderer, mips, mips_movie
from cneep_engine.trajectories import Trajectories

SMALL = ActiveDiscs(particles=64)                      # box side 18.3: 64 x 64 px at 3.5 px per R
QUICK = SnapshotSampling(frames=6, burn_in=0.0)


def _discs(x: np.ndarray, box: float) -> Trajectories:
    """Positions (movies, frames, particles * 2) of discs in a box of side `box`, with a ground truth to keep."""
    m, f = x.shape[:2]
    truth = GroundTruth(ds=np.zeros((m, f - 1)), sigma=1.0, sigma_2pt=1.0, params={"box": box})
    return Trajectories(data=x, dt=0.5, dt_source="metadata", labels=[f"c{i}" for i in range(x.shape[2])],
                        truth=truth)


def _centroid(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.float64)
    return np.array([(f.sum(0) * np.arange(f.shape[1])).sum(), (f.sum(1) * np.arange(f.shape[0])).sum()]) / f.sum()


def test_a_disc_at_the_edge_lights_both_sides_and_the_frame_is_one_period():
    renderer = DiscRenderer()
    side = 64
    edge = np.array([[[0.1, 30.0]]])                              # a disc just inside the left edge
    img = renderer.blur(edge, (side, side), periodic=True)[0]
    assert img[30, -1] > 0.5 * img[30, 0] > 0 and img[30, -3] > 0.01 * img[30, 0]
    assert img[30].argmax() == 0 and img.sum() == pytest.approx(1.0, rel=1e-5)
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, side - 0.5, (3, 40, 2))
    frames = renderer.blur(x, (side, side), periodic=True)
    # every disc moved by a whole period (or a period of each axis apart): the same frame
    moved = x + rng.integers(-2, 3, (3, 40, 2)) * side
    assert np.allclose(renderer.blur(moved, (side, side), periodic=True), frames, atol=1e-6)
    # every disc moved by (3, -5) pixels: the frame rolled, the discs leaving one side entering the other
    rolled = renderer.blur(x + (3, -5), (side, side), periodic=True)
    assert np.allclose(rolled, np.roll(frames, (-5, 3), axis=(1, 2)), atol=1e-6)
    assert frames.sum((1, 2)) == pytest.approx(40.0, rel=1e-5)   # all the light of 40 discs, wherever they are


def test_each_movie_frame_holds_the_same_light_and_the_box_fills_it():
    movie = mips(SMALL, DiscRepulsion(), DiscRenderer(dtype="uint16", peak=4000), QUICK)
    t, box = movie.truth, SMALL.box(1.0)
    side = round(box / 0.2857)
    assert movie.frame_shape == (side, side) == (64, 64)
    assert movie.pixel_size == pytest.approx(box / side) and t.params["frame"]["px_per_unit"] == 1 / movie.pixel_size
    light = movie.frames.astype(np.float64).sum((2, 3))
    # 64 discs of weight 1 at peak counts per brightest pixel: the rounding of 4096 pixels is all that differs
    expected = 64 * 4000 / t.params["frame"]["intensity_scale"]
    assert np.abs(light / expected - 1).max() < 1e-3 and np.ptp(light) < 0.5 * 4096


@pytest.mark.parametrize("binning", [1, 2])
def test_a_blob_sits_where_the_fixed_map_puts_its_disc(binning):
    box = 20.0
    rng = np.random.default_rng(1)
    x = rng.uniform(6, 14, (2, 5, 2))                             # one disc away from the edges
    renderer = DiscRenderer(pixel_size=0.25, binning=binning, dtype="uint16", peak=4000)
    movie = mips_movie(renderer, _discs(x, box), hypoelliptic=True, seed=0)
    frame = movie.truth.params["frame"]
    assert movie.frame_shape == (80 // binning, 80 // binning) and movie.pixel_size == 0.25 * binning
    expected = np.asarray(frame["origin"]) + frame["px_per_unit"] * x
    found = np.array([[_centroid(f) for f in m] for m in movie.frames])
    assert np.abs(found - expected).max() < 0.02
    assert frame["origin"] == [-0.5, -0.5]   # the box's corner is the frame's: pixel j covers [j, j + 1) px


def test_the_movie_round_trips_with_its_truth_and_says_what_sigma_is_to_it(tmp_path, capsys):
    out = tmp_path / "mips.tif"
    small = ["simulate", "mips", "--particles", "64", "--frames", "6", "--burn-in", "0", "-q", "-o", str(out)]
    assert main(small) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out} (1 x 6 frames of 64x64); sigma_B = ")
    assert "a movie shows the discs' positions only: sigma_B = " in said and "bounds nothing" in said
    movie = load_movie(out)
    t = movie.truth
    again = mips(SMALL, DiscRepulsion(), DiscRenderer(), QUICK)
    assert np.array_equal(np.asarray(movie.frames), again.frames) and movie.dt == pytest.approx(0.5)
    assert np.allclose(t.positions, again.truth.positions) and t.positions.shape == (1, 6, 128)
    assert t.particles["heat"].shape == t.particles["packing"].shape == (1, 6, 64)
    assert t.sigma == pytest.approx(t.particles["heat"].sum(2).mean())
    assert t.params["sigma_2pt_exact"] is False and t.params["renderer"] == DiscRenderer().describe()
    assert t.params["hidden"] == again.truth.params["hidden"]
    assert main(small + ["--reuse"]) == 0 and capsys.readouterr().out.startswith(f"kept {out}")
    assert main(small + ["--reuse", "--psf-sigma", "1.5"]) == 2
    assert "psf_sigma 2.0 (asked: 1.5)" in capsys.readouterr().err
    # the same seed gives the same discs as coordinates, whose report also compares with nothing
    coords = mips(SMALL, DiscRepulsion(), DiscRenderer(), SnapshotSampling(trajectories=1, frames=6, burn_in=0.0))
    assert np.allclose(coords.data, t.positions, rtol=1e-6)
    assert coords.truth.params["hidden"].startswith("positions only")


def test_with_translational_noise_sigma_a_is_named_an_upper_bound_only():
    model = ActiveDiscs(particles=64, eps=0.01, time_step=0.02)
    movie = mips(model, DiscRepulsion(), DiscRenderer(), SnapshotSampling(frames=3, interval=0.1, burn_in=0.0))
    hidden = movie.truth.params["hidden"]
    assert hidden.startswith("a movie shows positions only: the propulsion's EP (sigma_A = ")
    assert "sigma_A bounds it from above" in hidden and movie.truth.params["sigma_label"] == "σ_A"


def test_a_run_on_the_movie_is_not_scored_against_sigma(tmp_path, capsys):
    movie, run = tmp_path / "mips.tif", tmp_path / "run"
    assert main(["simulate", "mips", "--particles", "64", "--frames", "400", "--movies", "2", "--burn-in", "0",
                 "--pixel-size", "0.572", "-q", "-o", str(movie)]) == 0
    assert main(["train", str(movie), "--method", "pca-sfi", "-o", str(run)]) == 0
    said = capsys.readouterr().out
    t = json.loads((run / "summary.json").read_text())["truth"]
    assert not {"rel_err_sigma", "rel_err_2pt", "rel_err_empirical"} & set(t) and t["sigma_2pt_exact"] is False
    assert "truth: " not in said and f"  {t['hidden']}" in said
    from cneep_gui.summary_view import summary_text   # the app's results say the same
    shown = summary_text(json.loads((run / "summary.json").read_text()))
    assert "exact σ" not in shown and "two-frame σ" not in shown and "bounds nothing" in shown


@pytest.mark.parametrize("options, message", [
    (["--propulsion"], "--propulsion writes the propulsion as coordinates"),
    (["--binning", "3"], "--binning 3 does not divide the 64-px frame of the periodic box"),
    (["--pixel-size", "10"], "--pixel-size 10 makes the box of side 18.3 2 px across"),
])
def test_movies_that_cannot_be_drawn_are_refused_in_one_line_before_simulating(tmp_path, capsys, options, message):
    out = tmp_path / "x.tif"
    assert main(["simulate", "mips", "--particles", "64", "--frames", "2", *options, "-q", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not out.exists()
