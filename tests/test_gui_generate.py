"""File > Generate synthetic data…: every system of the registry, as a movie and as trajectories where it offers
both, generated small in the real window and opened with its exact EP."""

import pytest
from PyQt6.QtWidgets import QDialogButtonBox, QPushButton

from cneep_engine import Movie, Trajectories
from cneep_engine.registry import LEAST, SYSTEMS
from cneep_gui.generate_dialog import GenerateDialog, exact

# Small enough to generate in well under a second; trajectories only where the system offers them instead of movies.
SMALL = {"movies": 3, "frames": 60, "steps": 60}


def _variants():
    for system in SYSTEMS.values():
        yield system.name, {}
        if any(p.name == "trajectories" and p.optional for p in system.params()):
            yield system.name, {"trajectories": 3}


@pytest.mark.parametrize("name, more", list(_variants()))
def test_every_system_generates_small_data_that_opens_with_its_exact_ep(studio, qtbot, name, more):
    system = SYSTEMS[name]
    dialog = studio.generate_dialog()
    dialog.system.setCurrentText(name)
    for form in dialog.forms[name].values():
        for field, v in {**SMALL, **more, **system.quick}.items():   # a long system without its burn-in
            if field in form.widgets and (field in LEAST or field in system.quick):
                form[field].setValue(v)
    dialog.update_preview()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled(), dialog.message.text()
    series, frames = system.amount(*dialog.request()[1])
    assert dialog.message.text().startswith(f"{series} ") and f" × {frames} frames of " in dialog.message.text()
    movie = system.writes(*dialog.request()[1]) == "movie"
    assert dialog.preview.isVisibleTo(dialog) == movie
    for cls in system.movie_configs:
        assert dialog.groups[name][cls].isVisibleTo(dialog) == movie
    ok.click()
    qtbot.waitUntil(lambda: studio.job is None and studio.data is not None, timeout=30_000)
    data = studio.data
    assert isinstance(data, Movie if movie else Trajectories) and data.truth is not None and data.path is None
    assert data.n_frames == frames
    assert (data.n_movies if movie else data.n_trajectories) == series
    assert studio.views.currentWidget() is (studio.movie_view if movie else studio.trajectory_view)
    said = exact(data, system)
    assert said in studio.log_panel.toPlainText()
    if data.truth.params.get("sigma_exact", True):
        assert said.startswith(f"exact EP rate σ = {data.truth.sigma:.4g} k_B/{system.time_unit}")
    else:   # a Monte Carlo value is not called exact; an active system names its convention
        label = data.truth.params.get("sigma_label", "σ")
        assert said.startswith(f"EP rate {label} ≈ {data.truth.sigma:.4g}") and "exact EP" not in said
    # The two-frame ceiling is drawn where the system has an exact one; sigma unless it holds EP the data hide.
    hidden = "hidden" in data.truth.params
    ceiling = [data.truth.sigma_2pt] if data.truth.params.get("sigma_2pt_exact", True) else []
    sigma = [] if hidden else [data.truth.sigma]
    assert [line.value() for line in studio.training_plots.truth_lines] == [*sigma, *ceiling]
    assert (data.truth.params.get("hidden", "") in said) and hidden == (name in ("aoup", "active-pair", "mips"))


def test_one_menu_entry_generates_every_system(studio):
    action = studio.generate_action
    assert action.text() == "&Generate synthetic data…" and action.shortcut().toString() == "Ctrl+G"
    action.trigger()
    dialog, = studio.findChildren(GenerateDialog)
    assert dialog.isVisible() and [dialog.system.itemText(i) for i in range(dialog.system.count())] == list(SYSTEMS)


def test_settings_groups_are_titled_in_words_with_acronyms_kept():
    from cneep_gui.generate_dialog import title
    from cneep_engine.synth import BeadRenderer, TrappedAOUP
    assert (title(BeadRenderer), title(TrappedAOUP)) == ("Bead renderer", "Trapped AOUP")


def test_a_long_simulation_shows_its_progress_and_cancel_stops_it_without_an_error(studio, qtbot):
    from cneep_gui.generate_dialog import GenerationProgress
    dialog = studio.generate_dialog()
    dialog.system.setCurrentText("mips")
    assert "not previewed" in dialog.message.text() and "convention B" in dialog.message.text()
    discs, _, _, sampling = dialog.forms["mips"].values()
    discs["particles"].setValue(64)
    sampling["burn_in"].setValue(1e6)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    progress = studio.generation_progress
    assert isinstance(progress, GenerationProgress)
    qtbot.waitUntil(lambda: progress.value() > 0 and "time steps" in progress.labelText(), timeout=10_000)
    assert progress.isVisible() and "s left" in progress.labelText()
    progress.findChild(QPushButton).click()   # its Cancel button
    qtbot.waitUntil(lambda: studio.job is None, timeout=10_000)
    assert studio.data is None and not progress.isVisible()
    assert "simulating mips cancelled at" in studio.log_panel.toPlainText()
    assert getattr(studio, "error_box", None) is None
@pytest.mark.parametrize("name, renderer", [("aoup", "ParticleRenderer"), ("active-pair", "BeadRenderer")])
def test_active_particles_show_their_renderer_only_for_a_movie_and_say_what_it_hides(qtbot, name, renderer):
    dialog = GenerateDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.system.setCurrentText(name)
    forms = dialog.forms[name]
    group = next(g for cls, g in dialog.groups[name].items() if cls.__name__ == renderer)
    sampling = next(f for f in forms.values() if "trajectories" in f.widgets)
    model = next(iter(forms.values()))
    for field, v in {"particles": 1, "frames": 2, "movies": 1}.items():
        if field in model.widgets or field in sampling.widgets:
            (model if field in model.widgets else sampling)[field].setValue(v)
    dialog.update_preview()
    assert group.isVisibleTo(dialog) and dialog.preview.isVisibleTo(dialog)
    assert "a movie shows positions only" in dialog.message.text()
    sampling["trajectories"].setValue(2)
    dialog.update_preview()
    assert not group.isVisibleTo(dialog) and not dialog.preview.isVisibleTo(dialog)
    assert "positions only: the propulsion's EP" in dialog.message.text()


def test_mips_shows_its_renderer_and_a_preview_frame_only_for_a_movie(qtbot):
    from cneep_engine.synth.mips_movie import DiscRenderer
    dialog = GenerateDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.system.setCurrentText("mips")
    discs, _, renderer, sampling = dialog.forms["mips"].values()
    group = dialog.groups["mips"][DiscRenderer]
    discs["particles"].setValue(64)
    dialog.update_preview()
    assert group.isVisibleTo(dialog) and dialog.preview.isVisibleTo(dialog)
    assert dialog.message.text().startswith("1 movie × 200 frames of 64 × 64")
    assert "not previewed" in dialog.message.text()
    sampling["trajectories"].setValue(2)
    dialog.update_preview()
    assert not group.isVisibleTo(dialog) and not dialog.preview.isVisibleTo(dialog)
