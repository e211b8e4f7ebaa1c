"""The app during long work: the progress of every phase, Cancel in an export, the viewer's scale bar."""

from dataclasses import replace

import pytest

from cneep_engine import Progress
from cneep_gui.plots import TrainingPlots


@pytest.fixture
def shown_run(studio, tiny_movie, toy_run):
    studio.set_data(tiny_movie)
    studio.set_run(toy_run)
    return studio


def test_events_between_validations_add_no_points_to_the_plots(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.reset(None)
    plots.add(Progress(iteration=10, iterations=100, done=10, total=100, left_s=5))              # training
    plots.add(Progress(phase="validation", iteration=20, iterations=100, done=30, total=50))      # validating
    plots.add(Progress(phase="evaluation", done=5, total=40))
    plots.add(Progress(phase="validation", iteration=20, iterations=100, train_loss=0.9, train_rate=1.0,
                       val_loss=0.8, val_rate=1.1, done=50, total=50))
    assert plots.curve_data("vr")[0].tolist() == [20] and plots.curve_data("tr")[1].tolist() == [1.0]


def test_the_panel_shows_each_phase_and_cancel_works_again_for_the_evaluation(studio):
    panel = studio.training_panel
    panel.set_running(True)
    panel.show_progress(Progress(seed_index=0, n_seeds=2, iteration=50, iterations=100, elapsed_s=10, done=50,
                                 total=100, left_s=30))
    assert panel.progress.value() == 250 and panel.status.text() == "training: 10 s elapsed, at most 30 s left"
    panel.show_progress(Progress(phase="validation", seed_index=1, n_seeds=2, iteration=100, iterations=100,
                                 done=20, total=50, left_s=2))
    assert panel.progress.value() == 1000 and panel.status.text().startswith("validating: 20/50 windows")
    panel.cancel_button.click()                            # stops training: the best model is then evaluated
    assert not panel.cancel_button.isEnabled()
    panel.show_progress(Progress(phase="evaluation", done=100, total=400, elapsed_s=3, left_s=9))
    assert panel.progress.value() == 250 and panel.progress.text() == "held-out evaluation: 100/400 windows"
    assert "about 9 s left" in panel.status.text() and panel.cancel_button.isEnabled()


def test_cancelling_an_overlay_movie_leaves_no_file(shown_run, tmp_path, pick_file, qtbot):
    (tmp_path / "out").mkdir()
    pick_file(tmp_path / "out" / "overlay.mp4")
    {a.text(): a for a in shown_run.export_actions}["Overlay movie (MP4 or AVI)…"].trigger()
    assert shown_run.training_panel.cancel_button.isEnabled()
    shown_run.training_panel.cancel_button.click()
    qtbot.waitUntil(lambda: shown_run.job is None, timeout=30_000)
    assert "export cancelled" in shown_run.error_box.text() and "no file written" in shown_run.error_box.text()
    assert list((tmp_path / "out").iterdir()) == []
    assert all(a.isEnabled() for a in shown_run.export_actions)


def test_scale_bar_in_the_viewer_follows_the_pixel_size_and_its_toggle(studio, tiny_movie):
    studio.set_data(replace(tiny_movie, pixel_size=0.2))               # 40 px = 8 µm: a 2 µm bar
    bar = studio.movie_view.scale_bar
    assert bar.isVisible() and bar.size == 10 and bar.text.toPlainText() == "2 µm"
    studio.movie_panel.scale_bar.setChecked(False)
    assert not studio.movie_view.scale_bar.isVisible()
    studio.movie_panel.scale_bar.setChecked(True)
    studio.movie_panel.pixel_size.setValue(0.5)                          # 20 µm wide: a 5 µm bar of 10 px
    assert studio.movie_view.scale_bar.text.toPlainText() == "5 µm" and studio.movie_view.scale_bar.size == 10
    studio.set_data(replace(tiny_movie, pixel_size=1.0, pixel_size_source="default"))   # not known: no bar
    assert studio.movie_view.scale_bar is None and not studio.movie_panel.scale_bar.isEnabled()


def test_a_job_scrolls_its_progress_into_view_in_a_short_training_dock(studio, qtbot, tiny_movie, tiny_config):
    studio.resize(1200, 700)
    studio.set_data(tiny_movie)
    studio.training_panel.set_config(tiny_config)
    area, panel = studio.docks["Training"].widget(), studio.training_panel
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0)     # the settings overflow the dock

    def in_view(widget) -> bool:
        top = widget.mapTo(area.viewport(), widget.rect().topLeft()).y()
        return 0 <= top and top + widget.height() <= area.viewport().height()

    area.verticalScrollBar().setValue(0)
    assert not in_view(panel.progress)
    panel.train_button.click()
    assert in_view(panel.progress) and in_view(panel.status)
    panel.plan.setText("<br>".join(["a plan of many lines"] * 20))    # a plan that ends during training
    qtbot.waitUntil(lambda: panel.plan.height() > 200)
    assert in_view(panel.progress) and in_view(panel.status)
    studio.cancel_job()
    qtbot.waitUntil(lambda: studio.job is None, timeout=60_000)


def test_the_log_says_once_that_the_held_out_evaluation_runs(studio):
    for done in (0, 10, 20, 30):
        studio._training_progress(Progress(phase="evaluation", done=done, total=30, elapsed_s=done / 10,
                                           message="beads: held-out evaluation"))
    lines = studio.log_panel.toPlainText().splitlines()
    assert sum("held-out evaluation" in line for line in lines) == 1
    assert lines[-1].endswith("beads: held-out evaluation of 30 windows…")
