"""Training-free TUR and SFI estimators against the bead-spring chain's exact values, and their run summary."""

import json

import numpy as np
import pytest

from cneep_engine import CneepError, TrainConfig, load_run, simulate_ratchet, train
from cneep_engine.cli import main
from cneep_engine.estimators import ClosedFormConfig, default_split, estimate_sfi, estimate_tur
from cneep_engine.export import open_run, save_run
from cneep_engine.io import save_trajectories
from cneep_engine.synth import BeadSpringChain, simulate_bead_spring_trajectories
from cneep_engine.trajectories import Trajectories

CHAINS = {"N=2": BeadSpringChain(beads=2, tc=1, th=10, dt=0.01), "N=5": BeadSpringChain(beads=5, tc=1, th=10, dt=0.01),
          "equilibrium": BeadSpringChain(beads=2, tc=1, th=1, dt=0.01)}


@pytest.fixture(scope="module")
def beads():
    # 50 trajectories of 10^4 frames: the 10 held-out ones observe 1000 time units.
    return {name: simulate_bead_spring_trajectories(chain, trajectories=50, frames=10_000, seed=3)
            for name, chain in CHAINS.items()}


def _velocity(chain: BeadSpringChain) -> np.ndarray:
    """The exact mean phase-space velocity v(x) = V x of the chain, V = A + D C^-1."""
    return chain.drift + chain.diffusion @ np.linalg.inv(chain.covariance)


@pytest.mark.parametrize("name", ["N=2", "N=5"])
def test_tur_reaches_its_infinite_data_value_and_bounds_sigma(beads, name):
    chain, est = CHAINS[name], estimate_tur(beads[name], None)
    assert est.lower_bound and est.debiased_rate is None
    assert abs(est.rate - chain.tur_rate_linear) < 3 * est.rate_err
    assert chain.tur_rate_linear < chain.ep_rate_two_frame < chain.ep_rate
    assert 0 < est.rate_err < 0.15 * chain.ep_rate
    assert est.transitions == 10 * 9999 and est.blocks >= 10


@pytest.mark.parametrize("name", ["N=2", "N=5"])
def test_sfi_reaches_its_infinite_data_value_with_given_or_estimated_diffusion(beads, name):
    chain = CHAINS[name]
    given = estimate_sfi(beads[name], None, diffusion=chain.diffusion)
    estimated = estimate_sfi(beads[name], None)
    assert abs(given.debiased_rate - chain.projected_ep_rate()) < 3 * given.rate_err
    assert abs(estimated.debiased_rate - chain.projected_ep_rate(estimated_diffusion=True)) < 3 * estimated.rate_err
    n, tau = chain.beads, 10 * 9999 * chain.dt
    assert given.rate - given.debiased_rate == pytest.approx(n * (n - 1) / tau)
    np.testing.assert_array_equal(given.coefficients["diffusion"], chain.diffusion)
    # D from the increments: within a few percent of the true one on 10^5 steps
    np.testing.assert_allclose(np.diag(estimated.coefficients["diffusion"]), np.diag(chain.diffusion), rtol=0.05)


def test_one_long_trajectory_is_split_in_time_and_bootstrapped_in_blocks():
    chain = CHAINS["N=2"]
    traj = simulate_bead_spring_trajectories(chain, trajectories=1, frames=100_000, seed=4)
    assert (default_split(traj)[0, -20_000:] == 2).all()
    for est, limit in ((estimate_tur(traj, None), chain.tur_rate_linear),
                       (estimate_sfi(traj, None, diffusion=chain.diffusion), chain.projected_ep_rate())):
        assert est.transitions == 19_999 and 10 <= est.blocks <= 200
        rate = est.rate if est.debiased_rate is None else est.debiased_rate
        assert abs(rate - limit) < 3 * est.rate_err < 0.3 * limit


def test_the_inferred_fields_are_the_chains_velocity_and_force(beads):
    chain = CHAINS["N=2"]
    v = _velocity(chain)
    tur, sfi = estimate_tur(beads["N=2"], None), estimate_sfi(beads["N=2"], None, diffusion=chain.diffusion)
    # Entries of order 1 (v up to 2.7), each estimated from 10^5 noisy steps
    np.testing.assert_allclose(sfi.coefficients["velocity"], v, atol=0.15 * np.abs(v).max())
    force = np.linalg.solve(chain.diffusion, v)
    np.testing.assert_allclose(tur.coefficients["force"], force, atol=0.15 * np.abs(force).max())
    assert np.abs(tur.coefficients["force_offset"]).max() < 0.05
    assert np.abs(sfi.coefficients["velocity_offset"]).max() < 0.2


def test_at_equilibrium_both_are_zero_within_their_errors(beads):
    chain = CHAINS["equilibrium"]
    assert chain.ep_rate == pytest.approx(0, abs=1e-12) and chain.tur_rate_linear == 0
    tur = estimate_tur(beads["equilibrium"], None)
    assert abs(tur.rate) < 3 * tur.rate_err
    for diffusion in (None, chain.diffusion, "noise-robust"):
        sfi = estimate_sfi(beads["equilibrium"], None, diffusion=diffusion)
        assert sfi.rate > 0 and abs(sfi.debiased_rate) < 3 * sfi.rate_err


