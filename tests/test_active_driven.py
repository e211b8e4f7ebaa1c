"""Active particles and small driven systems: exact EP against closed forms, simulations against exact values,
and their files through `cneep simulate`, `cneep info` and the training-free estimators."""

import json
from dataclasses import replace

import numpy as np
import pytest

from cneep_engine.cli import main
from cneep_engine.errors import CneepError
from cneep_engine.synth import (ActivePair, ActiveSampling, BrownianGyrator, CurlTrap, Integration, Repulsion,
                                TiltedRing, TrappedAOUP)
from cneep_engine.synth.aoup_interacting import simulate_interacting_aoup


def _close(value, quoted: str):
    """value agrees with a figure quoted to its last digit."""
    digits = len(quoted.split(".")[1]) if "." in quoted else 0
    return abs(value - float(quoted)) <= 0.5 * 10 ** -digits + 1e-12


@pytest.mark.parametrize("trap, v0, gamma, eps, dims, particles", [
    (0.05, 0.2, 0.1, 0.1, 1, 1), (1, 1, 1, 1, 2, 1), (2, np.sqrt(3), 2, 0.3, 1, 1), (0.05, 0.2, 0.1, 0.1, 2, 8)])
def test_trapped_aoup_closed_forms(trap, v0, gamma, eps, dims, particles):
    m = TrappedAOUP(particles=particles, dims=dims, trap=trap, v0=v0, gamma=gamma, eps=eps)
    n = particles * dims
    assert m.sigma_a == pytest.approx(n * v0 ** 2 * gamma / (eps * (gamma + trap)), rel=1e-6, abs=1e-9)
    assert m.sigma_b == pytest.approx(n * trap, rel=1e-6)          # the hypoelliptic rate: A per component
    assert abs(m.two_frame_rate(m.positions)) < 1e-10              # positions alone: an equilibrium look-alike
    assert m.two_frame_rate() < m.sigma_a


def test_trapped_aoup_velocity_density_and_lyapunov_covariance():
    m = TrappedAOUP(particles=1, dims=1, trap=0.05, v0=0.2, gamma=0.1, eps=0.1)
    assert m.ep_density == pytest.approx([0.234667, 0.032], abs=1e-6)
    c = m.covariance   # Var x = eps/A + v0^2/(A (A + gamma)), Var g = 1
    assert c[0, 0] == pytest.approx(0.1 / 0.05 + 0.04 / (0.05 * 0.15), rel=1e-9) and c[1, 1] == pytest.approx(1)


@pytest.mark.parametrize("gamma, sigma_a, ceiling", [(0.5, "1.0714", "0.0328"), (1, "3.3750", "0.1977"),
                                                     (2, "9.6000", "0.7602"), (5, "32.813", "2.2474"),
                                                     (10, "75.525", "3.2713")])
def test_active_pair_table(gamma, sigma_a, ceiling):
    pair = ActivePair(coupling=1, trap=1, eps=1, gamma=gamma, v0=np.sqrt(9 * gamma), dt=0.01)   # D_a = 9
    assert pair.sigma_a == pytest.approx(float(sigma_a), rel=5e-5)   # quoted to 5 figures
    assert pair.sigma_a == pytest.approx(pair.ep_density.sum(), rel=1e-9)
    assert _close(pair.two_frame_rate(pair.positions), ceiling)
    assert pair.sigma_b == pytest.approx(2 * (1 + 1), rel=1e-9)   # -<div_x b_x> = tr K


def test_active_pair_windows_of_positions_reveal_less_as_they_grow():
    pair = ActivePair(gamma=0.5, v0_first=1, v0=3, eps=0.2)
    assert _close(pair.sigma_a, "11.905")
    for k in (2, 3, 5):   # the whole state is Markov: the same rate from windows of any length
        assert _close(pair.window_rate(k), "11.7784")
    for k, quoted in zip((2, 3, 5, 10, 20), ("0.707", "0.685", "0.646", "0.570", "0.473")):
        assert _close(pair.window_rate(k, pair.positions), quoted)
    x = pair.sample(3, 6, seed=0)[..., pair.positions]
    pairs = pair.window_ep(np.stack([x[:, :-1], x[:, 1:]], axis=2), pair.positions)
    assert pairs == pytest.approx(pair.transition_ep(x, pair.positions), rel=1e-9, abs=1e-12)


