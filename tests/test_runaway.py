"""A training that runs away (held-out <exp(-dS)> explodes) or diverges stops, keeps its last sane model and says why."""

import numpy as np
import pytest
import torch

from cneep_engine import CneepError, train
from cneep_engine.run import load_run
from cneep_engine.training import Trainer


def _explode_after(monkeypatch, validations: int, value: float) -> None:
    """From validation number `validations` + 1 on, one held-out window gets dS = value."""
    calls = {"n": 0}
    predict = Trainer.predict

    def predicting(self, model, starts, report=None):
        out = predict(self, model, starts, report)
        if len(starts) == len(self.val_starts):
            calls["n"] += 1
            if calls["n"] > validations:
                out[0] = value
        return out
    monkeypatch.setattr(Trainer, "predict", predicting)


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
    _explode_after(monkeypatch, validations=2, value=-200.0)   # exp(200) overflows float32: an infinite loss
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


def test_a_run_that_runs_away_before_any_model_was_kept_is_an_error(tiny_movie, tiny_config, tmp_path, monkeypatch):
    _explode_after(monkeypatch, validations=0, value=-200.0)
    with pytest.raises(CneepError, match="no model to keep.*ran away at iteration 10"):
        train(tiny_movie, tiny_config, run_dir=tmp_path)
    assert (tmp_path / "train_log.csv").is_file()


def test_a_non_finite_estimate_is_a_divergence(tiny_movie, tiny_config, monkeypatch):
    _explode_after(monkeypatch, validations=1, value=float("nan"))
    run = train(tiny_movie, tiny_config)
    assert run.summary["stopped"] == "diverged" and run.summary["best_iteration"] == tiny_config.eval_every
    assert "learning rate" in run.summary["warnings"][0]
