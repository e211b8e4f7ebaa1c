"""The score-based estimator against a known drift: the drift models, the exact checks on the linear chain, the
particle transformer's symmetries, the run folder, and one-line refusals of bad drifts and data."""

import json

import numpy as np
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
from cneep_engine.cli import main
from cneep_engine.device import resolve_device
from cneep_engine.drift_models import diagonal_jacobian, drift_model
from cneep_engine.errors import CneepError
from cneep_engine.estimators import ClosedFormConfig, ModelKnownConfig
from cneep_engine.estimators.score import _blur, _divergence, _forces
from cneep_engine.io import save_trajectories
from cneep_engine.models.score_nets import ParticleTransformer
from cneep_engine.run import load_run, train
from cneep_engine.synth import ActiveSampling, Integration, ParticleRenderer, Repulsion, TrappedAOUP, aoup
from cneep_engine.synth.mips import ActiveDiscs, DiscRepulsion, SnapshotSampling, pair_forces, simulate_mips
from cneep_engine.training import TrainConfig
from cneep_engine.verdict import Z_95, advice, bound_test, describe
from cneep_engine.windows import PARTS, assign_parts

CHAIN = BeadSpringChain(beads=2, tc=1, th=10, dt=1.0)
FAST = dict(model="score", iterations=300, eval_every=100, batch=256, lr=3e-3)
LINEAR_DRIFT = """import torch
D = [1.0, 10.0]
def drift(x):
    return torch.stack([-2 * x[:, 0] + x[:, 1], x[:, 0] - 2 * x[:, 1]], dim=1)
"""


@pytest.fixture(scope="module")
def beads():
    # frames 1 s apart, about the chain's slowest relaxation time: 10^4 nearly independent snapshots
    return simulate_bead_spring_trajectories(CHAIN, trajectories=20, frames=500, seed=4)


@pytest.fixture(scope="module")
def fitted(beads):
    return train(beads, TrainConfig(**FAST), closed_form=ModelKnownConfig(bootstrap=50))


def _test_snapshots(beads):
    d = TrainConfig()
    parts = assign_parts(beads.n_trajectories, beads.n_frames, d.val_fraction, d.test_fraction, 2)
    return np.asarray(beads.data)[parts == PARTS.index("test")]


def test_the_static_value_and_the_exact_score_rate_are_the_plain_averages_over_the_test_snapshots(fitted, beads):
    x = _test_snapshots(beads)
    a, d = CHAIN.drift, np.diag(CHAIN.diffusion)
    b = x @ a.T
    static = ((b ** 2 / d).sum(1) + np.trace(a)).mean()
    v = b + x @ np.linalg.inv(CHAIN.covariance) * d          # b - D s*, s* = -C^-1 x
    s = fitted.summary
    assert s["static_rate"] == pytest.approx(static, rel=1e-5)
    assert s["exact_score_rate"] == pytest.approx((v ** 2 / d).sum(1).mean(), rel=1e-5)
    assert s["exact_score_densities"] == pytest.approx((v ** 2 / d).mean(0), rel=1e-5)
    # both estimate the exact sigma, within a few of their errors
    assert abs(s["static_rate"] - CHAIN.ep_rate) < 4 * s["static_rate_err"]
    assert abs(s["exact_score_rate"] - CHAIN.ep_rate) < 4 * s["exact_score_rate_err"]


