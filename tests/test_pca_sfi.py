"""pca-sfi: SFI on a movie's principal components, against SFI on the beads' exact coordinates, its maps and runs."""

import json
import threading

import numpy as np
import pytest

from cneep_engine import BeadRenderer, BeadSpringChain, CneepError, TrainConfig, load_run, simulate_bead_spring, train
from cneep_engine import pca
from cneep_engine.errors import Cancelled
from cneep_engine.cli import main
from cneep_engine.estimators import ClosedFormConfig, default_split, estimate_pca_sfi, estimate_sfi
from cneep_engine.io import save_movie
from cneep_engine.io.lazy import LazyFrames
from cneep_engine.trajectories import Trajectories

# Linear EP does not change when both temperatures are scaled: Tc = 0.1, Th = 1 has the published chain's sigma
# with displacements (rms 0.3 to 0.7 px) small against the PSF (2 px), so the image is nearly linear in them.
RENDER = BeadRenderer(cell=10, psf_sigma=2.0)


def _movie(th: float, movies: int, frames: int):
    return simulate_bead_spring(BeadSpringChain(beads=2, tc=0.1, th=th, dt=0.01), RENDER, movies=movies,
                                frames=frames, seed=1)


@pytest.fixture(scope="module")
def beads():
    # 10 movies of 10^4 frames: the 2 held-out ones observe 200 time units
    return {"driven": _movie(1.0, 10, 10_000), "equilibrium": _movie(0.1, 10, 10_000)}


@pytest.fixture(scope="module")
def small():
    return _movie(1.0, 4, 1500)


def test_two_components_give_sfis_rate_on_the_bead_coordinates(beads):
    """The two leading components are a linear image of the two bead coordinates, in which SFI's rate is the
    same; a third component adds little."""
    movie = beads["driven"]
    split = default_split(movie)
    est = estimate_pca_sfi(movie, split, components=3)
    exact = estimate_sfi(Trajectories(movie.truth.positions.astype(np.float64), dt=movie.dt), split)
    curve = est.details["components_curve"]
    assert [c["components"] for c in curve] == [1, 2, 3] and est.details["components"] == 3
    one, two, three = curve
    assert abs(one["ep_rate"]) < 3 * one["ep_rate_err"]      # one coordinate carries no current
    assert abs(two["ep_rate"] - exact.rate) < 3 * two["ep_rate_err"] < 0.6 * exact.rate
    assert abs(three["ep_rate"] - two["ep_rate"]) < 3 * three["ep_rate_err"]
    assert 0.5 < one["variance_explained"] < two["variance_explained"] < three["variance_explained"] <= 1
    assert (est.rate, est.rate_err, est.debiased_rate) == (three["ep_rate"], three["ep_rate_err"],
                                                           three["debiased_rate"])
    assert est.rate - est.debiased_rate == pytest.approx(3 * 2 / (est.transitions * movie.dt))


def test_at_equilibrium_the_rate_is_zero_within_its_error(beads):
    est = estimate_pca_sfi(beads["equilibrium"], None, components=3)
    for c in est.details["components_curve"]:
        assert abs(c["debiased_rate"]) < 3 * c["ep_rate_err"]


def test_components_are_fitted_on_the_training_frames_only_and_read_in_chunks(monkeypatch, small):
    """Held-out frames do not move the components; a movie read lazily, a few frames at a time, gives the same."""
    split = default_split(small)
    train_flat = np.flatnonzero(split.ravel() == 0)
    whole = pca.fit_components(small.frames, train_flat, 3)
    changed = small.frames.copy()
    changed[split == 2] = 0
    assert np.array_equal(pca.fit_components(changed, train_flat, 3).loadings, whole.loadings)
    monkeypatch.setattr(pca, "CHUNK_BYTES", 8 * 200 * 7)   # 7 frames of 10 x 20 px at a time
    frames = small.frames.reshape(-1, *small.frame_shape)
    lazy = LazyFrames(lambda i: frames[i], np.arange(len(frames)).reshape(small.frames.shape[:2]), small.frame_shape,
                      small.frames.dtype)
    chunked = pca.fit_components(lazy, train_flat, 3)
    np.testing.assert_allclose(chunked.loadings, whole.loadings, atol=1e-9)
    # against the covariance's exact eigenvectors
    x = frames[train_flat].reshape(len(train_flat), -1).astype(np.float64)
    variance, vectors = np.linalg.eigh(np.cov(x.T))
    np.testing.assert_allclose(whole.variance, variance[::-1][:3], rtol=1e-6)
    np.testing.assert_allclose(np.abs(whole.loadings @ vectors[:, ::-1][:, :3]), np.eye(3), atol=1e-6)