def test_gyrator_and_curl_trap_closed_forms():
    for k1, k2, u, t1, t2, gamma in ((1, 2, 0.5, 1, 0.1, 1), (3, 1, -1, 2, 5, 0.5)):
        g = BrownianGyrator(k1=k1, k2=k2, u=u, t1=t1, t2=t2, gamma=gamma)
        assert g.ep_rate == pytest.approx(u ** 2 * (t1 - t2) ** 2 / (gamma * t1 * t2 * (k1 + k2)), rel=1e-6)
    g = BrownianGyrator()
    assert g.ep_rate == pytest.approx(0.675, rel=1e-6)
    assert _close(g.ep_rate_two_frame, "0.6649") and _close(replace(g, dt=0.1).ep_rate_two_frame, "0.5778")
    assert g.ep_density == pytest.approx([0.353571, 0.321429], abs=1e-6)
    assert abs(g.two_frame_rate([0])) < 1e-10 and abs(g.two_frame_rate([1])) < 1e-10
    for diffusivity in (0.5, 3.0):
        c = CurlTrap(k=1, curl=0.3, diffusivity=diffusivity)
        assert c.ep_rate == pytest.approx(2 * 0.3 ** 2 / 1, rel=1e-6)
        assert _close(c.ep_rate_two_frame, "0.1782") and _close(replace(c, dt=0.1).ep_rate_two_frame, "0.1626")
        assert _close(replace(c, dt=0.5).ep_rate_two_frame, "0.1040")
    assert CurlTrap(k=2, curl=0.5).ep_rate == pytest.approx(0.25, rel=1e-6)
    with pytest.raises(CneepError, match="--u 2"):
        BrownianGyrator(u=2)


def test_tilted_ring_rate_and_a_short_simulation_of_its_ep_per_step():
    assert TiltedRing().ep_rate == pytest.approx(0.62997, abs=5e-6)
    assert TiltedRing(force=2, barrier=0, temperature=0.5).ep_rate == pytest.approx(2 ** 2 / 0.5, rel=1e-6)
    assert TiltedRing(force=-1).ep_rate == pytest.approx(0.62997, abs=5e-6)   # the same ring, driven backwards
    ring = TiltedRing()
    x = np.linspace(0, 1, 1001)
    assert np.trapezoid(np.exp(ring.log_density(x)), x) == pytest.approx(1, rel=1e-6)
    _, ds = ring.sample(400, 501, seed=3)
    per_particle = ds.sum(1) / (500 * ring.dt)
    err = per_particle.std(ddof=1) / np.sqrt(len(per_particle))
    assert abs(per_particle.mean() - ring.ep_rate) < 3 * err and err < 0.05


def test_repulsion_divergence_is_that_of_its_force(rng):
    rep = Repulsion()
    x = rng.normal(scale=1.5, size=(2, 4, 2))
    _, div = rep.forces(x, divergence=True)
    h, numeric = 1e-6, np.zeros(2)
    for i in range(4):
        for a in range(2):
            step = np.zeros_like(x)
            step[:, i, a] = h
            numeric += (rep.forces(x + step)[:, i, a] - rep.forces(x - step)[:, i, a]) / (2 * h)
    assert div == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_interacting_aoups_neighbour_list_gives_each_trajectory_its_own_forces():
    # The trajectories share one k-d tree (each in its own layer) and overlap in the plane: the static sigma_A
    # recomputed from the written snapshots with every pair of each trajectory, and none across, is the same.
    model = TrappedAOUP(particles=12, v0=0.5, dt=0.5)
    rep = Repulsion()
    t = simulate_interacting_aoup(model, rep, Integration(burn_in=2), ActiveSampling(trajectories=5, frames=4, seed=2,
                                                                                     propulsion=True))
    z = t.data.reshape(-1, 2, 12, 2)
    x, g = z[:, 0], z[:, 1]
    f, div = rep.forces(x, divergence=True)
    b = model.v0 * g + f - model.trap * x
    static = (b ** 2).sum((1, 2)) / model.eps + div - model.trap * x[0].size
    across = np.sqrt(((x[0][:, None] - x[4][None]) ** 2).sum(-1))   # first snapshots of two trajectories
    assert across.min() < 2    # they would push each other if they shared the plane
    assert t.truth.sigma == pytest.approx(static.mean(), rel=1e-9)
    assert t.truth.params["interaction_cutoff"] == rep.reach