def test_a_short_fit_learns_the_score_and_reports_every_result(fitted):
    s = fitted.summary
    # loose: 300 steps; the benchmark holds the 2% target
    assert s["ep_rate"] == pytest.approx(s["exact_score_rate"], rel=0.15)
    assert s["densities"] == pytest.approx(s["exact_score_densities"], rel=0.3)
    assert sum(s["densities"]) == pytest.approx(s["ep_rate"], rel=1e-6)
    assert s["bounds"]["upper"] is None
    assert s["bounds"]["lower"] < s["exact_score_rate"] + 3 * s["exact_score_rate_err"]
    assert s["particle_densities"] == pytest.approx(s["densities"])
    current = s["current"]
    assert np.asarray(current["current"]).shape == (24, 24, 2) and current["axes"] == ["x1", "x2"]
    assert sum(s["binned"]["distance"]["count"]) == 2 * s["snapshots"]["test"]
    assert s["training"]["network"]["network"] == "mlp" and s["ep_rate_err"] > 0
    assert s["device"].startswith(resolve_device("auto").type)    # trained on the GPU when there is one
    # an estimate of sigma itself from snapshots: the two-frame ceiling of transitions does not bound it
    truth = s["truth"]
    assert "sigma_2pt" not in truth and truth["rel_err_sigma"] == pytest.approx(s["ep_rate"] / CHAIN.ep_rate - 1)
    validations = [e for e in fitted.history if e.val_loss is not None]
    assert all(np.isfinite(e.val_lower) and e.val_upper is None for e in validations)   # a bound, no upper one
    assert "particles" not in s     # the chain's beads move along one axis: no plane to draw them in
    assert current["noiseless"] is False
    # The verdict is the lower bound's: the direct rate is positive for any network. Frames one relaxation time
    # apart do not resolve single transitions: their rate is a sixth of the estimate's, and not compared with the truth.
    assert s["p_equilibrium"] == bound_test(s["bounds"]["lower"], s["lower_bound_err"])["p_equilibrium"] < 1e-6
    assert s["transitions"]["resolved"] is False and s["transitions"]["ep_rate"] < s["ep_rate"] / 3
    assert "r2" not in truth and "block" not in s
    # four validations in 300 steps: too few to show the validation rate had settled, whichever network was kept
    assert s["converged"] is False and any("too few to show" in w for w in s["warnings"])


def test_at_equilibrium_the_lower_bound_finds_no_dissipation_and_frames_close_in_time_resolve_transitions(capsys):
    # equal temperatures: sigma = 0, frames a tenth of the slowest relaxation time apart
    data = simulate_bead_spring_trajectories(BeadSpringChain(beads=2, tc=1, th=1, dt=0.1), trajectories=20,
                                             frames=500, seed=0)
    s = train(data, TrainConfig(**FAST), closed_form=ModelKnownConfig(bootstrap=50)).summary
    assert s["p_equilibrium"] > 0.05 and s["noise_floor"] == pytest.approx(Z_95 * s["lower_bound_err"])
    assert "no dissipation detected" in describe(s) and s["ep_rate"] > 0    # |v|^2 of the network's error
    assert "the lower bound on the EP rate is not above 0" in advice(s)[-1]
    assert s["transitions"]["resolved"] is True and "r2" in s["truth"]


def test_the_cli_reports_snapshots_and_summarises_many_densities(tmp_path, capsys):
    data = _discs(16, frames=4, runs=10)
    save_trajectories(data, tmp_path / "discs.npz")
    assert main(["train", str(tmp_path / "discs.npz"), "--method", "score", "--iters", "2", "--batch", "4",
                 "--width", "8", "--blocks", "1", "--neighbours", "4", "--bootstrap", "10", "-q",
                 "-o", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert f"on {s['test_windows']} held-out snapshots" in out and "lower bound" in out
    per = np.asarray(s["particle_densities"])
    assert f"per particle: mean {per.mean():.3g}, {per.min():.3g} to {per.max():.3g} k_B/s over 16" in out
    assert "EP of single transitions" in out and "per coordinate" not in out


def test_the_run_folder_keeps_the_network_which_a_later_run_starts_from(beads, tmp_path):
    first = train(beads, TrainConfig(**FAST), closed_form=ModelKnownConfig(bootstrap=20), run_dir=tmp_path / "a")
    assert (tmp_path / "a" / "network.pt").is_file()
    again = load_run(tmp_path / "a")
    assert again.closed_form == ModelKnownConfig(bootstrap=20) and again.config.iterations == 300
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["static_rate"] == first.summary["static_rate"]
    # a run saved when the equilibrium test was the transitions' is judged by its lower bound once reopened
    path = tmp_path / "a" / "summary.json"
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "transitions"}
                               | {"p_equilibrium": 0.42}))
    reopened, t = load_run(tmp_path / "a").summary, first.summary["transitions"]
    assert reopened["p_equilibrium"] == first.summary["p_equilibrium"]
    assert reopened["warnings"] == first.summary["warnings"]
    assert reopened["transitions"] == {"ep_rate": pytest.approx(t["ep_rate"], rel=1e-5),
                                       "ep_rate_err": pytest.approx(t["ep_rate_err"], rel=1e-3), "resolved": False}
    later = train(beads, TrainConfig(**{**FAST, "iterations": 1}),
                  closed_form=ModelKnownConfig(bootstrap=20, start_from=str(tmp_path / "a")))
    # validated before any step: the network started from is kept unless a step improves it
    assert later.summary["start_rate"] == pytest.approx(first.history[-1].val_rate or later.summary["start_rate"])
    assert later.summary["ep_rate"] == pytest.approx(first.summary["ep_rate"], rel=0.02)
    # the network started from, if kept, was judged in its own run; a step's network, on two validations, is not settled
    kept = later.summary["training"]["best_iteration"] == 0
    assert kept == any("network started from" in w for w in later.summary["warnings"])
    assert later.summary["converged"] is (None if kept else False)