def test_noise_robust_diffusion_ignores_localisation_noise(beads):
    """Independent noise of s on every position adds s^2 / dt to <dx dx^T> / (2 dt), which lowers the plug-in
    rate, but cancels against the neighbouring increments."""
    chain, traj = CHAINS["N=2"], beads["N=2"]
    noisy = Trajectories(data=traj.data + 0.1 * np.random.default_rng(0).standard_normal(traj.data.shape),
                         dt=traj.dt)
    clean, plain = estimate_sfi(traj, None), estimate_sfi(noisy, None)
    robust = estimate_sfi(noisy, None, diffusion="noise-robust")
    excess = np.diag(plain.coefficients["diffusion"] - clean.coefficients["diffusion"])
    np.testing.assert_allclose(excess, 0.1 ** 2 / chain.dt, rtol=0.15)
    np.testing.assert_allclose(np.diag(robust.coefficients["diffusion"]), np.diag(chain.diffusion), rtol=0.05)
    assert plain.rate < clean.rate - 3 * clean.rate_err
    assert abs(robust.rate - clean.rate) < 3 * clean.rate_err


def test_rates_do_not_depend_on_where_the_origin_is(beads):
    """Coordinates far from 0 (a stage position in micrometres) give the same rates and the same fields."""
    traj = beads["N=2"]
    shift = np.array([1000.0, -250.0])
    moved = Trajectories(data=traj.data + shift, dt=traj.dt)
    for estimate in (estimate_tur, estimate_sfi):
        a, b = estimate(traj, None), estimate(moved, None)
        assert b.rate == pytest.approx(a.rate, rel=1e-6) and b.rate_err == pytest.approx(a.rate_err, rel=1e-4)
    a, b = estimate_tur(traj, None), estimate_tur(moved, None)
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(b.coefficients["force"] @ (x + shift) + b.coefficients["force_offset"],
                               a.coefficients["force"] @ x + a.coefficients["force_offset"], atol=1e-6)


def test_the_split_is_the_one_a_training_run_uses(beads):
    """Weights from the training and validation trajectories, the rate from the 10 held-out ones: changing
    anything outside the held-out part changes TUR only through its weights, SFI not at all."""
    traj = beads["N=2"]
    split = default_split(traj)
    assert (split[-10:] == 2).all() and (split[:-10] < 2).all()
    scrambled = traj.data.copy()
    scrambled[:40] = scrambled[:40, ::-1]    # time-reversed training data: the TUR weights flip sign
    other = Trajectories(data=scrambled, dt=traj.dt)
    assert estimate_sfi(other, split).rate == estimate_sfi(traj, split).rate
    assert estimate_tur(other, split).rate == pytest.approx(-estimate_tur(traj, split).rate, rel=1e-6)


def test_bad_input_is_one_clear_error(beads):
    states = simulate_ratchet(trajectories=3, steps=2000)
    for estimate in (estimate_tur, estimate_sfi):
        with pytest.raises(CneepError, match="coordinates"):
            estimate(states, None)
        with pytest.raises(CneepError, match="split"):
            estimate(beads["N=2"], np.zeros((2, 5), np.int8))
    short = Trajectories(data=np.random.default_rng(0).standard_normal((1, 12, 2)), dt=0.1)
    with pytest.raises(CneepError, match="too few"):
        estimate_sfi(short, np.r_[np.zeros(11), 2].astype(np.int8)[None])
    with pytest.raises(CneepError, match="positive definite"):
        estimate_sfi(beads["N=2"], None, diffusion=[1.0, -1.0])
    nan = Trajectories(data=np.where(np.arange(20)[None, :, None] == 5, np.nan, 1.0) * np.ones((3, 20, 2)), dt=1.0)
    with pytest.raises(CneepError, match="NaN"):
        estimate_tur(nan, None)


def test_cli_method_writes_the_run(tmp_path, capsys):
    traj = simulate_bead_spring_trajectories(CHAINS["N=2"], trajectories=10, frames=2000, seed=3)
    path = save_trajectories(traj, tmp_path / "beads.npz")
    run = tmp_path / "run"
    run.mkdir()
    (run / "model_seed0.pt").write_bytes(b"an earlier neural run")
    assert main(["train", str(path), "--method", "sfi", "-o", str(run)]) == 0
    s = json.loads((run / "summary.json").read_text())
    assert not (run / "model_seed0.pt").exists() and (run / "ep_trace.csv").is_file()
    assert s["method"] == "sfi" and s["ep_rate"] > s["debiased_rate"] > 0 and s["ep_rate_err"] > 0
    assert s["truth"]["sigma"] == pytest.approx(CHAINS["N=2"].ep_rate)
    assert s["truth"]["rel_err_sigma"] == pytest.approx(s["ep_rate"] / s["truth"]["sigma"] - 1)
    assert np.array(s["coefficients"]["velocity"]).shape == (2, 2)
    assert main(["train", str(path), "--method", "tur", "-o", str(run), "--test-fraction", "0.4"]) == 0
    s = json.loads((run / "summary.json").read_text())
    assert s["method"] == "tur" and "debiased_rate" not in s and s["test_windows"] == 4 * 1999
    assert "sfi" in capsys.readouterr().out
    assert main(["train", str(path), "--model", "sfi", "-o", str(run)]) == 0     # --model: the old name
    assert json.loads((run / "summary.json").read_text())["method"] == "sfi"
    states = save_trajectories(simulate_ratchet(trajectories=3, steps=2000), tmp_path / "states.npz")
    assert main(["train", str(states), "--method", "tur", "-o", str(tmp_path / "r2")]) == 2
    assert "states.npz: tur reads coordinate trajectories, not state series; for state series use neep or rneep" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["tur", "sfi"])