@pytest.mark.parametrize("repulsion", [0.0, 2.5])
def test_interacting_aoups_static_formula_and_medium_sum_agree(repulsion):
    model = TrappedAOUP(particles=3, trap=0.5, v0=1.0, gamma=1.0, eps=0.2, dt=0.02)
    t = simulate_interacting_aoup(model, Repulsion(repulsion=repulsion), Integration(time_step=0.002, burn_in=5),
                                  ActiveSampling(trajectories=16, frames=300, seed=1)).truth
    p = t.params
    both = np.hypot(p["sigma_A_err"], p["sigma_A_medium_err"])
    assert abs(p["sigma_A"] - p["sigma_A_medium"]) < 3 * both
    assert t.sigma == p["sigma_A"] and t.ds.mean() / model.dt == pytest.approx(p["sigma_A_medium"])
    if repulsion == 0:   # free particles: both against the exact rate
        assert abs(p["sigma_A"] - model.sigma_a) < 3 * p["sigma_A_err"]
        assert abs(p["sigma_A_medium"] - model.sigma_a) < 3 * p["sigma_A_medium_err"]


def test_simulate_aoup_then_info_shows_the_truth(tmp_path, capsys):
    one = str(tmp_path / "one.npz")
    assert main(["simulate", "aoup", "--particles", "1", "--trap", "1", "--v0", "1", "--gamma", "1", "--eps", "1",
                 "--frames", "50", "--trajectories", "2", "-o", one]) == 0
    capsys.readouterr()
    assert main(["info", one, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["coordinates"] == 2 and d["labels"] == ["x1", "y1"]          # positions only: the propulsion hidden
    t = d["truth"]
    assert t["sigma"] == t["sigma_A"] == pytest.approx(2 * 0.5) and t["sigma_B"] == pytest.approx(2)
    assert abs(t["sigma_2pt"]) < 1e-10 and t["system"] == "aoup"
    many = str(tmp_path / "many.npz")
    assert main(["simulate", "aoup", "--particles", "3", "--trap", "0.5", "--dims", "1", "--frames", "20",
                 "--trajectories", "2", "--burn-in", "1", "--propulsion", "-o", many]) == 0
    capsys.readouterr()
    assert main(["info", many, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["labels"] == ["x1", "x2", "x3", "gx1", "gx2", "gx3"]
    assert "sigma_2pt" not in d["truth"] and d["truth"]["sigma_A_err"] > 0   # no exact ceiling, an estimate
    assert main(["info", many]) == 0 and "ground truth: sigma " in capsys.readouterr().out


def test_sfi_on_the_gyrator_reaches_its_ceiling_and_sees_nothing_in_a_trapped_aoups_positions(tmp_path, capsys):
    for system, extra, target in (("gyrator", [], BrownianGyrator().ep_rate_two_frame),
                                  ("aoup", ["--particles", "1", "--trap", "1", "--v0", "1", "--gamma", "1",
                                            "--eps", "1", "--dt", "0.01"], 0.0)):
        data = str(tmp_path / f"{system}.npz")
        assert main(["simulate", system, *extra, "--trajectories", "4", "--frames", "10000", "-o", data]) == 0
        assert main(["train", data, "--method", "sfi", "-o", str(tmp_path / f"run_{system}")]) == 0
        s = json.loads((tmp_path / f"run_{system}" / "summary.json").read_text())
        assert abs(s["ep_rate"] - target) < 3 * s["ep_rate_err"] and s["truth"]["sigma_2pt"] == pytest.approx(target)
    # Positions of one trapped AOUP: the best any estimator of them can assign is exactly 0, window by window.
    assert abs(s["truth"]["observed"]["ep_rate"]) < 1e-9 and s["truth"]["sigma"] == pytest.approx(1)
    capsys.readouterr()