def test_a_drift_file_and_an_sfi_run_give_the_drift(beads, tmp_path):
    path = tmp_path / "chain.py"
    path.write_text(LINEAR_DRIFT)
    x = torch.as_tensor(np.asarray(beads.data[0, :50]), dtype=torch.float32)
    from_file, own = drift_model(beads, str(path)), drift_model(beads)
    assert torch.allclose(from_file.drift(x), own.drift(x), atol=1e-5)
    assert list(from_file.diffusion) == [1.0, 10.0]
    fine = simulate_bead_spring_trajectories(BeadSpringChain(dt=0.01), trajectories=10, frames=5000, seed=1)
    train(fine, TrainConfig(model="sfi"), closed_form=ClosedFormConfig(bootstrap=20), run_dir=tmp_path / "sfi")
    inferred = drift_model(fine, str(tmp_path / "sfi"))
    a = inferred.drift(torch.eye(2)).numpy().T - inferred.drift(torch.zeros(1, 2)).numpy().T
    assert a == pytest.approx(BeadSpringChain().drift, abs=0.6)   # about 3 errors of the hot bead's row
    assert inferred.diffusion == pytest.approx([1, 10], rel=0.1)


def test_the_particle_transformer_is_permutation_equivariant_and_takes_any_number_of_particles():
    torch.manual_seed(0)
    net = ParticleTransformer(k=4, dims=2, scale=2.9, feature_std=np.array([0.5, 2.0]), width=16, blocks=1,
                              neighbours=4)
    layout = lambda n: np.concatenate([np.arange(2 * n).reshape(n, 2), 2 * n + np.arange(2 * n).reshape(n, 2)], 1)  # noqa: E731
    z = torch.randn(3, 4 * 6)
    s = net.set_layout(layout(6))(z)
    order = np.array([3, 0, 5, 1, 4, 2])
    shuffle = np.concatenate([layout(6)[order, :2].ravel(), layout(6)[order, 2:].ravel()])
    assert torch.allclose(net(z[:, shuffle]), s[:, shuffle], atol=1e-5)
    # its divergence (in the data's units, whatever the scales) is autograd's of the whole state
    zg = z.clone().requires_grad_(True)
    np.testing.assert_allclose(net.diagonal(z).numpy(), diagonal_jacobian(net(zg), zg).detach().numpy(), atol=1e-5)
    assert net.set_layout(layout(9))(torch.randn(2, 4 * 9)).shape == (2, 36)


