"""Motility-induced phase separation: periodic forces and their divergence against the O(N^2) law, the neighbour
list against brute force, the saved per-particle truth against the snapshots, cancel, and the command line."""

import threading

import numpy as np
import pytest

from cneep_engine.cli import main
from cneep_engine.errors import Cancelled
from cneep_engine.io import load_trajectories
from cneep_engine.registry import SYSTEMS
from cneep_engine.synth.mips import ActiveDiscs, DiscRepulsion, SnapshotSampling, pair_forces, simulate_mips
from cneep_engine.synth.mips_movie import DiscRenderer
from cneep_engine.synth.neighbours import NeighbourList, minimum_image, wrap

REPULSION = DiscRepulsion()
CUTOFF = REPULSION.reach


def _all_pairs(n):
    i, j = np.triu_indices(n, 1)
    return i, j


def _within(x, box, reach):
    i, j = _all_pairs(len(x))
    close = np.sqrt((minimum_image(x[i] - x[j], box) ** 2).sum(1)) < reach
    return set(zip(i[close], j[close]))


def test_periodic_forces_equal_the_pairwise_law_over_the_nearest_images():
    rng = np.random.default_rng(1)
    box, n = 10.0, 30
    x = rng.uniform(0, box, (n, 2))
    f = pair_forces(x, *NeighbourList(box, CUTOFF, 0.6).pairs(x), box, REPULSION)
    # The O(N^2) law of `aoup` on the box and its eight periodic copies: the central particles feel what the
    # periodic box does (the law reaches less than half the box).
    tiles = np.concatenate([x + box * np.array(s) for s in [(0, 0)] + [(a, b) for a in (-1, 0, 1)
                                                                        for b in (-1, 0, 1) if (a, b) != (0, 0)]])
    brute = REPULSION.forces(tiles[None])[0, :n]
    assert np.abs(brute).max() > 1 and np.allclose(f, brute, rtol=1e-9, atol=1e-8)


def test_each_particles_divergence_is_that_of_its_force_and_they_sum_to_the_pairwise_laws():
    rng = np.random.default_rng(2)
    box, n, h = 12.0, 25, 1e-6
    x = rng.uniform(3, 9, (n, 2))             # away from the edges: the open-space law applies as it is
    i, j = _all_pairs(n)
    _, div = pair_forces(x, i, j, box, REPULSION, divergence=True)
    numeric = np.zeros(n)
    for c in range(2):
        up, down = x.copy(), x.copy()
        up[:, c] += h
        down[:, c] -= h
        for p in range(n):   # only particle p moves: d f_p,c / d x_p,c
            moved_up, moved_down = x.copy(), x.copy()
            moved_up[p], moved_down[p] = up[p], down[p]
            numeric[p] += (pair_forces(moved_up, i, j, box, REPULSION)[p, c]
                           - pair_forces(moved_down, i, j, box, REPULSION)[p, c]) / (2 * h)
    assert np.allclose(div, numeric, rtol=1e-5, atol=1e-5)
    _, total = REPULSION.forces(x[None], divergence=True)
    assert div.sum() == pytest.approx(total[0], rel=1e-10)


def test_the_neighbour_list_holds_every_close_pair_as_particles_cross_the_edges():
    rng = np.random.default_rng(3)
    box, skin, n = 14.0, 0.6, 80
    x = rng.uniform(0, box, (n, 2))
    neighbours = NeighbourList(box, CUTOFF, skin)
    assert set(zip(*neighbours.pairs(x))) == _within(x, box, CUTOFF + skin)   # a fresh list: exactly these
    drift = np.array([0.9, -0.7])        # the whole crowd slides across the edges, each particle jittering
    crossed = 0
    for _ in range(300):
        step = 0.05 * drift + 0.05 * rng.standard_normal(x.shape)
        crossed += np.count_nonzero((x + step < 0) | (x + step >= box))
        x = wrap(x + step, box)
        assert _within(x, box, CUTOFF) <= set(zip(*neighbours.pairs(x)))
    assert crossed > 50 and 3 < neighbours.builds < 300


