"""NEEP and RNEEP on trajectories: antisymmetry, the alpha loss, training against exact EP, the run folder."""

import json

import numpy as np
import pytest
import torch

from cneep_engine import (BeadSpringChain, CneepError, FlashingRatchet, TrainConfig, load_run,
                          simulate_bead_spring, simulate_bead_spring_trajectories, simulate_ratchet, train)
from cneep_engine.losses import alpha_loss, make_loss, neep_loss
from cneep_engine.models import NEEP, RNEEP
from cneep_engine.training import load_checkpoint, save_checkpoint

FAST = dict(eval_every=50, batch=256, val_samples=5000, patience=0, device="cpu")

NETWORKS = {
    "neep on coordinates": (lambda: NEEP(2, n_coordinates=3, mean=[1, 2, 3], std=[2, 1, 4]), (64, 2, 3)),
    "neep on states": (lambda: NEEP(4, n_states=6, hidden=16), (64, 4)),
    "rneep on states": (lambda: RNEEP(8, n_states=3, hidden=16), (64, 8)),
    "rneep on coordinates": (lambda: RNEEP(5, n_coordinates=2, hidden=16, layers=2), (64, 5, 2)),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_networks_are_odd_under_time_reversal(name):
    make, shape = NETWORKS[name]
    torch.manual_seed(0)
    model = make().eval()
    x = torch.randint(0, model.encoder.n_states, shape) if model.encoder.n_states else torch.randn(shape) * 3
    with torch.no_grad():
        ds, back = model(x), model(x.flip(1))
    assert ds.shape == (64,) and ds.abs().max() > 0
    torch.testing.assert_close(back, -ds, rtol=0, atol=1e-6)
    palindrome = torch.cat([x[:, :2], x[:, :2].flip(1)], 1) if model.seq_len == 4 else x[:, :1].repeat_interleave(
        model.seq_len, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(palindrome), torch.zeros(64), rtol=0, atol=1e-6)


def test_alpha_loss_at_minus_one_half_is_four_exp_minus_half_ds_minus_four():
    ds = torch.linspace(-3, 3, 11)
    torch.testing.assert_close(alpha_loss(ds, -0.5), 4 * torch.exp(-ds / 2) - 4)


@pytest.mark.parametrize("alpha", [-0.5, -0.2, 0.3, None])
def test_every_loss_has_the_log_ratio_as_its_optimum(alpha):
    # Two states a, b: the pair a->b is seen with probability p, b->a with q. With dS(a, b) = d and
    # dS(b, a) = -d, the loss is p f(d) + q f(-d), convex in d; its slope must vanish at d = ln(p / q)
    # and change sign there.
    p, q = 0.7, 0.3
    loss = neep_loss if alpha is None else (lambda ds: alpha_loss(ds, alpha))

    def slope(d: float) -> float:
        d = torch.tensor([d], requires_grad=True)
        (p * loss(d) + q * loss(-d)).backward()
        return float(d.grad)

    best = float(np.log(p / q))
    assert abs(slope(best)) < 1e-6 and slope(best - 0.05) < 0 < slope(best + 0.05)


def test_unusable_losses_are_refused():
    for kw in ({"loss": "alpha", "alpha": 0.0}, {"loss": "alpha", "alpha": -1.0}, {"loss": "kl"}):
        with pytest.raises(CneepError):
            TrainConfig(**kw)
    assert make_loss("neep") is neep_loss


@pytest.fixture(scope="module")
def beads():
    return simulate_bead_spring_trajectories(BeadSpringChain(), trajectories=5, frames=4000, seed=11)


@pytest.fixture(scope="module")
def beads_run(beads, tmp_path_factory):
    folder = tmp_path_factory.mktemp("neep")
    return train(beads, TrainConfig(model="neep", iterations=300, lr=3e-3, **FAST), run_dir=folder), folder


def test_neep_learns_the_bead_spring_ep_rate(beads_run):
    s = beads_run[0].summary  # how fast it does so is a benchmark figure (docs/benchmarks.md), not a test
    assert s["ep_rate"] == pytest.approx(s["truth"]["sigma_2pt"], rel=0.15), s
    assert s["truth"]["r2"] > 0.8


def test_alpha_loss_trains_too(beads):
    s = train(beads, TrainConfig(model="neep", loss="alpha", iterations=300, lr=3e-3, **FAST)).summary
    assert s["ep_rate"] == pytest.approx(s["truth"]["sigma_2pt"], rel=0.2), s


def test_equilibrium_trajectories_give_an_ep_rate_near_zero(beads_run):
    still = simulate_bead_spring_trajectories(BeadSpringChain(tc=5, th=5), trajectories=5, frames=4000, seed=11)
    rate = train(still, TrainConfig(model="neep", iterations=300, lr=3e-3, **FAST)).summary["ep_rate"]
    assert abs(rate) < 0.05 * beads_run[0].summary["ep_rate"], rate


def test_embedding_neep_learns_the_ratchet_ep_per_step():
    data = simulate_ratchet(FlashingRatchet(potential=2.0), trajectories=4, steps=10_000, seed=2)
    s = train(data, TrainConfig(model="neep", iterations=200, **FAST)).summary
    assert s["ep_per_frame"] == pytest.approx(0.21307, rel=0.1) and s["truth"]["r2"] > 0.95, s


def test_trajectory_run_folder_has_no_maps_and_round_trips(beads_run, tmp_path):
    run, folder = beads_run
    assert run.maps is None and run.mean_map is None and run.frame_shape == (2,)
    assert not list(folder.glob("dissipation_map*.tif"))
    again = load_run(folder)
    assert again.maps is None and again.config == run.config
    np.testing.assert_array_equal(again.ds, run.ds)
    assert again.models[0].describe() == {"model": "neep", "seq_len": 2, "hidden": 128, "layers": 2,
                                          "input": "coordinates", "n_coordinates": 2}
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["train"]["model"] == "neep" and json.loads((folder / "summary.json").read_text())["movies"] == 5


def test_checkpoints_carry_the_normalisation(beads_run, tmp_path):
    model = beads_run[0].models[0]
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt")
    x = torch.randn(16, 2, 2)
    torch.testing.assert_close(loaded(x), model(x))
    torch.testing.assert_close(loaded.encoder.std, model.encoder.std)
    assert not torch.equal(model.encoder.std, torch.ones(2))


def test_rneep_runs_on_the_partially_observed_ratchet():
    data = simulate_ratchet(trajectories=3, steps=3000, partial=True, seed=3)
    run = train(data, TrainConfig(model="rneep", seq_len=8, hidden=16, iterations=20, eval_every=10, batch=64,
                                  val_samples=500, device="cpu", seeds=2))
    s = run.summary
    assert len(run.ds) == 3 * ((3000 - 1) // 7) and s["ep_rate_std"] is not None
    assert s["truth"]["sigma"] == pytest.approx(0.21307, abs=1e-5)
    # Scored against the best any estimator of 8 positions can do: the exact ln P(w) / P(reversed w) per window.
    test = run.part == 2
    windows = data.data[run.movie[test, None], run.frame[test, None] + np.arange(8)]
    best = FlashingRatchet().observed_window_ep(windows)
    observed = s["truth"]["observed"]
    assert observed["ep_rate"] == pytest.approx(best.mean() / 7, rel=1e-9)
    assert 0 < observed["ep_rate"] < s["truth"]["sigma"]
    assert observed["r2"] == pytest.approx(np.corrcoef(run.ds[test], best)[0, 1] ** 2, rel=1e-6)
    assert "observed" not in train(simulate_ratchet(trajectories=3, steps=300, seed=3), TrainConfig(
        model="neep", hidden=8, iterations=5, eval_every=5, batch=32, device="cpu")).summary["truth"]


def test_model_and_data_must_fit():
    movie = simulate_bead_spring(BeadSpringChain(), movies=3, frames=20)
    with pytest.raises(CneepError, match="use cneep"):
        train(movie, TrainConfig(model="neep"))
    data = simulate_ratchet(trajectories=3, steps=100)
    with pytest.raises(CneepError, match="use neep or rneep"):
        train(data, TrainConfig())