def test_interacting_aoups_train_the_transformer_on_their_whole_state():
    model = TrappedAOUP(particles=8, dims=2)
    data = aoup(model, Repulsion(), Integration(burn_in=10.0, time_step=0.02), ParticleRenderer(),
                ActiveSampling(trajectories=10, frames=20, seed=0, propulsion=True))
    run = train(data, TrainConfig(model="score", iterations=2, eval_every=1, batch=16),
                closed_form=ModelKnownConfig(bootstrap=10, width=16, blocks=1, neighbours=4))
    s = run.summary
    assert s["training"]["network"]["network"] == "transformer" and len(s["particle_densities"]) == 8
    assert s["training"]["network"]["scale"] == Repulsion().radius   # positions in radii, not in their spread
    assert s["training"]["network"]["force_std"] == []                # every coordinate noisy: no forces given
    assert "packing_fraction" in s["binned"] and np.isfinite(s["static_rate"])
    # One test snapshot's particles in the plane with their EP there.
    first = np.asarray(data.data)[assign_parts(10, 20, 0.2, 0.2, 2) == PARTS.index("test")][0]
    shown = s["particles"]
    np.testing.assert_allclose(shown["positions"], first[:16].reshape(8, 2))
    assert len(shown["ep_rate"]) == 8 and min(shown["ep_rate"]) >= 0 and shown["radius"] == Repulsion().radius
    # Every validation shows the lower bound, and the network kept is the one where it was highest.
    validations = [e for e in run.history if e.phase == "validation"]
    assert len(validations) == 3 and all(np.isfinite(e.val_lower) for e in validations)
    assert s["training"]["best_iteration"] == max(validations, key=lambda e: e.val_lower).iteration


def test_position_noise_blurs_the_positions_in_radii_and_the_other_coordinates_in_standard_deviations(
        tmp_path, capsys, beads):
    data = aoup(TrappedAOUP(particles=3, v0=0.5, dt=0.5), Repulsion(radius=0.7), Integration(burn_in=5.0),
                ParticleRenderer(), ActiveSampling(trajectories=2, frames=3, seed=1, propulsion=True))
    model = drift_model(data)
    std = np.linspace(1.0, 3.0, model.n)
    positions = model.layout[:, :2].ravel()
    sigma = _blur(ModelKnownConfig(noise=0.03, position_noise=0.05), model, std)
    np.testing.assert_allclose(sigma[positions], 0.05 * 0.7)
    others = np.setdiff1d(np.arange(model.n), positions)
    np.testing.assert_allclose(sigma[others], 0.03 * std[others])
    np.testing.assert_allclose(_blur(ModelKnownConfig(noise=0.03), model, std), 0.03 * std)
    # coordinates without a particle's radius: refused in one line
    err = _refusal(capsys, save_trajectories(beads, tmp_path / "beads.npz"), "--method", "score",
                   "--position-noise", "0.05")
    assert "radius" in err and "--noise" in err


