"""The filament network with geometric springs: its forces are the linear network's to first order, its Monte Carlo
EP rate is the linear exact sigma at small T_c, and it is written like the linear one, truth labelled Monte Carlo."""

import numpy as np
import pytest

from cneep_engine.cli import main
from cneep_engine.io import load_movie, load_trajectories
from cneep_engine.synth import FilamentNetwork, FilamentRenderer, GeometricSprings, Sampling, network
from cneep_engine.synth.network_nonlinear import SpringForces, integrate


def _as_rows(u: np.ndarray) -> np.ndarray:
    """(..., dof) with x, y node by node -> (..., 2, free), the layout of SpringForces."""
    return np.swapaxes(u.reshape(*u.shape[:-1], -1, 2), -1, -2)


@pytest.mark.parametrize("model", [FilamentNetwork(), FilamentNetwork(prestress=0.2),
                                   FilamentNetwork(lattice="square", prestress=0.3, nx=5, ny=4, hot="2,2")])
def test_the_springs_are_the_linear_network_to_first_order(model):
    """At rest no force; the finite-difference Jacobian is -K, the linear stiffness with its prestress; beyond it
    the remainder is quadratic in the displacement (half the displacement, a quarter of it)."""
    force = SpringForces(model)
    dof = model.dimension
    assert np.abs(force(np.zeros((2, dof // 2)))).max() < 1e-12
    h = 1e-6
    steps = _as_rows(h * np.eye(dof))                                  # (dof, 2, free): one coordinate each
    columns = np.swapaxes((force(steps) - force(-steps)) / (2 * h), -1, -2).reshape(dof, dof)   # row c: d f / du_c
    jacobian = columns.T
    np.testing.assert_allclose(jacobian, model.drift * model.gamma, atol=1e-8)
    u = 0.05 * np.random.default_rng(0).standard_normal(dof)
    remainder = [np.abs(force(_as_rows(s * u)) - _as_rows(model.gamma * model.drift @ (s * u))).max() for s in (1, 0.5)]
    assert remainder[0] > 1e-4 and remainder[1] / remainder[0] == pytest.approx(0.25, abs=0.03)


def test_at_small_tc_the_mean_medium_ep_is_the_linear_sigma():
    """64 replicas x 10 time units at T_c = 0.001 (rms displacement 0.025 a): the Monte Carlo rate agrees with the
    exact linear sigma 24.73 within 4 of its standard errors (about 1.4% each; the Euler-Maruyama bias at this
    step is +0.46%)."""
    model = FilamentNetwork(tc=0.001)
    sampled = network(model, GeometricSprings(nonlinear=True, time_step=0.005, burn_in=1.0), FilamentRenderer(),
                      Sampling(trajectories=64, frames=1001, seed=5))
    t = sampled.truth
    assert t.params["sigma_linear"] == pytest.approx(24.7299, abs=1e-4)
    assert 0 < t.params["sigma_err"] < 0.03 * t.sigma
    assert abs(t.sigma - model.ep_rate) < 4 * t.params["sigma_err"]
    assert t.ds.mean() / model.dt == pytest.approx(t.sigma, abs=4 * t.params["sigma_err"])   # system term: mean 0


def test_equilibrium_dissipates_nothing_even_where_the_springs_are_nonlinear():
    """One temperature everywhere, large enough (T_c = 0.05, 0.18 a rms) that the springs turn and stretch: the
    medium EP averages to zero within 4 standard errors."""
    model = FilamentNetwork(tc=0.05, ratio=1.0)
    _, medium = integrate(model, GeometricSprings(nonlinear=True, time_step=0.005, burn_in=1.0), 32, 501, seed=2)
    per_trajectory = medium.mean(1) / model.dt
    assert abs(per_trajectory.mean()) < 4 * per_trajectory.std(ddof=1) / np.sqrt(len(per_trajectory))


def test_cli_writes_a_nonlinear_movie_and_its_tracks_labelled_monte_carlo(tmp_path, capsys):
    assert main(["list"]) == 0
    assert "--nonlinear" in capsys.readouterr().out
    out = tmp_path / "net.tif"
    args = ["simulate", "network", "--nonlinear", "--burn-in", "0.1", "--frames", "6", "--seed", "3"]
    assert main([*args, "--movies", "2", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2 x 6 frames of 99x119" in said and "± " in said and "(Monte Carlo)" in said
    movie = load_movie(out)
    t = movie.truth
    assert movie.frames.shape == (2, 6, 99, 119) and movie.pixel_size == pytest.approx(1 / 14)
    assert t.ds.shape == (2, 5) and t.positions.shape == (2, 6, 72) and t.sites is None
    assert not t.params["sigma_exact"] and not t.params["sigma_2pt_exact"] and t.params["nonlinear"]
    assert t.params["substeps"] == 5 and t.params["frame"]["px_per_unit"] == 14
    # the frames draw the positions of the sidecar, as for the linear network
    model, renderer = FilamentNetwork(), FilamentRenderer()
    np.testing.assert_array_equal(renderer.render(model, t.positions[1], seed=np.random.SeedSequence(3).spawn(2)[1]),
                                  movie.frames[1])
    tracks_path = tmp_path / "nodes.npz"
    assert main([*args, "--trajectories", "2", "-o", str(tracks_path)]) == 0
    tracks = load_trajectories(tracks_path)
    assert tracks.data.shape == (2, 6, 72) and tracks.labels[:2] == ["x(1,1)", "y(1,1)"]
    np.testing.assert_allclose(tracks.data, t.positions, atol=1e-6)   # the same seed, the same draws (float32 kept)


def test_a_step_too_coarse_for_the_stiffest_mode_is_refused(capsys):
    assert main(["simulate", "network", "--nonlinear", "--k", "10", "--time-step", "0.01", "--frames", "3",
                 "-o", "unused.tif"]) == 2
    err = capsys.readouterr().err
    assert "--time-step 0.01" in err and "use at most" in err
