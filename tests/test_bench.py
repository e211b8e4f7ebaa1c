"""`cneep bench`: the published-loop baseline is what it claims to be, and both benchmarks report real figures."""

import json

import numpy as np
import pytest
import torch

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring
from cneep_engine import allocator
from cneep_engine.bench import bench_movie
from cneep_engine.bench.accuracy import _met, benchmark
from cneep_engine.bench.baseline import PublishedLoop
from cneep_engine.cli import main
from cneep_engine.models import CNEEP, CNEEPConfig


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_baseline_is_the_published_data_path_and_the_same_network_run_twice():
    movie = simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=3, frames=50, seed=1)
    loop = PublishedLoop(movie, np.array([1, 2]), CNEEPConfig(channels=4), batch=8)
    assert loop.frames.dtype == torch.float32 and loop.frames.shape == (3, 50, 1, 20, 40)
    first = movie.frames[1, 0].astype(np.float64)                # normalised by the first training frame
    assert (loop.mean, loop.std) == (pytest.approx(first.mean()), pytest.approx(first.std(ddof=1), rel=1e-5))   # torch.std: unbiased
    assert loop.opt.defaults["lr"] == 1e-4 and loop.opt.defaults["weight_decay"] == 5e-5
    x = loop.windows(torch.tensor([1, 2]), torch.tensor([5, 30]))
    assert x.shape == (2, 2, 20, 40) and x.dtype == torch.float32
    torch.testing.assert_close(x[0, 0], (torch.from_numpy(movie.frames[1, 5].astype(np.float32)) - loop.mean) / loop.std)
    torch.testing.assert_close(x[0, 1], (torch.from_numpy(movie.frames[1, 6].astype(np.float32)) - loop.mean) / loop.std)
    torch.testing.assert_close(x[1, 0], (torch.from_numpy(movie.frames[2, 30].astype(np.float32)) - loop.mean) / loop.std)
    # Two passes give what our one batched pass gives with the same weights and normalisation.
    ours = CNEEP(movie.frame_shape, CNEEPConfig(channels=4), loop.mean, loop.std)
    ours.load_state_dict({**loop.model.state_dict(), "mean": ours.mean, "std": ours.std})
    raw = torch.from_numpy(np.stack([movie.frames[1, 5:7], movie.frames[2, 30:32]]))
    torch.testing.assert_close(loop.ep(x), ours(raw), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(loop.ep(x.flip(1)), -loop.ep(x))
    # Training draws from the training movies only.
    before = [p.clone() for p in loop.model.parameters()]
    assert torch.isfinite(loop.step())
    assert any(not torch.equal(a, b) for a, b in zip(before, loop.model.parameters()))


def test_throughput_json_reports_both_loops_at_the_same_batch(capsys):
    r = _json(capsys, ["bench", "throughput", "--json", "--device", "cpu", "--batch", "64", "--seconds", "1",
                       "--rounds", "2", "--frames", "100", "--channels", "4"])
    assert r["batch"] == 64 and r["device"].startswith("cpu") and r["model"]["channels"] == 4
    ours, base = r["ours"], r["baseline"]
    for x in (ours, base):
        assert x["samples_per_s"] > 0 and x["steps"] >= 2
        assert x["samples_per_s"] == pytest.approx(x["steps"] * 64 / x["seconds"])
    assert r["ratio"] == pytest.approx(ours["samples_per_s"] / base["samples_per_s"])
    # Counted from the network's calls: the baseline runs it twice on the batch, ours once on both orders.
    assert (base["passes"], base["inputs_per_pass"]) == (2, 64)
    assert (ours["passes"], ours["inputs_per_pass"]) == (1, 128)
    assert base["frames"] == "float32 on host" and ours["frames"] == "uint8 on cpu"
    assert (base["lr"], base["weight_decay"]) == (1e-4, 5e-5)
    # The published loop runs as it would on its own: in another process, with the system's allocator.
    assert base["allocator"] == "system defaults"
    assert ours["allocator"] == allocator.describe()


def test_throughput_table(capsys):
    assert main(["bench", "throughput", "--device", "cpu", "--batch", "32", "--seconds", "0.5", "--rounds", "1",
                 "--frames", "50", "--channels", "2"]) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "baseline" in out and "ratio" in out


def test_tiny_accuracy_json_follows_both_loops_for_their_budgets(capsys):
    r = _json(capsys, ["bench", "accuracy", "--json", "--device", "cpu", "--movies", "3", "--frames", "200",
                       "--iters", "30", "--batch", "32", "--eval-every", "10", "--val-samples", "200",
                       "--baseline-batch", "16", "--baseline-iters", "25", "--baseline-record-every", "10",
                       "--train-seed", "3"])
    assert r["movie"]["movies"] == 3 and r["movie"]["sigma_2pt"] == pytest.approx(1.9846, rel=1e-3)
    assert r["ours"]["config"]["seed"] == 3
    ours, base = r["ours"], r["baseline"]
    assert [p["iteration"] for p in ours["curve"]] == [10, 20, 30]
    assert [p["samples"] for p in ours["curve"]] == [320, 640, 960] and ours["samples"] == 960
    assert [p["iteration"] for p in base["curve"]] == [10, 20, 25]   # every record_every, and at the end
    assert base["samples"] == 25 * 16 and base["config"]["batch"] == 16
    for x in (ours, base):
        assert not x["reached"] and x["time_to_target_s"] is None
        assert x["peak_rss_mb"] > 0 and x["wall_s"] > 0
        walls = [p["wall_s"] for p in x["curve"]]
        assert walls == sorted(walls) and walls[-1] <= x["wall_s"]
        for p in x["curve"]:
            assert p["rel_err"] == pytest.approx(p["rate"] / r["movie"]["sigma_2pt"] - 1)
            assert p["rel_err_windows"] == pytest.approx(p["rate"] / p["truth_rate"] - 1)
            assert -1 <= p["r2"] <= 1
    # Against the exact rate of the windows validated on: all 199 of the validation movie (movie 1 of 3) for
    # both here (ours would take a random subset of more than --val-samples). Far from sigma_2pt: 199 windows.
    movie = bench_movie(3, 200, seed=2022)
    exact = movie.truth.ds[1].mean() / movie.dt
    assert [p["truth_rate"] for p in base["curve"] + ours["curve"]] == pytest.approx([exact] * 6)
    assert abs(exact / r["movie"]["sigma_2pt"] - 1) > 0.1
    assert set(ours["test"]) == {"rate", "rel_err_2pt", "rel_err_windows", "r2", "best_iteration"}
    assert base["config"]["allocator"] == "system defaults"


def test_accuracy_stops_each_loop_when_the_target_is_met():
    # A target any model meets: both stop at their first validation instead of running their budgets.
    r = benchmark(movies=3, frames=200, config=TrainConfig(iterations=200, batch=32, eval_every=10, val_samples=200,
                                                           patience=0, device="cpu"),
                  baseline_batch=16, baseline_iters=200, baseline_record_every=5, target_r2=-1.0, target_err=1e9)
    assert r["ours"]["reached"] and r["ours"]["iterations"] == 10 and len(r["ours"]["curve"]) == 1
    assert r["ours"]["samples_to_target"] == 320 and r["ours"]["time_to_target_s"] > 0
    assert r["baseline"]["reached"] and r["baseline"]["iterations"] == 5


def test_the_rate_is_judged_against_the_exact_rate_of_the_windows_validated_on():
    # 15 validation movies scatter their exact rate by 3% around sigma_2pt: the target reads the estimator's own error.
    near_sigma_2pt = {"r2": 0.99, "rel_err": 0.0, "rel_err_windows": -0.05}
    near_windows = {"r2": 0.99, "rel_err": 0.05, "rel_err_windows": 0.01}
    assert not _met(near_sigma_2pt, 0.98, 0.02) and _met(near_windows, 0.98, 0.02)
    assert not _met({**near_windows, "r2": 0.97}, 0.98, 0.02) and not _met({**near_windows, "r2": None}, 0.98, 0.02)


@pytest.mark.parametrize("argv, words", [
    (["bench", "throughput", "--batch", "0"], "--batch"),
    (["bench", "throughput", "--seconds", "-1"], "--seconds"),
    (["bench", "accuracy", "--movies", "2"], "at least 3 movies"),
    (["bench", "accuracy", "--budget", "0"], "budgets must be positive"),
    (["bench", "throughput", "--device", "tpu"], "tpu"),
])
def test_bad_options_end_in_one_line_and_exit_2(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("cneep: error: ") and words in err
