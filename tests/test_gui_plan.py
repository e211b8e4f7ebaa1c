"""Next to Train, the app shows the memory and time of the run before it starts, and updates them."""

import numpy as np

from cneep_engine import Movie


def test_the_plan_next_to_train_follows_the_input_and_the_settings(studio, qtbot, monkeypatch):
    monkeypatch.setenv("CNEEP_TRAIN_BUDGET", "64M")
    rng = np.random.default_rng(0)
    studio.set_data(Movie(frames=rng.integers(0, 255, (3, 30, 120, 160), dtype=np.uint8), dt=0.05))
    plan = studio.training_panel.plan
    qtbot.waitUntil(lambda: "per iteration" in plan.text(), timeout=30_000)
    assert "lowered from 1024" in plan.text() and "peak memory about" in plan.text()
    studio.training_panel.boxes["batch"].setValue(2)
    qtbot.waitUntil(lambda: "batch 2<br>" in plan.text(), timeout=30_000)
    assert "lowered" not in plan.text()
