"""Settings are declared once: the CLI's options, its checks, `cneep list` and the app's form all come from there."""

import argparse
import json
import math
from dataclasses import replace

import pytest

from cneep_engine import BeadRenderer, BeadSpringChain, CneepError, FlashingRatchet, TrainConfig
from cneep_engine.cli import main
from cneep_engine.params import add_options, from_options, specs


def _parser(*classes) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    for cls in classes:
        add_options(p, cls)
    return p


def test_options_parse_back_into_the_declared_settings():
    args = _parser(TrainConfig).parse_args(["--iters", "300", "--lr", "1e-3", "--schedule", "plateau",
                                            "--layers", "3", "--val-fraction", "0.3"])
    config = from_options(TrainConfig, args, model="neep")
    assert config == TrainConfig(model="neep", iterations=300, lr=1e-3, schedule="plateau", layers=3,
                                 val_fraction=0.3)
    # nothing given: the declared defaults
    assert from_options(TrainConfig, _parser(TrainConfig).parse_args([])) == TrainConfig()
    chain = from_options(BeadSpringChain, _parser(BeadSpringChain).parse_args(["--beads", "5", "--th", "4"]))
    assert chain == BeadSpringChain(beads=5, th=4.0)
    flags = _parser(BeadRenderer)
    assert from_options(BeadRenderer, flags.parse_args(["--poisson"])).poisson
    assert not from_options(BeadRenderer, flags.parse_args(["--no-poisson"])).poisson


@pytest.mark.parametrize("cls, values, message", [
    (TrainConfig, {"batch": 0}, "--batch (batch) must be at least 1, not 0"),
    (TrainConfig, {"val_fraction": 0.95}, "--val-fraction (validation part) must be at most 0.9, not 0.95"),
    (TrainConfig, {"lr": math.nan}, "--lr (learning rate) must be a finite number"),
    (TrainConfig, {"schedule": "linear"}, "--schedule must be one of cosine, plateau, constant, not 'linear'"),
    (BeadSpringChain, {"gamma": 0.0}, "--gamma (friction γ) must be above 0, not 0"),
    (BeadRenderer, {"dtype": "float32"}, "--dtype must be one of uint8, uint16"),
    (FlashingRatchet, {"rate": -1.0}, "--rate (switching rate) must be above 0, not -1"),
])
def test_values_out_of_their_declared_range_are_refused_naming_the_option(cls, values, message):
    with pytest.raises(CneepError) as e:
        cls(**values)
    assert str(e.value).startswith(message)


def test_the_command_line_help_shows_every_declared_setting_with_its_range(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())   # argparse wraps lines
    for p in specs(TrainConfig):
        assert p.option in text and " ".join(p.spec.help.split()[:4]) in text
    assert "--iters ITERATIONS training steps at most" in text and "(2 to 512)" in text
    assert "(1 to 4096; neep, rneep only)" in text


def test_simulate_options_come_from_the_systems_and_are_checked(tmp_path, capsys):
    assert main(["simulate", "bead-spring", "--tc", "0", "-o", str(tmp_path / "m.tif")]) == 2
    assert "--tc (cold bath tc) must be above 0" in capsys.readouterr().err
    assert main(["simulate", "bead-spring", "--cell", "4", "--binning", "5", "-o", str(tmp_path / "m.tif")]) == 2
    assert "--binning 5 is larger than the bead cell" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    assert main(["simulate", "ratchet", "--potential", "3", "--steps", "50", "-o", str(tmp_path / "r.npy")]) == 0
    assert "r.npy" in capsys.readouterr().out


def test_every_system_is_a_simulate_command_with_its_declared_options(capsys):
    from cneep_engine.registry import SYSTEMS
    for system in SYSTEMS.values():
        with pytest.raises(SystemExit):
            main(["simulate", system.name, "--help"])
        help_text = capsys.readouterr().out
        assert system.summary.split(",")[0] in " ".join(help_text.split())
        assert all(p.option in help_text for p in system.params()) and "--output" in help_text


def test_cneep_list_json_names_every_estimator_and_system_with_its_parameters(capsys):
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    estimators = {e["name"]: e for e in listing["estimators"]}
    assert {"cneep", "neep", "rneep"} <= set(estimators)
    assert estimators["cneep"]["accepts"] == ["movie"] and "states" in estimators["rneep"]["accepts"]
    cneep = {p["option"] for p in estimators["cneep"]["params"]}
    neep = {p["option"] for p in estimators["neep"]["params"]}
    assert {"--channels", "--depth", "--iters"} <= cneep and "--hidden" not in cneep
    assert {"--hidden", "--layers", "--iters"} <= neep and "--channels" not in neep
    seq_len = next(p for p in estimators["cneep"]["params"] if p["name"] == "seq_len")
    assert (seq_len["default"], seq_len["low"], seq_len["high"], seq_len["type"]) == (2, 2, 512, "int")
    systems = {s["name"]: s for s in listing["systems"]}
    assert {p["option"] for p in systems["bead-spring"]["params"]} >= {"--beads", "--th", "--psf-sigma"}
    assert [p["option"] for p in systems["ratchet"]["params"]] == ["--potential", "--rate", "--trajectories", "--steps",
                                                                   "--partial", "--seed"]
    dt = next(p for p in systems["bead-spring"]["params"] if p["name"] == "dt")
    assert dt["unit"] == "s" and dt["above"] == 0


