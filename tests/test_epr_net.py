"""EPR-Net and its benchmark systems: the double well's exact EP and landscape against independent quadrature, the
Gaussian mixture's steady state, their files through `cneep simulate` and `cneep info`, and the bounds' machinery at
exact and at wrong potentials (no assertion on where a short training lands)."""

import json
import math
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from cneep_engine.cli import main
from cneep_engine.drift_models import DriftModel
from cneep_engine.errors import CneepError
from cneep_engine.estimators.base import TEST, TRAIN, VAL
from cneep_engine.estimators.epr_net import bound_terms, divergence, estimate_epr_net, gradient, mean_and_error
from cneep_engine.estimators.model_known import ModelKnownConfig
from cneep_engine.synth import BrownianGyrator, DrivenGaussianMixture, RotatedDoubleWell, TrajectorySampling
from cneep_engine.synth.steady import integrate, steady_trajectories
from cneep_engine.training import TrainConfig


@pytest.fixture(autouse=True)
def _one_thread():
    """The networks and point sets here are small: a second torch thread only waits on the first, and on a busy
    machine it waits long."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _draws(model, n, seed=0):
    return model.draw(n, torch.Generator().manual_seed(seed))


def _bounds(drift, phi, x, diffusion):
    f, div = (t.detach() for t in divergence(drift, x))
    return bound_terms(phi, x, f, div, torch.tensor(np.array(diffusion), dtype=torch.float64))


@pytest.mark.parametrize("d, quoted", [(0.05, "2.2109"), (0.1, "2.1676"), (0.2, "2.0605"), (0.5, "1.8064")])
def test_double_well_rate_against_a_quadrature_of_the_plane(d, quoted):
    """c^2 (12 <u^2> - 3) from the marginal of u against (c^2 / D) <|grad V0|^2> over a grid of the plane, with the
    density normalised on that grid, and the quoted values."""
    w = RotatedDoubleWell(diffusivity=d)
    assert abs(w.ep_rate - float(quoted)) <= 5e-5
    axis = np.linspace(-3, 6, 901)
    xy = torch.as_tensor(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2))
    cell = (axis[1] - axis[0]) ** 2
    p = torch.exp(w.log_density(xy)).numpy()
    assert p.sum() * cell == pytest.approx(1, rel=1e-6)                   # ln p is normalised
    grad_v = gradient(w.potential, xy).detach().numpy()
    assert (w.curl ** 2 / d * (grad_v ** 2).sum(1) * p).sum() * cell == pytest.approx(w.ep_rate, rel=1e-6)
    assert w.ep_rate == pytest.approx(w.curl ** 2 * ((12 * (xy[:, 0] - 1.5) ** 2 - 3).numpy() * p).sum() * cell,
                                      rel=1e-6)
    assert replace(w, curl=0.0).ep_rate == 0


def test_double_well_drift_is_the_gradient_and_its_rotation():
    w = RotatedDoubleWell(curl=0.7)
    x = _draws(w, 50)
    g = gradient(w.potential, x)
    f = w.drift(x)
    assert torch.allclose(f, -g + 0.7 * torch.stack([-g[:, 1], g[:, 0]], 1), atol=1e-12)


def test_gaussian_mixture_stays_steady_and_its_monte_carlo_rate():
    """The stationary Fokker-Planck residual of p vanishes at every point, the score is the gradient of ln p, and
    the Monte Carlo sigma agrees with the static formula <|F|^2> / D + <div F> on independent draws."""
    m = DrivenGaussianMixture()
    x = _draws(m, 4000, seed=5)
    assert torch.allclose(m.score(x), gradient(m.log_density, x).detach(), rtol=1e-9, atol=1e-9)
    f, div = (t.detach() for t in divergence(m.drift, x))
    s = m.score(x)
    lap = divergence(lambda z: gradient(m.log_density, z), x)[1].detach()
    residual = div + (f * s).sum(1) - m.diffusivity * (lap + (s ** 2).sum(1))   # div(p F - D grad p) / p
    assert residual.abs().max() < 1e-9 * (f ** 2).sum(1).max()
    static, err = mean_and_error(((f ** 2).sum(1) / m.diffusivity + div).numpy(), None)
    mc_err = m.describe()["sigma_err"]
    assert abs(static - m.ep_rate) < 3 * math.hypot(err, mc_err) and mc_err < 0.003 * m.ep_rate
    assert replace(m, drive=0.0).ep_rate == 0 and replace(m, dims=2).antisymmetric.shape == (2, 2)


@pytest.mark.parametrize("model", [RotatedDoubleWell(time_step=0.005), DrivenGaussianMixture(dims=4, time_step=0.005)])
def test_simulated_steps_carry_sigma(model):
    """The mean EP per step of a short simulation started from exact draws is sigma dt within 3 standard errors."""
    _, ds = integrate(model, 400, 101, seed=3)
    per_particle = ds.sum(1) / (100 * model.dt)
    err = per_particle.std(ddof=1) / np.sqrt(len(per_particle))
    assert abs(per_particle.mean() - model.ep_rate) < 3 * err and err < 0.1 * model.ep_rate


def test_simulate_then_info_and_list(tmp_path, capsys):
    out = str(tmp_path / "dw.npz")
    assert main(["simulate", "double-well", "--curl", "0.3", "--diffusivity", "0.2", "--trajectories", "3",
                 "--frames", "20", "-o", out]) == 0
    assert "no exact two-frame ceiling" in capsys.readouterr().out
    assert main(["info", out, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["coordinates"] == 2 and d["trajectories"] == 3 and d["frames"] == 20
    assert d["truth"]["system"] == "double-well" and "sigma_2pt" not in d["truth"]
    assert d["truth"]["sigma"] == pytest.approx(RotatedDoubleWell(curl=0.3, diffusivity=0.2).ep_rate)
    mix = str(tmp_path / "mix.npz")
    assert main(["simulate", "gaussian-mixture", "--dims", "3", "--trajectories", "2", "--frames", "5", "-o",
                 mix]) == 0
    assert "Monte Carlo" in capsys.readouterr().out
    assert main(["info", mix, "--json"]) == 0
    t = json.loads(capsys.readouterr().out)["truth"]
    assert t["sigma"] == pytest.approx(DrivenGaussianMixture(dims=3).ep_rate) and t["sigma_err"] > 0
    assert main(["list", "--json"]) == 0
    systems = {s["name"]: {p["option"] for p in s["params"]} for s in json.loads(capsys.readouterr().out)["systems"]}
    assert {"--curl", "--diffusivity", "--time-step", "--frames"} <= systems["double-well"]
    assert {"--dims", "--drive", "--matrix-seed"} <= systems["gaussian-mixture"]
    with pytest.raises(CneepError, match="--dims"):
        DrivenGaussianMixture(dims=13)


def test_trajectories_hold_the_steps_ep():
    data = steady_trajectories(RotatedDoubleWell(), TrajectorySampling(trajectories=2, frames=4, seed=1))
    assert data.data.shape == (2, 4, 2) and data.truth.ds.shape == (2, 3) and data.labels == ["x1", "x2"]
    assert data.truth.params["sigma_2pt_exact"] is False and data.truth.params["substeps"] == 10


@pytest.mark.parametrize("model", [RotatedDoubleWell(), DrivenGaussianMixture(dims=12)])
def test_bounds_at_the_exact_potential_meet_at_sigma(model):
    """phi = -ln p: the upper bound is sigma within sampling error and the gap is 0 sample by sample (it is the
    stationary equation's residual)."""
    x = _draws(model, 20_000, seed=2)
    upper, lower = _bounds(model.drift, lambda z: -model.log_density(z), x, np.diag(model.diffusion))
    rate, err = mean_and_error(upper, None)
    sigma_err = model.describe().get("sigma_err", 0.0)
    assert abs(rate - model.ep_rate) < 3 * math.hypot(err, sigma_err)
    assert np.abs(upper - lower).max() < 1e-9 * np.abs(upper).max()


def test_bounds_of_a_wrong_potential_bracket_sigma_by_its_distance():
    """phi = a phi* on the gyrator (diagonal D, exact Gaussian draws): upper - sigma = sigma - lower =
    (1 - a)^2 <|grad phi*|^2_D>, and the midpoint is sigma, within sampling error."""
    g = BrownianGyrator()
    a_mat, c_inv = torch.as_tensor(g.drift), torch.as_tensor(np.linalg.inv(g.covariance))
    diag = np.diag(g.diffusion).copy()
    x = torch.as_tensor(np.random.default_rng(4).multivariate_normal([0, 0], g.covariance, 200_000))
    drift = lambda z: z @ a_mat.T   # noqa: E731
    exact = lambda z: 0.5 * ((z @ c_inv) * z).sum(1)   # noqa: E731   -ln p up to a constant
    upper, lower = _bounds(drift, lambda z: 0.6 * exact(z), x, diag)
    distance = 0.4 ** 2 * ((x @ c_inv) ** 2 * torch.as_tensor(diag)).sum(1).numpy()
    for values in (upper - distance, lower + distance, (upper + lower) / 2):
        mean, err = mean_and_error(values, None)
        assert abs(mean - g.ep_rate) < 3 * err
    assert upper.mean() > g.ep_rate > lower.mean()
    exact_up, _ = _bounds(drift, exact, x, diag)
    mean, err = mean_and_error(exact_up, None)
    assert abs(mean - g.ep_rate) < 3 * err


def _parts(n):
    return np.r_[np.full(n, TRAIN), np.full(n, VAL), np.full(2 * n, TEST)]


def _model(system, diffusion=None):
    d = np.diag(system.diffusion).copy() if diffusion is None else np.asarray(diffusion, np.float64)
    return DriftModel("test", system.drift, d, log_density=system.log_density)


def _config(**kw):
    return TrainConfig(model="epr-net", **{"iterations": 40, "batch": 64, "eval_every": 10, "patience": 0, **kw})


def test_a_short_training_reports_bounds_landscape_and_progress():
    w = RotatedDoubleWell()
    x = _draws(w, 800, seed=1).numpy()
    events = []
    est = estimate_epr_net(x, _parts(200), _model(w), ModelKnownConfig(grid=12, enhanced=1.0, width=20, blocks=3),
                           _config(), box=[(0, 3), (0, 3)], callback=events.append)
    d = est.details
    b = d["bounds"]
    assert est.rate == pytest.approx((b["upper"] + b["lower"]) / 2) and est.transitions == 400
    assert d["gap"] == pytest.approx(b["upper"] - b["lower"]) and d["upper_bound_err"] > 0 and est.rate_err > 0
    assert len(d["landscape"]["potential"]) == 12 and d["landscape"]["x"][-1] == 3
    assert min(map(min, d["landscape"]["exact"])) == 0 and d["landscape_rrmse"] == d["landscape"]["rrmse"] > 0
    t = d["training"]
    assert t["stopped"] == "finished" and 0 <= t["best_iteration"] <= 40 and t["iterations"] == 40
    # The MLP learns the potential in the force's units, D phi (D = 0.1 here), the quantity the paper's V is.
    assert t["network"] == {**t["network"], "network": "potential", "width": 20, "depth": 3, "energy": 0.1}
    widest = x[:200].std(0, ddof=1).max()   # one length for both axes: x2, three times narrower, is not stretched
    assert t["network"]["std"] == pytest.approx([widest, widest], rel=1e-5)
    assert events[0].message == "started" and events[-1].message == "finished"
    assert [e.iteration for e in events if e.val_rate is not None and e.message != "finished"] == [0, 10, 20, 30, 40]
    # Each validation brackets its rate: the EPR loss (the upper bound) and the lower bound, the rate their midpoint.
    for e in (e for e in events if e.val_rate is not None):
        assert e.val_lower < e.val_rate < e.val_upper and e.val_rate == pytest.approx((e.val_lower + e.val_upper) / 2)
        assert e.val_upper == pytest.approx(e.val_loss, rel=1e-5)
    json.dumps(est.as_dict())


def test_cancel_keeps_the_model_so_far_and_bad_input_is_named():
    m = DrivenGaussianMixture(dims=3)
    x = _draws(m, 400).numpy()
    cancel = threading.Event()
    cancel.set()
    est = estimate_epr_net(x, _parts(100), _model(m), ModelKnownConfig(), _config(iterations=50), cancel=cancel)
    assert est.details["training"]["stopped"] == "cancelled" and est.details["training"]["iterations"] == 0
    assert "landscape" not in est.details and est.details["landscape_rrmse"] > 0
    with pytest.raises(CneepError, match="positive diffusion for every coordinate"):
        estimate_epr_net(x, _parts(100), _model(m, [0.1, 0, 0.1]), ModelKnownConfig(), _config())
    with pytest.raises(CneepError, match="a drift of 2 coordinates, the samples have 3"):
        estimate_epr_net(x, _parts(100), _model(m, [0.1, 0.1]), ModelKnownConfig(), _config())
    with pytest.raises(CneepError, match="at least 2 samples in each part, got 399 training, 0 validation, 1 test"):
        estimate_epr_net(x, np.r_[np.zeros(399, int), TEST], _model(m), ModelKnownConfig(), _config())


def test_cneep_train_with_epr_net_writes_the_bounds_and_the_landscape(tmp_path, capsys):
    data, run = tmp_path / "dw.npz", tmp_path / "run"
    assert main(["simulate", "double-well", "--trajectories", "4", "--frames", "300", "-o", str(data)]) == 0
    assert main(["train", str(data), "--method", "epr-net", "--iters", "50", "--eval-every", "25", "--batch", "64",
                 "--width", "16", "--grid", "10", "--device", "cpu", "-o", str(run), "-q"]) == 0
    s = json.loads((run / "summary.json").read_text())
    b = s["bounds"]
    assert s["method"] == "epr-net" and s["ep_rate"] == pytest.approx((b["upper"] + b["lower"]) / 2)
    assert s["ep_rate_err"] > 0 and s["lower_bound_err"] > 0 and s["upper_bound_err"] > 0
    assert np.isfinite(s["static_rate"]) and s["landscape_rrmse"] > 0 and len(s["landscape"]["potential"]) == 10
    assert s["drift"].startswith("double-well") and s["truth"]["sigma"] == pytest.approx(RotatedDoubleWell().ep_rate)
    assert (run / "network.pt").is_file() and s["device"].startswith("cpu")
    capsys.readouterr()
    csv = tmp_path / "tracks.csv"
    np.savetxt(csv, np.random.default_rng(0).normal(size=(100, 2)), delimiter=",", header="x1,x2", comments="")
    assert main(["train", str(csv), "--method", "epr-net", "-o", str(tmp_path / "r2"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no known drift" in err and "--drift" in err
