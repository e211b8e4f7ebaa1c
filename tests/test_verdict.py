"""The verdict's statistics against exact answers on synthetic dS series, and on a real short training."""

import json

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.stats import kstest

from cneep_engine import train
from cneep_engine.training import Progress
from cneep_engine.verdict import (MAX_BLOCKS, MIN_VALIDATIONS, RESOLVED, STILL_MOVING, Z_95, block_bootstrap, blocks,
                                  bound_test, convergence, describe, integrated_time, p_value, resolves, segments,
                                  sign_flip_null, verdict)


def ar1(rng, n, phi, mean=0.0):
    """Stationary AR(1) series x_t = phi x_{t-1} + e_t, unit-variance innovations, plus `mean`."""
    e = rng.standard_normal(n)
    first = rng.standard_normal() / np.sqrt(1 - phi**2)
    return lfilter([1], [1, -phi], e, zi=[phi * first])[0] + mean


def tau_ar1(phi):
    """Our convention tau = 1/2 + sum_{t>=1} rho(t) = (1 + phi) / (2 (1 - phi))."""
    return (1 + phi) / (2 * (1 - phi))


def se_ar1(phi, n):
    """Exact standard error of the mean of n samples of the stationary AR(1) series above."""
    t = np.arange(1, n)
    var_sum = n + 2 * np.sum((n - t) * phi**t)
    return np.sqrt(var_sum / (1 - phi**2)) / n


def one_series(x, window_time=1.0, **kw):
    n = x.size
    return verdict(x, np.zeros(n, int), np.arange(n), np.ones(n, bool), window_time, **kw)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_integrated_time_of_ar1_series(phi):
    x = ar1(np.random.default_rng(1), 200_000, phi)
    assert integrated_time(x) == pytest.approx(tau_ar1(phi), rel=0.08)


def test_integrated_time_pools_segments_without_pairing_across_them():
    a = np.random.default_rng(2).standard_normal(5000)
    seg = np.repeat(np.arange(5000), 2)
    # Segments of two equal samples: rho(1) = 1 within them (tau = 1/2 + 1), none across them.
    assert integrated_time(np.repeat(a, 2), seg) == pytest.approx(1.5)
    assert integrated_time(np.stack([a, -a], 1).ravel(), seg) == pytest.approx(-0.5)
    assert integrated_time(np.tile([1.0, -1.0], 5000)) < 0.5   # one segment, rho(t) = (-1)^t


def test_segments_break_at_movies_and_gaps():
    movie = np.array([0, 0, 0, 0, 1, 1, 1, 2])
    frame = np.array([3, 5, 7, 11, 0, 2, 4, 0])        # stride 2; 7 -> 11 is a gap
    assert segments(movie, frame).tolist() == [0, 0, 0, 1, 2, 2, 2, 3]


