"""File > Apply trained model…: a run's model on the open movie, its progress and Cancel, the result as a run."""

from dataclasses import replace

import pytest

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring, train
from cneep_gui import settings


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, _tiny_movie_once):
    """A run trained for a few steps on the 3 tiny synthetic movies."""
    folder = tmp_path_factory.mktemp("apply") / "run"
    train(replace(_tiny_movie_once), TrainConfig(depth=2, channels=4, batch=64, iterations=20, eval_every=10,
                                                 patience=0, device="cpu"), run_dir=folder)
    return folder


def test_apply_opens_the_result_like_a_run(studio, qtbot, run_dir, pick_file):
    new = simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=2, frames=100, seed=11)
    assert not studio.apply_action.isEnabled()       # nothing open to apply it to
    studio.set_data(new)
    pick_file(run_dir)
    studio.apply_action.trigger()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    s = studio.run.summary
    assert s["applied"]["run"] == str(run_dir.resolve()) and s["test_windows"] == 2 * 99
    text = studio.summary.text()
    assert "EP rate" in text and "not retrained" in text and "two-frame" in text
    assert studio.movie_view.overlay.isVisible() and studio.save_run_action.isEnabled()
    assert studio.training_panel.progress.value() == studio.training_panel.progress.maximum()
    (out,) = settings.runs_dir().iterdir()
    assert {"summary.json", "dissipation_maps.tif", "movie.tif"} <= {p.name for p in out.iterdir()}


def test_cancel_and_refusal_leave_no_result(studio, qtbot, run_dir):
    studio.set_data(simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=2, frames=400, seed=12))
    studio.apply_model(run_dir)
    studio.cancel_job()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    assert "cancelled; nothing written" in studio.error_box.text() and studio.run is None
    assert not settings.runs_dir().exists() or not any(settings.runs_dir().iterdir())

    studio.set_data(simulate_bead_spring(BeadSpringChain(), BeadRenderer(cell=24), movies=1, frames=50))
    studio.apply_model(run_dir)
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)
    assert "but the model reads 20x40 px frames" in studio.error_box.text() and studio.run is None
    assert studio.apply_action.isEnabled()
