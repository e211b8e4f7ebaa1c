"""The progress stream: events between validations, during validation, held-out evaluation and exports, each
phase with its own done/total; Cancel in each phase; the training log and history as before."""

import csv
import io
import threading
import time

import numpy as np
import pytest
import tifffile

from cneep_engine import TrainConfig, load_run, progress, train
from cneep_engine.cli import ProgressBar
from cneep_engine.errors import Cancelled
from cneep_engine.export import write_map_stack, write_overlay_movie
from cneep_engine.progress import Progress
from cneep_engine.training import Trainer

NO_VALIDATION = TrainConfig(depth=2, channels=4, batch=32, iterations=60, eval_every=1000, patience=0, device="cpu")


@pytest.fixture
def every_batch(monkeypatch):
    """No throttle, and small inference batches: every batch of a validation or evaluation reports."""
    monkeypatch.setattr(progress, "INTERVAL_S", 0.0)
    monkeypatch.setattr(Trainer, "eval_batch", property(lambda self: 64))


def test_training_reports_between_validations_throttled_by_time(tiny_movie, monkeypatch, tmp_path):
    monkeypatch.setattr(progress, "INTERVAL_S", 0.02)
    step = Trainer.step

    def slow_step(self, *args):   # 60 steps of at least 3 ms: training lasts several intervals on any machine
        time.sleep(0.003)
        return step(self, *args)

    monkeypatch.setattr(Trainer, "step", slow_step)
    events = []
    run = train(tiny_movie, NO_VALIDATION, callback=events.append, run_dir=tmp_path)
    beats = [e for e in events if e.phase == "training" and not e.message]
    assert len(beats) >= 3                                    # 0.18 s of steps, an event every 0.02 s at most
    its = [e.iteration for e in beats]
    assert its == sorted(set(its)) and 0 < its[0] and its[-1] < 60
    assert all(e.done == e.iteration and e.total == 60 and e.left_s > 0 and e.val_rate is None for e in beats)
    training = [e for e in events if e.phase == "training"]
    assert np.diff([e.elapsed_s for e in training[1:-1]]).min() >= 0.02 - 1e-6   # never more often than that
    # The record of training (history, log, verdict) is the start, the one validation and the end, as before.
    assert [(e.iteration, e.message) for e in run.history] == [(0, "started"), (60, "kept"), (60, "finished")]
    with open(tmp_path / "train_log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and "phase" not in rows[0] and "left_s" not in rows[0]
    assert [e.phase for e in load_run(tmp_path).history] == ["training", "validation", "training"]


def test_validation_and_evaluation_report_windows_done(tiny_movie, every_batch):
    events = []
    config = TrainConfig(depth=2, channels=4, batch=32, iterations=20, eval_every=10, patience=0, device="cpu",
                         seeds=2)
    train(tiny_movie, config, callback=events.append)
    validating = [e for e in events if e.phase == "validation" and e.val_rate is None]
    n_val = validating[0].total
    assert n_val == 199 and {e.iteration for e in validating} == {10, 20}
    first = [e.done for e in validating if e.iteration == 10 and e.seed_index == 0]
    assert first == list(range(0, n_val, 64))
    results = [e for e in events if e.val_rate is not None]
    assert all(e.phase == "validation" and e.done == e.total == n_val for e in results)
    evaluating = [e for e in events if e.phase == "evaluation"]
    windows = 3 * 199
    assert evaluating[0].done == 0 and evaluating[0].left_s is None
    assert [e.done for e in evaluating] == sorted(e.done for e in evaluating)
    assert evaluating[-1].done == evaluating[-1].total == 2 * windows       # both seeds' models
    assert evaluating[-1].left_s == 0 and "held-out evaluation" in evaluating[-1].message
    assert events.index(evaluating[0]) > max(events.index(e) for e in events if e.phase != "evaluation")


def test_cancel_during_evaluation_keeps_the_models_and_writes_no_result(tiny_movie, every_batch, tmp_path):
    cancel, events = threading.Event(), []

    def stop_evaluating(ev):
        events.append(ev)
        if ev.phase == "evaluation" and ev.done > 0:
            cancel.set()

    config = TrainConfig(depth=2, channels=4, batch=32, iterations=20, eval_every=10, patience=0, device="cpu")
    with pytest.raises(Cancelled, match=r"held-out evaluation cancelled at 128 of 597 windows; no EP rate and no "
                                        r"maps; the trained model is kept in .*model_seed0\.pt") as caught:
        train(tiny_movie, config, callback=stop_evaluating, cancel=cancel, run_dir=tmp_path)
    assert [r.best_iteration for r in caught.value.kept] == [20]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_seed0.pt", "train_log.csv"]   # no partial maps
    with pytest.raises(Exception, match="not a complete run folder"):
        load_run(tmp_path)


def test_a_cancel_that_ended_training_still_gets_the_evaluation(tiny_movie, every_batch):
    cancel = threading.Event()

    def stop_at_first_validation(ev):
        if ev.val_rate is not None:
            cancel.set()

    config = TrainConfig(depth=2, channels=4, batch=32, iterations=1000, eval_every=10, patience=0, device="cpu")
    run = train(tiny_movie, config, callback=stop_at_first_validation, cancel=cancel)
    assert run.summary["stopped"] == "cancelled" and np.isfinite(run.summary["ep_rate"])
    assert not cancel.is_set()          # consumed by training; setting it again would stop the evaluation


def _export_events(write, path):
    events = []
    write(path, events.append, None)
    assert [e.phase for e in events] == ["export"] * len(events) and len(events) >= 2
    done = [e.done for e in events]
    assert done == sorted(done) and done[0] == 0 and done[-1] == events[-1].total
    return events


def _cancelled_export_leaves_the_old_file(write, path):
    path.parent.mkdir()
    path.write_bytes(b"an earlier export")
    cancel = threading.Event()

    def stop(ev):
        if ev.done >= 2:
            cancel.set()

    with pytest.raises(Cancelled, match=f"{path.name}: export cancelled at 3 of .* no file written"):
        write(path, stop, cancel)
    assert path.read_bytes() == b"an earlier export"
    assert [p.name for p in path.parent.iterdir()] == [path.name]      # no partial file beside it


def test_map_stack_export_reports_frames_and_cancels_cleanly(toy_run, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL_S", 0.0)
    write = lambda path, callback, cancel: write_map_stack(toy_run, path, callback, cancel)  # noqa: E731
    events = _export_events(write, tmp_path / "maps.tif")
    assert events[-1].total == len(toy_run.maps) == len(tifffile.imread(tmp_path / "maps.tif"))
    _cancelled_export_leaves_the_old_file(write, tmp_path / "cancelled" / "maps.tif")


def test_overlay_movie_export_reports_frames_and_cancels_cleanly(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL_S", 0.0)
    frames = np.random.default_rng(0).integers(0, 255, (12, 16, 24, 3), dtype=np.uint8)

    def write(path, callback, cancel):
        return write_overlay_movie(path, iter(frames), fps=10, total=len(frames), progress=callback, cancel=cancel)

    assert _export_events(write, tmp_path / "o.avi")[-1].total == 12
    _cancelled_export_leaves_the_old_file(write, tmp_path / "cancelled" / "o.mp4")


def test_the_command_line_bar_names_each_phase():
    out = io.StringIO()
    bar = ProgressBar(out)
    bar(Progress(iteration=30, iterations=100, elapsed_s=3, done=30, total=100, left_s=7))
    bar(Progress(phase="validation", iteration=100, iterations=100, elapsed_s=10, done=20, total=50, left_s=1))
    bar(Progress(phase="evaluation", message="m.tif: held-out evaluation", done=10, total=40, elapsed_s=2, left_s=6))
    bar(Progress(phase="evaluation", message="m.tif: held-out evaluation", done=40, total=40, elapsed_s=8, left_s=0))
    bar(Progress(phase="export", message="o.mp4: export", done=5, total=20, elapsed_s=1, left_s=3))
    lines = out.getvalue().split("\r")
    assert "30/100" in lines[1] and "<7s left" in lines[1]
    assert "100/100 validating 20/50 windows, ~1s left" in lines[2]
    assert "m.tif: held-out evaluation [######" in lines[3] and "10/40 windows" in lines[3] and "~6s left" in lines[3]
    assert lines[4].endswith("\n") and "40/40 windows" in lines[4]
    assert "o.mp4: export" in lines[5] and "5/20 frames" in lines[5] and "~3s left" in lines[5]