def test_blocks_stay_inside_segments_join_remainders_and_are_capped():
    seg = np.repeat([0, 1, 2], [14, 3, 7])
    b, tested = blocks(seg, 4)
    # segment 0: 4 + 4 + 6 (remainder 2 joined); segment 1 shorter than 4: one block; segment 2: 7 (4 + 3 joined)
    assert b.tolist() == [0] * 4 + [1] * 4 + [2] * 6 + [3] * 3 + [4] * 7
    # every other block of a segment is tested, starting with its first
    assert tested.tolist() == [True] * 4 + [False] * 4 + [True] * 6 + [True] * 3 + [True] * 7
    many, tested = blocks(np.zeros(10 * MAX_BLOCKS + 5, int), 2)
    assert many.max() + 1 <= MAX_BLOCKS and np.all(np.diff(many) >= 0)
    assert tested.tolist() == [True, True, False, False] * (10 * MAX_BLOCKS // 4) + [True, True, False, False, False]


def _block_sums(x, length):
    block, _ = blocks(np.zeros(x.size, int), length)
    return np.bincount(block, weights=x), np.bincount(block).astype(float)


def test_p_values_are_uniform_under_time_reversal_symmetry():
    rng = np.random.default_rng(3)
    p = []
    for k in range(200):
        sums, _ = _block_sums(ar1(rng, 2000, 0.6), 40)   # 10 tau_int
        p.append(p_value(sums.sum(), sign_flip_null(sums, flips=999, seed=k)))
    assert kstest(p, "uniform").pvalue > 0.01
    assert 0 < min(p) and max(p) <= 1


def test_a_positive_mean_gives_a_small_p_and_the_noise_floor_is_the_null_quantile():
    rng = np.random.default_rng(4)
    v = one_series(ar1(rng, 20_000, 0.5) + 0.1, window_time=0.01)
    assert v["p_equilibrium"] < 1e-3
    assert v["ep_rate_ci95"][0] < 10 < v["ep_rate_ci95"][1]
    # At equilibrium the tested half (every other block of 250 windows) has a mean with a known standard
    # error; the 95th percentile of its null is 1.645 SE (averaged over series: 40 blocks make one rough).
    floors = [one_series(ar1(rng, 20_000, 0.5), window_time=0.01)["noise_floor"] for _ in range(20)]
    assert np.mean(floors) == pytest.approx(1.645 * se_ar1(0.5, 10_000) / 0.01, rel=0.1)


def telescoping(rng, n, mean=0.0, g=2.0, noise=0.3, phi=0.98):
    """dS with EP noise and a part g (x' - x) that carries none: x an AR(1) state relaxing over ~1/(1 - phi)
    windows, the way a trained network's dS holds g(x') - g(x). Its mean is `mean`."""
    x = ar1(rng, n + 1, phi)
    return mean + noise * rng.standard_normal(n) + g * np.diff(x)


def two_movies(ds):
    n = ds.size
    return verdict(ds, np.repeat([0, 1], n // 2), np.tile(np.arange(n // 2), 2), np.ones(n, bool), 1.0)


def test_a_telescoping_part_leaves_the_equilibrium_test_uniform_where_flipping_every_block_is_not():
    rng = np.random.default_rng(9)
    p, every = [], []
    for k in range(150):
        ds = np.concatenate([telescoping(rng, 4000), telescoping(rng, 4000)])   # two movies at equilibrium
        p.append(two_movies(ds)["p_equilibrium"])
        block, _ = blocks(np.repeat([0, 1], 4000), 200)
        sums = np.bincount(block, weights=ds)
        every.append(p_value(ds.sum(), sign_flip_null(sums, flips=999, seed=k)))
    assert kstest(p, "uniform").pvalue > 0.01
    # Touching blocks share the boundary terms: flipped independently they make the null ~3x too wide.
    assert kstest(every, "uniform").pvalue < 1e-6 and 0.3 < np.median(every) < 0.7
    assert np.mean((np.array(every) < 0.2) | (np.array(every) > 0.8)) < 0.1


def test_a_telescoping_part_with_ep_is_detected_and_its_interval_covers_the_rate():
    rng = np.random.default_rng(10)
    covered = []
    for _ in range(150):
        v = two_movies(np.concatenate([telescoping(rng, 4000, 0.1, g=0.2), telescoping(rng, 4000, 0.1, g=0.2)]))
        assert v["p_equilibrium"] < 1e-3
        covered.append(v["ep_rate_ci95"][0] <= 0.1 <= v["ep_rate_ci95"][1])
    assert 0.9 <= np.mean(covered) <= 0.99


def test_bootstrap_error_matches_the_exact_standard_error_of_an_ar1_mean():
    rng = np.random.default_rng(5)
    for phi in (0.0, 0.9):
        v = one_series(ar1(rng, 100_000, phi))
        assert v["ep_rate_err"] == pytest.approx(se_ar1(phi, 100_000), rel=0.2)
        assert v["block"]["tau_int"] == pytest.approx(tau_ar1(phi), rel=0.15)
        assert v["block"]["windows"] >= 10 * tau_ar1(phi) - 1


def test_the_95_percent_interval_covers_the_mean_in_about_95_percent_of_repeats():
    rng = np.random.default_rng(6)
    covered = []
    for k in range(200):
        boot = block_bootstrap(*_block_sums(ar1(rng, 3000, 0.7, mean=0.3), 57), resamples=500, seed=k)
        covered.append(np.percentile(boot, 2.5) <= 0.3 <= np.percentile(boot, 97.5))
    assert 0.89 <= np.mean(covered) <= 0.99


def test_too_short_a_series_is_warned_about():
    v = one_series(ar1(np.random.default_rng(7), 200, 0.95))
    assert any("blocks" in w for w in v["warnings"])


def _history(val_rates, train_rates=None, every=100, seed=0):
    train_rates = val_rates if train_rates is None else train_rates
    return [Progress(seed=seed, seed_index=0, n_seeds=1, iteration=0, iterations=0, elapsed_s=0,
                     train_loss=np.nan, train_rate=np.nan, message="started")] + [
        Progress(seed=seed, seed_index=0, n_seeds=1, iteration=every * (i + 1), iterations=0, elapsed_s=0,
                 train_loss=1.0, train_rate=t, val_loss=1.0, val_rate=v)
        for i, (v, t) in enumerate(zip(val_rates, train_rates))]


def test_convergence_of_training_histories():
    rng = np.random.default_rng(8)
    rise = 2 * (1 - np.exp(-np.arange(1, 25) / 4))                 # plateau at 2 long before the end
    noise = 0.02 * rng.standard_normal(24)
    assert convergence(_history(rise + noise, rise + 3 * noise), err=0.1) == (True, [])
    still = np.linspace(0.5, 2, 24) + noise                        # rising to the end
    ok, why = convergence(_history(still), err=0.1)
    assert ok is False and "still moved by +" in why[0] and "train longer" in why[0]
    ok, why = convergence(_history(rise + noise, rise + 1.0 + noise), err=0.1)   # train 1.0 above val
    assert ok is False and "disagree" in why[0]
    ok, why = convergence(_history(rise[:MIN_VALIDATIONS - 1]), err=0.1)
    assert ok is False and "validations" in why[0]
    assert convergence([], err=0.1) == (None, [])
    two_seeds = _history(rise + noise) + _history(still, seed=1)
    ok, why = convergence(two_seeds, err=0.1)
    assert ok is False and len(why) == 1 and why[0].startswith("not converged: seed 1:")


def test_a_model_known_training_is_judged_on_its_validations_up_to_the_network_it_kept():
    rng = np.random.default_rng(3)
    rise = 2 * (1 - np.exp(-np.arange(1, 25) / 4)) + 0.02 * rng.standard_normal(24)

    def history(val_rates, best):   # fit_network's: no training rate, the best validated network kept
        events = [Progress(seed=0, iteration=100 * (i + 1), iterations=2400, elapsed_s=0, val_loss=1.0, val_rate=v,
                           best_iteration=best) for i, v in enumerate(val_rates)]
        return events + [Progress(seed=0, iteration=2400, iterations=2400, elapsed_s=0, best_iteration=best,
                                  message="finished")]

    assert convergence(history(rise, best=2400), err=0.1, kept_best=True) == (True, [])
    ok, why = convergence(history(np.linspace(0.5, 2, 24), best=2400), err=0.1, kept_best=True)
    assert ok is False and STILL_MOVING in why[0]
    # falling after the network kept at the plateau (iteration 1500): judged up to it
    fallen = np.r_[rise[:15], np.linspace(1.9, 1.0, 9)]
    assert convergence(history(fallen, best=1500), err=0.1, kept_best=True) == (True, [])
    assert convergence(history(fallen, best=1500), err=0.1)[0] is False
    ok, why = convergence(history(rise, best=200), err=0.1, kept_best=True)   # kept early: too few to judge
    assert ok is False and "only 2 validations" in why[0]


def test_describe_reads_as_a_verdict_and_tolerates_old_summaries():
    s = {"ep_rate": 2.031, "ep_rate_err": 0.051, "ep_rate_ci95": [1.93, 2.13], "p_equilibrium": 1e-4,
         "noise_floor": 0.08}
    assert describe(s) == ("EP rate 2.031 ± 0.051 k_B/s (95%: 1.930-2.130): dissipation detected "
                           "(p < 0.001 against equilibrium)")
    s |= {"ep_rate": 0.011, "ep_rate_err": 0.021, "ep_rate_ci95": [-0.03, 0.05], "p_equilibrium": 0.41,
          "noise_floor": 0.031}
    assert describe(s).endswith(": no dissipation detected above 0.031 k_B/s (p = 0.41)")
    assert describe({"ep_rate": 1.5}) == "EP rate 1.5 k_B/s"


def test_a_lower_bound_at_its_one_sided_5_percent_point_gives_p_005_and_is_the_noise_floor():
    assert bound_test(Z_95 * 0.2, 0.2) == pytest.approx({"p_equilibrium": 0.05, "noise_floor": Z_95 * 0.2})
    assert bound_test(0.0, 0.1)["p_equilibrium"] == 0.5 and bound_test(-3.0, 1.0)["p_equilibrium"] > 0.99
    assert bound_test(2.0, 0.0)["p_equilibrium"] == 0.0 and bound_test(-2.0, 0.0)["p_equilibrium"] == 1.0
    assert Z_95 == pytest.approx(1.6448536)
    assert bound_test(1.0, float("nan")) == {"p_equilibrium": None, "noise_floor": None}
    assert describe({"ep_rate": 1.0, "ep_rate_err": 0.1, "ep_rate_ci95": [0.8, 1.2], "p_equilibrium": None,
                     "noise_floor": None}) == "EP rate 1 k_B/s"


def test_transitions_resolve_a_model_known_estimate_where_their_rate_meets_the_midpoint_with_its_lower_bound():
    score = {"ep_rate": 2.0, "ep_rate_err": 0.05, "bounds": {"lower": 1.6, "upper": None}, "lower_bound_err": 0.05}
    assert resolves(1.8, 0.01, score)                                   # the midpoint itself
    assert resolves(1.8 * (1 - RESOLVED) + 1e-9, 0.01, score)          # the midpoint rule's O(dt) bias
    assert not resolves(0.3, 0.01, score) and not resolves(1.8 * (1 - RESOLVED) - 0.01, 0.01, score)
    assert resolves(0.3, 0.5, score)                                    # within three errors
    # EPR-Net: the midpoint of its bounds; at equilibrium 0 within the errors
    assert resolves(1.0, 0.01, {"ep_rate": 1.0, "ep_rate_err": 0.01, "bounds": {"lower": 0.5, "upper": 1.5},
                                "upper_bound_err": 0.01, "lower_bound_err": 0.01})
    assert resolves(0.001, 0.008, {"ep_rate": 0.04, "ep_rate_err": 0.004, "bounds": {"lower": -0.09, "upper": None},
                                   "lower_bound_err": 0.06})


def test_a_short_training_reports_its_verdict(tiny_movie, tiny_config, tmp_path):
    run = train(tiny_movie, tiny_config, run_dir=tmp_path)
    s = run.summary
    lo, hi = s["ep_rate_ci95"]
    assert lo < s["ep_rate"] < hi and s["ep_rate_err"] > 0
    assert 0 < s["p_equilibrium"] <= 1 and s["noise_floor"] > 0
    assert s["block"]["blocks"] >= 1 and s["block"]["windows"] >= 1 and s["block"]["tau_int"] > 0
    # 40 iterations validated every 10: too few validations to show a plateau, whatever the float path.
    assert s["converged"] is False and any(w.startswith("not converged") for w in s["warnings"])
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["ep_rate_ci95"] == pytest.approx([lo, hi]) and saved["warnings"] == s["warnings"]
    # The same numbers from the run's arrays: the verdict is on the seed-averaged held-out dS.
    again = verdict(run.ds, run.movie, run.frame, run.part == 2, run.dt, run.history)
    assert again["ep_rate_ci95"] == pytest.approx([lo, hi])