def test_a_run_has_maps_that_sum_to_each_transitions_ep_and_its_folder_reopens(tmp_path, small):
    run = train(small, TrainConfig(model="pca-sfi", seed=2), run_dir=tmp_path / "run",
                closed_form=ClosedFormConfig(components=3, bootstrap=50))
    s = run.summary
    assert s["method"] == "pca-sfi" and s["components"] == 3 and len(s["components_curve"]) == 3
    assert s["truth"]["sigma"] == pytest.approx(small.truth.sigma) and "input_checks" in s
    assert run.maps.shape == (len(run.ds), *small.frame_shape)
    sums = np.asarray(run.maps).reshape(len(run.ds), -1).sum(1, dtype=np.float64)
    np.testing.assert_allclose(sums, run.ds, atol=1e-5 * np.abs(run.ds).max())
    test = run.part == 2
    assert run.ds[test].astype(np.float64).mean() / small.dt == pytest.approx(s["ep_rate"], rel=1e-5)
    assert run.mean_map.sum(dtype=np.float64) == pytest.approx(s["ep_rate"], rel=1e-4)
    # the dissipation sits where the beads are: the frame's middle rows, not its top and bottom edges
    assert np.abs(run.mean_map[4:6]).sum() > 5 * np.abs(run.mean_map[[0, -1]]).sum()
    again = load_run(tmp_path / "run")
    assert again.summary == json.loads(json.dumps(s)) and again.closed_form == run.closed_form
    np.testing.assert_array_equal(np.asarray(again.maps), np.asarray(run.maps))
    np.testing.assert_array_equal(again.ds, run.ds)
    assert again.config.model == "pca-sfi" and again.models == []
    # one estimate: the map's standard error from the verdict's blocks, read back as written
    assert s["map_uncertainty"]["method"] == "bootstrap" and s["map_uncertainty"]["blocks"] == s["block"]["blocks"]
    np.testing.assert_array_equal(again.map_uncertainty.sem, run.map_uncertainty.sem)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["closed_form"] == {"bootstrap": 50, "diffusion": "increments", "components": 3}
    # without a folder the maps are the same, in memory
    np.testing.assert_array_equal(train(small, TrainConfig(model="pca-sfi", seed=2),
                                        closed_form=ClosedFormConfig(components=3, bootstrap=50)).maps, run.maps)


def test_cli_trains_and_lists_it(tmp_path, capsys, small):
    path = save_movie(small, tmp_path / "beads.tif")
    assert main(["train", str(path), "--method", "pca-sfi", "--components", "2", "--bootstrap", "20",
                 "-o", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "pca-sfi: EP rate" in out and "by components kept (rate ± error, debiased): 1: " in out
    assert (tmp_path / "run" / "dissipation_maps.tif").is_file()
    assert main(["list"]) == 0
    assert "pca-sfi" in capsys.readouterr().out


def test_bad_input_is_one_clear_error(tmp_path, capsys, small):
    with pytest.raises(CneepError, match=r"--components 201 is more than the 200 pixels of a frame"):
        estimate_pca_sfi(small, None, components=201)
    with pytest.raises(CneepError, match="split has shape"):
        estimate_pca_sfi(small, np.zeros((2, 5), np.int8))
    flat = small.frames.copy()
    flat[:] = 7
    with pytest.raises(CneepError, match="training frames do not change"):
        estimate_pca_sfi(type(small)(flat, dt=small.dt), None, components=2)
    flat[..., 3, 4] = np.random.default_rng(0).integers(0, 9, flat.shape[:2])     # one pixel flickers
    with pytest.raises(CneepError, match="vary along only 1 direction; use --components 1 or fewer"):
        estimate_pca_sfi(type(small)(flat, dt=small.dt), None, components=2)
    few = save_movie(_movie(1.0, 1, 12), tmp_path / "few.tif")
    assert main(["train", str(few), "--method", "pca-sfi", "--components", "8", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--components 8 needs more than 8 training frames" in err
    with pytest.raises(CneepError, match="pca-sfi reads movies, not coordinate trajectories"):
        train(Trajectories(small.truth.positions.astype(np.float64), dt=0.01), TrainConfig(model="pca-sfi"))


def test_a_cancel_during_the_estimate_leaves_the_earlier_run(tmp_path, small):
    folder = tmp_path / "run"
    settings = ClosedFormConfig(components=2, bootstrap=20)
    train(small, TrainConfig(model="pca-sfi"), run_dir=folder, closed_form=settings)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    cancel = threading.Event()
    with pytest.raises(Cancelled, match="no result"):
        train(small, TrainConfig(model="pca-sfi", seed=5), callback=lambda ev: cancel.set(), cancel=cancel,
              run_dir=folder, closed_form=settings)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
