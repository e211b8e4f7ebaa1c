"""A training that runs away (held-out <exp(-dS)> explodes) or diverges stops, keeps its last sane model and says why."""

import numpy as np
import pytest
import torch

from cneep_engine import CneepError, train
from cneep_engine.run import load_run
from cneep_engine.training import Trainer


def _explode_after(monkeypatch, validations: int, value: float, others: float | None = None,
                   train_ds: float = 1.0) -> None:
    """From validation number `validations` + 1 on, one held-out window gets dS = value (and the others
    `others`, when given). Training batches report a mean dS of `train_ds`, so the training rate the held-out
    rate is compared with does not depend on where a short training lands."""
    calls = {"n": 0}
    predict, step = Trainer.predict, Trainer.step

    def predicting(self, model, starts, report=None):
        out = predict(self, model, starts, report)
        if len(starts) == len(self.val_starts):
            calls["n"] += 1
            if calls["n"] > validations:
                if others is not None:
                    out[:] = others
                out[0] = value
        return out

    def stepping(self, *args):
        loss, _ = step(self, *args)
        return loss, torch.tensor(train_ds)
    monkeypatch.setattr(Trainer, "predict", predicting)
    monkeypatch.setattr(Trainer, "step", stepping)


def test_a_single_exploding_window_is_never_kept_as_the_best_model():
    low = torch.ones(5000) + 0.1 * torch.randn(5000, generator=torch.Generator().manual_seed(0))
    tied = low + 0.01 * torch.randn(5000, generator=torch.Generator().manual_seed(1))
    exploded = tied.clone()
    exploded[17] = 6.5e28
    assert Trainer._not_worse(tied, low)
    assert not Trainer._not_worse(exploded, low)
    assert not Trainer._not_worse(torch.full((10,), float("inf")), None)


def test_a_run_that_runs_away_stops_keeps_the_last_sane_model_and_explains(tiny_movie, tiny_config, tmp_path,
                                                                           monkeypatch):
    # exp(200) overflows float32: an infinite loss. The other held-out windows follow the training windows'
    # arrow, as they do when the movie drifts.
    _explode_after(monkeypatch, validations=2, value=-200.0, others=5.0)
    events = []
    run = train(tiny_movie, tiny_config, callback=events.append, run_dir=tmp_path)
    s = run.summary
    assert s["stopped"] == "ran away" and s["iterations"] == 3 * tiny_config.eval_every
    assert s["best_iteration"] == 2 * tiny_config.eval_every      # the last model validated before it ran away
    trained = [e for e in events if e.phase != "evaluation"]     # the held-out evaluation's events come after
    assert trained[-1].message == "ran away" and trained[-2].val_log_ift > np.log(1e3)
    assert np.isfinite(s["ep_rate"]) and np.isfinite(run.ds).all()
    [warning] = [w for w in s["warnings"] if "ran away" in w]
    assert "ran away at iteration 30" in warning and "drift" in warning and "iteration 20" in warning
    from cneep_engine.verdict import describe
    assert describe(s).endswith("training ran away: not a measure of dissipation until the warnings are resolved")
    again = load_run(tmp_path)
    assert again.summary["warnings"] == s["warnings"]
    np.testing.assert_array_equal(again.ds, run.ds)


def test_a_network_that_learns_its_training_windows_by_heart_overfitted_and_its_result_stands(
        tiny_movie, tiny_config, tmp_path, monkeypatch):
    # The held-out windows do not share the training windows' arrow: their rate falls while training's rises.
    _explode_after(monkeypatch, validations=2, value=-200.0, others=0.0)
    run = train(tiny_movie, tiny_config, run_dir=tmp_path)
    s = run.summary
    assert s["stopped"] == "overfitted" and s["best_iteration"] == 2 * tiny_config.eval_every
    [warning] = [w for w in s["warnings"] if "by heart" in w]
    assert "iteration 20" in warning and "training windows" in warning and "more frames" in warning
    assert "ran away" not in " ".join(s["warnings"])
    from cneep_engine.verdict import advice, describe
    assert "not a measure" not in describe(s)
    assert any("by heart" in a and "more or longer movies" in a for a in advice(s))
    # Only the two validations before the kept model count for convergence, and they are too few to judge.
    assert s["converged"] is False and any("only 2 validations" in w for w in s["warnings"])


def test_the_cause_of_a_runaway_is_told_by_whether_the_held_out_rate_follows_the_training_rate():
    from cneep_engine.training import _runaway
    assert _runaway(919.0, 622.0) == "ran away"          # a drifting movie: the arrow carries over
    assert _runaway(-919.0, -622.0) == "ran away"        # the same movie played backwards
    assert _runaway(233.0, -44.0) == "overfitted"        # registered: only the training windows have it
    assert _runaway(233.0, 20.0) == "overfitted"
    assert _runaway(0.0, 5.0) == "ran away"


def test_a_run_that_runs_away_before_any_model_was_kept_is_an_error(tiny_movie, tiny_config, tmp_path, monkeypatch):
    _explode_after(monkeypatch, validations=0, value=-200.0, others=5.0)
    with pytest.raises(CneepError, match="no model to keep.*ran away at iteration 10"):
        train(tiny_movie, tiny_config, run_dir=tmp_path)
    assert (tmp_path / "train_log.csv").is_file()


def test_a_non_finite_estimate_is_a_divergence(tiny_movie, tiny_config, monkeypatch):
    _explode_after(monkeypatch, validations=1, value=float("nan"))
    run = train(tiny_movie, tiny_config)
    assert run.summary["stopped"] == "diverged" and run.summary["best_iteration"] == tiny_config.eval_every
    assert "learning rate" in run.summary["warnings"][0]
