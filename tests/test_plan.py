"""The plan before training: memory per window, a batch that fits, a refusal naming what would fit, the time."""

import json
import subprocess
import sys

import numpy as np
import pytest

from cneep_engine import CneepError, Movie, TrainConfig
from cneep_engine.io import Preprocess, prepare
from cneep_engine.plan import plan_training


def _movie(h, w, frames=40, movies=3):
    rng = np.random.default_rng(0)
    return Movie(frames=rng.integers(0, 255, (movies, frames, h, w), dtype=np.uint8), dt=0.04)


def test_activations_per_window_grow_with_the_pixels_and_the_batch_is_lowered_to_fit(monkeypatch):
    small = plan_training(_movie(20, 40), TrainConfig(), timed=False)
    large = plan_training(_movie(212, 320), TrainConfig(), timed=False)
    assert large.window_bytes / small.window_bytes == pytest.approx(212 * 320 / (20 * 40), rel=0.1)
    assert not small.lowered and small.config.batch == 1024
    monkeypatch.setenv("CNEEP_TRAIN_BUDGET", "256M")
    lowered = plan_training(_movie(212, 320), TrainConfig(), timed=False)
    assert lowered.lowered and lowered.config.batch == (256 << 20) // lowered.window_bytes
    assert "lowered from 1024" in lowered.text() and lowered.config.lr == TrainConfig().lr


def test_a_frame_too_large_for_one_window_is_refused_with_what_would_fit(monkeypatch):
    monkeypatch.setenv("CNEEP_TRAIN_BUDGET", "8M")
    with pytest.raises(CneepError, match=r"needs about .* MB, more than the 8 MB .*--bin 2"):
        plan_training(_movie(212, 320), TrainConfig(), timed=False)


def test_the_timed_plan_gives_a_time_and_offers_faster_options_when_it_takes_hours():
    plan = plan_training(_movie(106, 160), TrainConfig(iterations=100_000, channels=8))
    assert plan.s_per_iteration > 0 and plan.total_s > 100_000 * plan.s_per_iteration * 0.99
    options = dict(plan.faster)
    assert options["--bin 2"] == pytest.approx(plan.total_s / 4) and "--iters" in " ".join(options)
    assert "faster: --bin 2 about" in plan.text()


def test_binning_offered_for_a_binned_movie_is_the_total_the_option_takes(monkeypatch):
    binned = prepare(_movie(128, 128), Preprocess(bin=2))           # as `--bin 2` or the app's Binning 2 gives it
    plan = plan_training(binned, TrainConfig(iterations=10_000_000, channels=4, batch=64))
    assert [option for option, _ in plan.faster][:2] == ["--bin 4", "--bin 8"]
    # Refused for memory: the binning that fits a raw movie of the same frames, times the binning done.
    monkeypatch.setenv("CNEEP_TRAIN_BUDGET", "1M")
    hints = []
    for movie in (_movie(64, 64), binned):
        with pytest.raises(CneepError, match=r"use --bin \d+") as refused:
            plan_training(movie, TrainConfig(), timed=False)
        hints.append(int(str(refused.value).split("use --bin ")[1].split()[0]))
    assert hints[1] == 2 * hints[0]


def test_training_uses_the_planned_batch_and_stays_within_the_estimated_peak(tmp_path):
    """A real training in a fresh process: its peak resident memory stays below the plan's estimate."""
    script = f"""
import json, numpy as np
from cneep_engine import Movie, TrainConfig, train
rng = np.random.default_rng(0)
movie = Movie(frames=rng.integers(0, 255, (3, 20, 160, 240), dtype=np.uint8), dt=0.04)
run = train(movie, TrainConfig(iterations=4, eval_every=2, channels=8, device="cpu"), run_dir={str(tmp_path)!r})
# VmHWM, not ru_maxrss: the latter keeps the parent's size at the fork (a test process grown to 800 MB)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"plan": run.summary["plan"], "peak_mb": peak / 1024}}))
"""
    env = {"CNEEP_TRAIN_BUDGET": "100M", "OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["plan"]["batch"] < 1024 and r["plan"]["requested_batch"] == 1024
    assert r["peak_mb"] < r["plan"]["peak_mb"], r
    assert json.loads((tmp_path / "config.json").read_text())["train"]["batch"] == r["plan"]["batch"]