def test_the_apps_training_form_is_built_from_the_same_declarations(qtbot):
    from cneep_gui.training_panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    shown = [p for p in specs(TrainConfig) if p.spec.app]
    assert list(panel.boxes) == [p.name for p in shown]
    for p in shown:
        box = panel.boxes[p.name]
        assert box.value() == pytest.approx(p.default) and box.minimum() == pytest.approx(p.spec.low)
        assert p.spec.help.split(";")[0][1:] in box.toolTip() and box.toolTip().endswith(f"Command line: {p.option}")
        if p.spec.high is not None:
            assert box.maximum() == pytest.approx(p.spec.high)
    panel.boxes["iterations"].setValue(123)
    assert panel.config().iterations == 123


def test_the_generators_forms_are_built_from_the_systems_declarations(qtbot):
    from cneep_engine.registry import SYSTEMS
    from cneep_gui.generate_dialog import GenerateDialog
    dialog = GenerateDialog()
    qtbot.addWidget(dialog)
    assert [dialog.system.itemText(i) for i in range(dialog.system.count())] == list(SYSTEMS)
    for system in SYSTEMS.values():
        dialog.system.setCurrentText(system.name)
        assert system.summary[1:] in dialog.summary.text()
        assert list(dialog.forms[system.name]) == list(system.configs)
        for cls, form in dialog.forms[system.name].items():
            assert list(form.widgets) == [p.name for p in specs(cls)]
            assert form.build() == cls()                               # the declared defaults
        assert dialog.request() == (system, [cls() for cls in system.configs])
    dt = next(p for p in specs(BeadSpringChain) if p.name == "dt")
    dialog.system.setCurrentText("bead-spring")
    chain, camera, sampling = dialog.forms["bead-spring"].values()
    box = chain["dt"]
    assert box.suffix() == " s" and dt.spec.help[1:] in box.toolTip() and box.minimum() == pytest.approx(1e-5)
    camera["poisson"].setChecked(True)
    camera["dtype"].setCurrentText("uint16")
    chain["th"].setValue(4.0)
    _, (c, renderer, how) = dialog.request()
    assert renderer.poisson and renderer.dtype == "uint16" and c.th == 4.0 and how.trajectories is None
    assert sampling["trajectories"].text() == "none"                  # an optional setting left unset
    sampling["trajectories"].setValue(3)
    assert dialog.request()[1][2].trajectories == 3
    dialog.system.setCurrentText("ratchet")
    dialog.forms["ratchet"][FlashingRatchet]["rate"].setValue(0.5)
    assert dialog.request()[1][0] == FlashingRatchet(rate=0.5)


def test_a_preview_is_the_least_data_of_the_same_settings_with_the_same_exact_ep():
    from cneep_engine import Movie
    from cneep_engine.registry import SYSTEMS

    def short(c, **more):   # 30 frames, and whatever else is given, where the class declares it
        return replace(c, **{n: v for n, v in {"frames": 30, "steps": 30, **more}.items() if hasattr(c, n)})

    for system in SYSTEMS.values():
        defaults = [replace(cls(), **{n: v for n, v in system.quick.items() if hasattr(cls, n)})
                    for cls in system.configs]   # a long system without its burn-in
        # as declared, and, where a sampling setting offers it, as trajectories instead of movies
        for configs in {tuple(short(c) for c in defaults), tuple(short(c, trajectories=2) for c in defaults)}:
            data, sample = system.simulate(*configs), system.preview(*configs)
            series = data.n_movies if isinstance(data, Movie) else data.n_trajectories
            assert system.amount(*configs) == (series, 30)
            assert system.writes(*configs) == ("movie" if isinstance(data, Movie) else data.kind)
            assert type(sample) is type(data) and sample.n_frames == 2
            assert (sample.n_movies if isinstance(data, Movie) else sample.n_trajectories) == 1
            if data.truth.params.get("sigma_exact", True):   # else a Monte Carlo value of the length simulated
                assert (sample.truth.sigma, sample.truth.sigma_2pt) == (data.truth.sigma, data.truth.sigma_2pt)