def test_a_closed_form_is_a_run_with_a_per_transition_ep_and_a_verdict(beads, method):
    chain, traj = CHAINS["N=2"], beads["N=2"]
    run = train(traj, TrainConfig(model=method, iterations=7, hidden=3), closed_form=ClosedFormConfig(bootstrap=100))
    s = run.summary
    est = (estimate_tur if method == "tur" else estimate_sfi)(traj, None, n_boot=100)
    assert s["ep_rate"] == est.rate and s["ep_rate_err"] == est.rate_err and s["method"] == method
    if method == "tur":
        assert s["lower_bound"] and "debiased_rate" not in s
        assert abs(s["ep_rate"] - chain.tur_rate_linear) < 3 * s["ep_rate_err"]
    else:
        assert s["debiased_rate"] == est.debiased_rate
        assert abs(s["debiased_rate"] - chain.projected_ep_rate(estimated_diffusion=True)) < 3 * s["ep_rate_err"]
    # Every transition has its dS; over the held-out ones it sums to the reported rate.
    test = run.part == 2
    assert run.ds.size == 50 * 9999 and test.sum() == s["test_windows"] == 10 * 9999
    assert run.ds[test].astype(np.float64).mean() / traj.dt == pytest.approx(s["ep_rate"], rel=1e-5)
    assert s["ep_rate_ci95"][0] < s["ep_rate"] < s["ep_rate_ci95"][1]
    assert s["p_equilibrium"] < 0.001 and 0 < s["noise_floor"] < s["ep_rate"] and s["converged"] is None
    # The exact EP of each step is F(x_mid).dx to O(dt^1.5): the estimated force follows it step by step.
    t = s["truth"]
    assert t["sigma"] == pytest.approx(chain.ep_rate) and t["r2"] > 0.99 and abs(t["slope"] - 1) < 0.1
    assert t["rel_err_sigma"] == pytest.approx(s["ep_rate"] / chain.ep_rate - 1)
    assert run.config == TrainConfig(model=method) and run.models == [] and run.history == [] and run.maps is None


def test_at_equilibrium_the_closed_form_runs_find_no_dissipation(beads):
    run = train(beads["equilibrium"], TrainConfig(model="tur"))
    assert run.summary["p_equilibrium"] > 0.05 and abs(run.summary["ep_rate"]) < 3 * run.summary["ep_rate_err"]


def test_a_closed_form_run_folder_reopens_with_its_summary_and_ep(tmp_path):
    traj = simulate_bead_spring_trajectories(CHAINS["N=2"], trajectories=5, frames=2000, seed=5)
    for method in ("tur", "sfi"):
        folder = tmp_path / method
        folder.mkdir()
        (folder / "train_log.csv").write_text("an earlier neural run's log")
        run = train(traj, TrainConfig(model=method, seed=3), run_dir=folder,
                    closed_form=ClosedFormConfig(bootstrap=50, diffusion="noise-robust"))
        again = load_run(folder)
        assert again.summary == json.loads(json.dumps(run.summary)) and again.closed_form == run.closed_form
        np.testing.assert_array_equal(again.ds, run.ds)
        np.testing.assert_allclose(again.true_ds, run.true_ds, rtol=1e-8)   # the CSV keeps 9 digits
        np.testing.assert_array_equal(again.part, run.part)
        assert again.config == run.config and again.models == [] and again.maps is None
        saved = json.loads((folder / "config.json").read_text())
        assert saved["train"] == {"model": method, "seq_len": 2, "val_fraction": 0.2, "test_fraction": 0.2, "seed": 3}
        assert saved["closed_form"] == {"bootstrap": 50, "diffusion": "noise-robust", "components": 8}
        assert not (folder / "train_log.csv").exists()
    save_run(run, traj, tmp_path / "saved")        # trajectories only in memory: saved into the folder
    again, data = open_run(tmp_path / "saved")
    np.testing.assert_array_equal(data.data, traj.data)
    assert again.summary["ep_rate"] == run.summary["ep_rate"] and again.closed_form.diffusion == "noise-robust"
    with pytest.raises(CneepError, match="sfi reads coordinate trajectories, not movies; for movies use cneep or pca-sfi"):
        from cneep_engine import BeadRenderer, simulate_bead_spring
        train(simulate_bead_spring(CHAINS["N=2"], BeadRenderer(), movies=1, frames=30), TrainConfig(model="sfi"))
