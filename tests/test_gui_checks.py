"""Before Train, the app shows what in the input can fake a time arrow, and the run keeps it."""

from dataclasses import replace

from test_timearrow import blob_movie


def test_a_drifting_movie_is_flagged_before_training_and_in_the_results(studio, qtbot, tiny_config):
    studio.set_data(blob_movie((0.0, 0.093), seed=4))
    plan = studio.training_panel.plan
    qtbot.waitUntil(lambda: "drifts" in plan.text(), timeout=60_000)
    assert "per iteration" in plan.text() and "--register" in plan.text()
    studio.training_panel.set_config(replace(tiny_config, iterations=10, eval_every=5))
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None and studio.run is not None, timeout=60_000)
    assert "drifts" in studio.summary.text()
    assert studio.run.summary["input_checks"]["drift_px_per_frame"][1] > 0.05