def test_sigma_b_is_the_mean_of_the_saved_heat_densities_minus_div_b(tmp_path):
    model = ActiveDiscs(particles=64, v0=0.5, gamma=0.05)
    data = simulate_mips(model, REPULSION, SnapshotSampling(trajectories=1, frames=4, interval=2.0, burn_in=5.0,
                                                            propulsion=True))
    path = tmp_path / "mips.npz"
    from cneep_engine.io import save_trajectories
    save_trajectories(data, path)
    back = load_trajectories(path)
    t, n = back.truth, model.particles
    heat, packing = t.particles["heat"], t.particles["packing"]
    assert heat.shape == packing.shape == (1, 4, n) and back.data.shape == (1, 4, 4 * n)
    box = t.params["box"]
    assert box == pytest.approx(np.sqrt(n * np.pi / 0.6))
    for k in range(4):
        x = back.data[0, k, :2 * n].reshape(n, 2)
        assert x.min() >= 0 and x.max() < box
        _, div = pair_forces(x, *_all_pairs(n), box, REPULSION, divergence=True)
        assert np.allclose(heat[0, k], -div, atol=1e-9)
        near = np.sqrt((minimum_image(x[:, None] - x[None], box) ** 2).sum(-1)) < 6
        assert np.allclose(packing[0, k], near.sum(1) / 36)
    assert t.sigma == pytest.approx(heat.sum(2).mean()) and t.params["sigma_B"] == t.sigma
    assert t.params["sigma_per_particle"] == pytest.approx(heat.sum(2).mean() / n)
    assert t.params["sigma_label"] == "σ_B" and t.params["convention"].startswith("B: hypoelliptic")
    assert back.dt == pytest.approx(2.0) and t.params["steps_between"] == 20


def test_with_translational_noise_the_heat_density_is_convention_a():
    model = ActiveDiscs(particles=64, v0=0.5, gamma=0.05, eps=0.01, time_step=0.01)
    data = simulate_mips(model, REPULSION, SnapshotSampling(trajectories=1, frames=3, interval=0.5, burn_in=1.0,
                                                            propulsion=True))
    t, n = data.truth, model.particles
    for k in range(3):
        x, g = (data.data[0, k, s * 2 * n:(s + 1) * 2 * n].reshape(n, 2) for s in (0, 1))
        f, div = pair_forces(x, *_all_pairs(n), t.params["box"], REPULSION, divergence=True)
        b = model.v0 * g + f
        assert np.allclose(t.particles["heat"][0, k], (b ** 2).sum(1) / model.eps + div)
    assert t.params["sigma_label"] == "σ_A" and "sigma_A_medium" in t.params
    # the per-step medium sum over each interval: a value per transition, averaging to sigma_A_medium
    assert t.ds.shape == (1, 2) and t.ds[0, 0] != t.ds[0, 1]
    assert t.params["sigma_A_medium"] == pytest.approx(t.ds.mean() / 0.5)


def test_cancel_stops_the_simulation_between_steps():
    cancel, events = threading.Event(), []

    def seen(ev):
        events.append(ev)
        cancel.set()

    with pytest.raises(Cancelled, match="simulating mips cancelled at .* time steps: nothing written"):
        SYSTEMS["mips"].run(ActiveDiscs(particles=64), REPULSION, DiscRenderer(), SnapshotSampling(burn_in=1e6),
                            callback=seen,
                            cancel=cancel)
    assert events[0].phase == "simulation" and events[0].done == 0 and events[0].total > 1e6


def test_the_command_line_options_come_from_the_declarations_and_the_file_is_reused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "mips", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--particles", "--packing", "--v0", "--gamma", "--eps", "--time-step", "--repulsion",
                   "--sharpness", "--burn-in", "--interval", "--frames", "--propulsion", "--reuse", "--quiet"):
        assert option in text
    assert "(default: 30.0)" in text and "(default: 40000.0)" in text     # beta and the burn-in that separate
    out = tmp_path / "m.npz"
    small = ["simulate", "mips", "--particles", "64", "--trajectories", "1", "--frames", "2", "--interval", "1",
             "--burn-in", "1", "-q", "-o", str(out)]
    assert main(["simulate", "mips", "--packing", "0", "-o", str(out)]) == 2
    assert "--packing (packing fraction φ) must be above 0" in capsys.readouterr().err
    assert main(["simulate", "mips", "--particles", "4", "--trajectories", "1", "-o", str(out)]) == 2
    assert "too small" in capsys.readouterr().err and not out.exists()
    assert main(small) == 0 and "sigma_B = " in capsys.readouterr().out
    written = out.stat().st_mtime_ns
    assert main(small + ["--reuse"]) == 0 and capsys.readouterr().out.startswith(f"kept {out}")
    assert out.stat().st_mtime_ns == written
    assert main(small + ["--reuse", "--seed", "3"]) == 2
    assert "was simulated with seed 0 (asked: 3)" in capsys.readouterr().err
