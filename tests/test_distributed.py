"""`torchrun --nproc-per-node 2 -m cneep_engine train` (two CPU processes, gloo) gives the single-process summary."""

import csv
import json
import os
import subprocess
import sys

import pytest

from cneep_engine.cli import main

TRAIN = ["--iters", "30", "--eval-every", "10", "--batch", "64", "--channels", "4", "-q"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    movie = tmp / "beads.tif"
    assert main(["simulate", "bead-spring", "--movies", "3", "--frames", "150", "--seed", "4", "-o", str(movie)]) == 0
    assert main(["train", str(movie), "-o", str(tmp / "single"), *TRAIN]) == 0
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "cneep_engine", "train", str(movie), "-o", str(tmp / "ddp"),
                           *TRAIN], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return tmp / "single", tmp / "ddp", done


def _validations(run_dir):
    with open(run_dir / "train_log.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["val_loss"]]


def test_two_processes_give_the_single_process_summary(runs):
    single, ddp, _ = runs
    a, b = (json.loads((d / "summary.json").read_text()) for d in (single, ddp))
    assert set(a) == set(b) and set(a["truth"]) == set(b["truth"])
    assert b["device"].endswith("x 2 processes")
    for key in ("iterations", "best_iteration", "stopped", "movies", "frames", "test_windows"):
        assert a[key] == b[key], key
    # Same global batches, gradients averaged: equal up to float rounding, which differs between CPUs' kernels
    # (up to 1.9e-5 seen on one machine). Ranks training on their own halves without averaging (or on their own draws)
    # differ from the first validation on by about as much as the loss moves (1e-3 between these validations).
    for ra, rb in zip(_validations(single), _validations(ddp), strict=True):
        assert ra["iteration"] == rb["iteration"]
        assert float(ra["val_loss"]) == pytest.approx(float(rb["val_loss"]), abs=5e-5)
        assert float(ra["train_loss"]) == pytest.approx(float(rb["train_loss"]), abs=5e-5)
    # Absolute: after 30 iterations the rate is near zero (0.06 per s against sigma 2.0), so rounding moves it by
    # several per cent of itself; between validations it moves by about 0.05.
    assert b["ep_rate"] == pytest.approx(a["ep_rate"], abs=0.005)
    assert b["truth"]["r2"] == pytest.approx(a["truth"]["r2"], abs=0.005)


def test_only_rank_zero_reports_and_writes(runs):
    _, ddp, done = runs
    assert done.stdout.count("EP rate") == 1 and done.stdout.count("results in") == 1
    rows = list(csv.DictReader(open(ddp / "train_log.csv", newline="")))
    assert [r["iteration"] for r in rows] == ["0", "10", "20", "30", "30"]   # one log, not one per rank
    assert {p.name for p in ddp.iterdir()} >= {"summary.json", "config.json", "ep_trace.csv", "model_seed0.pt"}


def test_a_batch_that_does_not_split_evenly_is_refused(tmp_path):
    movie = tmp_path / "beads.tif"
    assert main(["simulate", "bead-spring", "--movies", "1", "--frames", "60", "-o", str(movie)]) == 0
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "cneep_engine", "train", str(movie), "-o",
                           str(tmp_path / "run"), "--batch", "63", "--iters", "2", "-q"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "cneep: error: --batch 63 must be a multiple of the 2 processes" in done.stderr