def _refusal(capsys, *argv) -> str:
    assert main(["train", *map(str, argv), "-o", str(argv[0]) + ".run", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("cneep: error: ")
    return err


@pytest.mark.parametrize("text, problem", [
    ("import nonexistent_module_xyz\n", "fails to import (ModuleNotFoundError"),
    ("D = 1.0\ndef drift(x, y):\n    return x\n", "drift(x) failed"),
    ("import torch\nD = 1.0\ndef drift(x):\n    return x[:, :1]\n", "of the shape and type of x"),
    ("D = 1.0\n", "must define a function drift(x)"),
    ("import torch\nD = [1.0, 2.0, 3.0]\ndef drift(x):\n    return -x\n", "D has 3 entries"),
])
def test_a_bad_drift_file_is_one_line_naming_it(tmp_path, capsys, beads, text, problem):
    data = save_trajectories(beads, tmp_path / "beads.npz")
    drift = tmp_path / "bad.py"
    drift.write_text(text)
    err = _refusal(capsys, data, "--method", "score", "--drift", drift)
    assert str(drift) in err and problem in err


def test_data_without_a_known_drift_and_nan_snapshots_are_refused(tmp_path, capsys, beads):
    np.savetxt(tmp_path / "tracks.csv", np.asarray(beads.data[0, :300]), delimiter=",", header="x1,x2", comments="")
    err = _refusal(capsys, tmp_path / "tracks.csv", "--method", "score")
    assert "no known drift" in err and "--drift" in err
    drift = tmp_path / "chain.py"
    drift.write_text(LINEAR_DRIFT)
    bad = np.asarray(beads.data).copy()
    bad[3, 7, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    err = _refusal(capsys, tmp_path / "nan.npy", "--kind", "coordinates", "--method", "score", "--drift", drift)
    assert "nan.npy" in err and "NaN" in err
    positions = aoup(TrappedAOUP(particles=1), Repulsion(), Integration(), ParticleRenderer(),
                     ActiveSampling(trajectories=3, frames=20))
    with pytest.raises(CneepError, match="propulsion"):
        drift_model(positions)


def _discs(n: int, propulsion: bool = True, frames: int = 12, runs: int = 3, eps: float = 0.0):
    # a few hundred steps from a uniform start: contacts, not phases; enough to check the drift and the estimator
    return simulate_mips(ActiveDiscs(particles=n, v0=0.5, gamma=0.05, eps=eps), DiscRepulsion(),
                         SnapshotSampling(trajectories=runs, frames=frames, interval=5.0, burn_in=20.0,
                                          propulsion=propulsion, seed=n))


def test_the_trapped_aoups_drift_has_its_divergence_in_closed_form_and_gives_the_simulations_sigma_a():
    data = aoup(TrappedAOUP(particles=6, v0=0.5, dt=0.5), Repulsion(), Integration(burn_in=5.0), ParticleRenderer(),
                ActiveSampling(trajectories=3, frames=5, seed=1, propulsion=True))
    model, p = drift_model(data), data.truth.params
    z = torch.as_tensor(np.asarray(data.data, np.float64).reshape(15, -1), dtype=torch.float32)
    b, div = model.drift_and_divergence(z)
    zt = z.clone().requires_grad_(True)
    np.testing.assert_allclose(div.numpy(), diagonal_jacobian(model.drift(zt), zt).detach().numpy(), atol=1e-4)
    # the static formula <|b_x|^2> / eps + <div_x b_x> over the written snapshots: the sidecar's sigma_A
    static = (b[:, :12] ** 2).sum(1) / p["eps"] + div[:, :12].sum(1)
    assert float(static.double().mean()) == pytest.approx(p["sigma_A"], rel=1e-4)


def test_the_mips_drift_is_the_simulations_periodic_force_with_its_divergence_and_noiseless_positions():
    data = _discs(64)
    model, p = drift_model(data), data.truth.params
    n = p["particles"]
    assert model.box == p["box"] and model.radius == 1.0 and model.dims == 2
    assert list(model.diffusion) == [0.0] * 2 * n + [p["gamma"]] * 2 * n   # convention B: eps = 0
    z = np.asarray(data.data[1, :4], np.float64)
    x, g = z[:, :2 * n].reshape(4, n, 2), z[:, 2 * n:].reshape(4, n, 2)
    pairs = np.triu_indices(n, 1)
    exact = [pair_forces(xs, *pairs, p["box"], DiscRepulsion(), divergence=True) for xs in x]
    b, div = model.drift_and_divergence(torch.as_tensor(z, dtype=torch.float32))
    force = np.stack([f for f, _ in exact])
    np.testing.assert_allclose(b[:, :2 * n].numpy(), (p["v0"] * g + force).reshape(4, -1), atol=2e-5)
    np.testing.assert_allclose(b[:, 2 * n:].numpy(), -p["gamma"] * g.reshape(4, -1), rtol=1e-6)
    # the closed-form divergence: per coordinate as autograd's, per particle as the simulation's
    zt = torch.as_tensor(z, dtype=torch.float32).requires_grad_(True)
    np.testing.assert_allclose(div.numpy(), diagonal_jacobian(model.drift(zt), zt).detach().numpy(), atol=1e-4)
    per_particle = div[:, :2 * n].numpy().reshape(4, n, 2).sum(-1)
    np.testing.assert_allclose(per_particle, np.stack([d for _, d in exact]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(-per_particle, data.truth.particles["heat"][1, :4], rtol=1e-4, atol=1e-4)
    with pytest.raises(CneepError, match="--propulsion"):
        drift_model(_discs(16, propulsion=False, frames=2))


def test_the_periodic_transformer_sees_nearest_images_and_is_invariant_under_shifts_and_permutations():
    torch.manual_seed(0)
    n, box = 8, 6.0
    layout = np.concatenate([np.arange(2 * n).reshape(n, 2), 2 * n + np.arange(2 * n).reshape(n, 2)], 1)
    net = ParticleTransformer(k=4, dims=2, scale=1.0, feature_std=np.ones(2), width=16, blocks=1, neighbours=5,
                              box=box).set_layout(layout, box)
    z = torch.cat([torch.rand(2, 2 * n) * box, torch.randn(2, 2 * n)], 1)
    s = net(z)
    order = np.random.default_rng(1).permutation(n)
    shuffle = np.concatenate([layout[order, :2].ravel(), layout[order, 2:].ravel()])
    assert torch.allclose(net(z[:, shuffle]), s[:, shuffle], atol=1e-5)
    shifted = z.clone()
    shifted[:, :2 * n] = (shifted[:, :2 * n] + torch.tensor([2.5, -4.0]).repeat(n)) % box   # all, wrapped
    assert torch.allclose(net(shifted), s, atol=1e-4)
    moved = z.clone()
    moved[:, 0] += box                                    # one particle by a box side, across the edge
    moved[:, 2 * n - 1] -= 2 * box
    assert torch.allclose(net(moved), s, atol=1e-4)
    # its divergence, from one backward pass per coordinate of a particle, is autograd's of the whole state
    zg = z.clone().requires_grad_(True)
    np.testing.assert_allclose(net.diagonal(z).numpy(), diagonal_jacobian(net(zg), zg).detach().numpy(), atol=1e-5)
    # without the box, particles across an edge are far apart: the same configuration scores differently
    plain = ParticleTransformer(k=4, dims=2, scale=1.0, feature_std=np.ones(2), width=16, blocks=1, neighbours=5)
    plain.load_state_dict({k: v for k, v in net.state_dict().items()}, strict=False)
    assert not torch.allclose(plain.set_layout(layout)(moved), plain(z), atol=1e-3)


def test_the_transformer_of_discs_with_noiseless_positions_is_given_the_force_on_each():
    data = _discs(64)
    model, p = drift_model(data), data.truth.params
    n, box = p["particles"], p["box"]
    z = torch.as_tensor(np.asarray(data.data[0, :3]), dtype=torch.float32)
    forces = _forces(model)
    given = forces(z)
    pairs = np.triu_indices(n, 1)
    exact = np.stack([pair_forces(x, *pairs, box, DiscRepulsion()) for x in
                      np.asarray(data.data[0, :3])[:, :2 * n].reshape(3, n, 2)])
    np.testing.assert_allclose(given[..., :2].numpy(), exact, atol=2e-5)   # the interaction force on each disc
    assert not given[..., 2:].any()                                        # the propulsions' drift at g = 0
    other_g = z.clone()
    other_g[:, 2 * n:] = torch.randn(3, 2 * n)
    assert torch.equal(forces(other_g), given)                             # a function of the positions only
    torch.manual_seed(0)
    net = ParticleTransformer(k=4, dims=2, scale=1.0, feature_std=np.ones(2), width=16, blocks=1, neighbours=5,
                              box=box, force_std=np.full(4, 0.1)).set_layout(model.layout, box)
    with pytest.raises(CneepError, match="forces"):
        net(z)
    s = net.set_forces(forces)(z)
    assert not torch.allclose(net.set_forces(lambda x: 2 * forces(x))(z), s, atol=1e-3)   # the score sees them
    net.set_forces(forces)
    order = np.random.default_rng(1).permutation(n)
    shuffle = np.concatenate([model.layout[order, :2].ravel(), model.layout[order, 2:].ravel()])
    assert torch.allclose(net(z[:, shuffle]), s[:, shuffle], atol=1e-4)
    # its divergence in the propulsions needs no term for the forces: autograd's of the whole state
    noisy = model.diffusion > 0
    zg = z.clone().requires_grad_(True)
    np.testing.assert_allclose(net.diagonal(z, columns=noisy).numpy(),
                               diagonal_jacobian(net(zg), zg, columns=noisy).detach().numpy(), atol=1e-4)
    assert _forces(drift_model(_discs(16, frames=2, eps=0.01))) is None   # every coordinate noisy: none given


def test_mips_snapshots_train_the_periodic_transformer_on_the_propulsions_score_and_move_to_more_discs(tmp_path):
    data = _discs(64, frames=6, runs=10)
    config = TrainConfig(model="score", iterations=2, eval_every=1, batch=8)
    settings = ModelKnownConfig(bootstrap=10, width=16, blocks=1, neighbours=6)
    run = train(data, config, closed_form=settings, run_dir=tmp_path / "n64")
    s = run.summary
    assert s["training"]["network"]["box"] == data.truth.params["box"]
    assert len(s["training"]["network"]["force_std"]) == 4     # given each disc's force, standardised
    assert np.all(np.asarray(s["densities"][:128]) == 0)        # noiseless positions carry no EP of their own
    assert s["current"]["noiseless"] is True                    # nor a current that carries EP
    # the static value of convention B: -<div_x b_x> (the simulation's heat) plus gamma <|g|^2 - 2N>, mean zero
    test = np.asarray(data.data)[assign_parts(10, 6, 0.2, 0.2, 2) == PARTS.index("test")]
    heat = data.truth.particles["heat"][assign_parts(10, 6, 0.2, 0.2, 2) == PARTS.index("test")].sum(1)
    gamma = data.truth.params["gamma"]
    expected = np.mean(heat + gamma * ((test[:, 128:] ** 2).sum(1) - 128))
    assert s["static_rate"] == pytest.approx(expected, rel=1e-4)
    assert s["bounds"]["lower"] <= s["static_rate"] + 3 * s["static_rate_err"] + 3 * s["lower_bound_err"]
    larger = _discs(100, frames=3, runs=10)
    moved = train(larger, TrainConfig(model="score", iterations=1, batch=4),
                  closed_form=ModelKnownConfig(bootstrap=10, start_from=str(tmp_path / "n64")))
    m = moved.summary
    assert np.isfinite(m["start_rate"]) and len(m["particle_densities"]) == 100
    assert m["training"]["network"]["box"] == larger.truth.params["box"]
    # a network of a periodic box does not start a trapped system
    trapped = aoup(TrappedAOUP(particles=8, dims=2), Repulsion(), Integration(burn_in=1.0, time_step=0.02),
                   ParticleRenderer(), ActiveSampling(trajectories=4, frames=10, propulsion=True))
    with pytest.raises(CneepError, match="periodic box"):
        train(trapped, TrainConfig(model="score", iterations=1, batch=4),
              closed_form=ModelKnownConfig(bootstrap=10, start_from=str(tmp_path / "n64")))
    # nor discs whose positions are noisy: no force to give it
    with pytest.raises(CneepError, match="network.pt: a network given the forces"):
        train(_discs(64, frames=3, runs=10, eps=0.01), TrainConfig(model="score", iterations=1, batch=4),
              closed_form=ModelKnownConfig(bootstrap=10, start_from=str(tmp_path / "n64")))


def test_the_transformers_exact_divergence_loss_is_autograds_of_the_whole_state_and_so_are_its_gradients():
    data = _discs(64)
    model = drift_model(data)
    z = torch.as_tensor(np.asarray(data.data[0, :2]), dtype=torch.float32)
    torch.manual_seed(0)
    net = ParticleTransformer(k=4, dims=2, scale=1.0, feature_std=np.ones(2), width=16, blocks=1, neighbours=5,
                              box=model.box, force_std=np.full(4, 0.1)).set_layout(model.layout, model.box)
    net.set_forces(_forces(model))
    d = torch.as_tensor(model.diffusion, dtype=torch.float32)
    d_inv, weight = torch.where(d > 0, 1 / d, 0.0), (d > 0).float() * 0.7
    loss = _divergence(model, d_inv, weight)(net, z, None)
    zg = z.clone().requires_grad_(True)
    with sdpa_kernel(SDPBackend.MATH):    # fused attention has no second derivative
        s = model.drift(zg) * d_inv + net(zg)
        whole = (weight * (s ** 2 + 2 * diagonal_jacobian(s, zg, create_graph=True, columns=(d > 0).numpy()))).sum(1)
    params = [p for p in net.parameters() if p.requires_grad]
    assert loss.item() == pytest.approx(whole.mean().item(), rel=1e-5)
    for mine, theirs in zip(torch.autograd.grad(loss, params, allow_unused=True),
                            torch.autograd.grad(whole.mean(), params, allow_unused=True)):
        if theirs is None:
            assert mine is None or not mine.any()
        else:
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)
