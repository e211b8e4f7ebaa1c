"""Nothing lost, nothing mixed up: run folders, sources, ground truth and faults, each made here and checked."""

import hashlib
import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from cneep_engine import CneepError, TrainConfig, load_movie, load_run, save_movie, train
from cneep_engine import run_folder, training
from cneep_engine.cli import main
from cneep_engine.export import open_run
from cneep_engine.io import load_trajectories, sidecar_path

FAST = ["--iters", "20", "--eval-every", "10", "--batch", "32", "--channels", "4", "--val-samples", "200",
        "--device", "cpu", "-q"]


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fast(config: TrainConfig) -> TrainConfig:
    return replace(config, iterations=20, val_samples=200)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# 1. sources are never results --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dissipation_maps.tif", "ep_trace.csv"])
def test_an_input_under_a_result_name_is_refused_and_untouched(tmp_path, tiny_movie, name, capsys):
    folder = tmp_path / "self"
    folder.mkdir()
    src = folder / name
    if name.endswith(".tif"):
        save_movie(tiny_movie, src)
    else:
        assert main(["simulate", "ratchet", "--steps", "300", "--trajectories", "3", "-o", str(src)]) == 0
    before = {p.name: _hash(p) for p in folder.iterdir()}
    assert main(["train", str(src), "-o", str(folder), *FAST]) == 2
    assert "has the name of a result file the run would write there" in capsys.readouterr().err
    assert {p.name: _hash(p) for p in folder.iterdir()} == before


def test_an_empty_output_name_is_refused_and_the_current_folder_untouched(tmp_path, tiny_movie, monkeypatch, capsys):
    save_movie(tiny_movie, tmp_path / "beads.tif")
    (tmp_path / "config.json").write_text("mine")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["train", "beads.tif", "-o", "", *FAST])
    assert stop.value.code == 2 and "empty name" in capsys.readouterr().err
    assert (tmp_path / "config.json").read_text() == "mine" and not (tmp_path / "summary.json").exists()
    with pytest.raises(CneepError, match="empty run folder name"):
        train(tiny_movie, TrainConfig(), run_dir="")


def test_an_image_folder_is_not_a_run_folder(tmp_path, tiny_movie):
    folder = tmp_path / "images"
    folder.mkdir()
    for t in range(30):
        tifffile.imwrite(folder / f"f{t}.tif", np.asarray(tiny_movie.frames[0, t]))
    with pytest.raises(CneepError, match="is the input folder"):
        train(load_movie(folder), TrainConfig(), run_dir=folder)
    assert not run_folder.is_run_folder(folder) and len(list(folder.iterdir())) == 30


# 2. settings and model are checked before the folder is touched -----------------------------------------
@pytest.mark.parametrize("option", [["--depth", "0"], ["--channels", "0"], ["--seq-len", "1"], ["--depth", "10"],
                                    ["--seq-len", "0"], ["--eval-every", "0"]])
def test_a_bad_setting_leaves_the_earlier_run(tmp_path, tiny_movie, toy_run, option, capsys):
    movie = tmp_path / "beads.tif"
    save_movie(tiny_movie, movie)
    toy_run.summary["input"] = str(movie)
    toy_run.save(tmp_path / "run")
    before = {p.name: _hash(p) for p in (tmp_path / "run").iterdir()}
    assert main(["train", str(movie), "-o", str(tmp_path / "run"), *FAST, *option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and f"{option[0]}" in err or "too small" in err
    assert {p.name: _hash(p) for p in (tmp_path / "run").iterdir()} == before


def test_a_model_too_deep_for_the_frame_fails_before_building_it(tiny_movie, monkeypatch):
    built = []
    monkeypatch.setattr(torch.nn.Conv2d, "__init__", lambda *a, **k: built.append(a) or (_ for _ in ()).throw(
        AssertionError("a layer was built")))
    with pytest.raises(CneepError, match="too small for depth 10"):
        training.Trainer(tiny_movie, TrainConfig(depth=10, device="cpu"))
    assert built == []


# 3. a sidecar belongs to one movie -----------------------------------------------------------------------
def test_sidecars_are_named_after_the_full_name_and_checked(tmp_path, tiny_movie, _tiny_movie_once):
    from cneep_engine import BeadRenderer, BeadSpringChain, simulate_bead_spring
    one, two = tmp_path / "exp.1.tif", tmp_path / "exp.2.tif"
    save_movie(tiny_movie, one)
    other = simulate_bead_spring(BeadSpringChain(th=40), BeadRenderer(), movies=3, frames=200, seed=8)
    save_movie(other, two)
    assert sidecar_path(one).name == "exp.1.truth.npz" and sidecar_path(two).name == "exp.2.truth.npz"
    assert load_movie(one).truth.sigma == pytest.approx(tiny_movie.truth.sigma)
    assert load_movie(two).truth.sigma == pytest.approx(other.truth.sigma)
    # Same shape, other frames: refused, both files named; the sources stay as they were.
    hashes = {p: _hash(p) for p in (one, two, sidecar_path(two))}
    os.replace(sidecar_path(two), sidecar_path(one))
    with pytest.raises(CneepError, match=r"exp\.1\.truth\.npz: ground truth of another movie, not of .*exp\.1\.tif "
                                         r"\(same shape, different frames\)"):
        load_movie(one)
    # Another system (3 beads: wider frames) with as many frames: refused too.
    three = simulate_bead_spring(BeadSpringChain(beads=3), BeadRenderer(), movies=3, frames=200, seed=9)
    save_movie(three, tmp_path / "three.tif")
    os.replace(sidecar_path(tmp_path / "three.tif"), sidecar_path(one))
    with pytest.raises(CneepError, match=r"another movie.*shape \[3, 200, 20, 60\], not \[3, 200, 20, 40\]"):
        load_movie(one)
    assert _hash(one) == hashes[one] and _hash(two) == hashes[two]


def test_a_movie_and_coordinates_of_one_name_do_not_share_a_sidecar(tmp_path, tiny_movie, capsys):
    """m.tif and m.npz would both write m.truth.npz: the second is refused before anything is written, by
    save_movie, save_trajectories and `cneep simulate` alike, and the first keeps its truth."""
    from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
    from cneep_engine.io import save_trajectories
    movie = save_movie(tiny_movie, tmp_path / "m.tif")
    kept = _hash(sidecar_path(movie))
    coords = simulate_bead_spring_trajectories(BeadSpringChain(), trajectories=2, frames=50, seed=1)
    with pytest.raises(CneepError, match=r"m\.npz: its ground truth would replace m\.truth\.npz, which holds "
                                         r"that of m\.tif"):
        save_trajectories(coords, tmp_path / "m.npz")
    assert main(["simulate", "bead-spring", "--trajectories", "2", "--frames", "50", "-o",
                 str(tmp_path / "m.csv")]) == 2
    assert "which holds that of m.tif" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "m.csv").exists()
    assert _hash(sidecar_path(movie)) == kept and load_movie(movie).truth is not None
    movie.unlink()                             # once the movie is gone, the name is free
    save_trajectories(coords, tmp_path / "m.npz")
    assert load_trajectories(tmp_path / "m.npz").truth.sigma == pytest.approx(coords.truth.sigma)

def test_a_sidecar_without_fingerprint_is_used_with_a_note(tmp_path, tiny_movie):
    path = save_movie(tiny_movie, tmp_path / "beads.tif")
    side = sidecar_path(path)
    with np.load(side) as z:
        arrays = dict(z)
    meta = json.loads(str(arrays.pop("meta")))
    del meta["fingerprint"]
    with open(side, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
    movie = load_movie(path)
    assert movie.truth is not None and any("no fingerprint" in n for n in movie.provenance["notes"])


# 4. one writer per folder; a folder always reopens or says why ------------------------------------------
def test_a_held_folder_is_refused_naming_its_holder_and_a_stale_lock_is_taken_over(tmp_path, tiny_movie,
                                                                                     tiny_config, caplog):
    folder = tmp_path / "run"
    folder.mkdir()
    live = {"pid": os.getppid(), "host": socket.gethostname(), "started": "2026-12-02 10:00:00"}
    (folder / run_folder.LOCK_FILE).write_text(json.dumps(live))
    with pytest.raises(CneepError, match=rf"in use by another run \(pid {os.getppid()} on "):
        train(tiny_movie, tiny_config, run_dir=folder)
    with pytest.raises(CneepError, match=rf"a run is writing it now \(pid {os.getppid()}"):
        load_run(folder)
    stale = dict(live, pid=_dead_pid())
    (folder / run_folder.LOCK_FILE).write_text(json.dumps(stale))
    (folder / ".dissipation_maps.tif.12345.part").write_bytes(b"x" * 1000)
    run = train(tiny_movie, _fast(tiny_config), run_dir=folder)
    assert "took over the lock" in caplog.text and str(stale["pid"]) in caplog.text
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert load_run(folder).summary["ep_rate"] == pytest.approx(run.summary["ep_rate"])


def test_maps_of_another_run_are_named_not_a_traceback(tmp_path, toy_run):
    toy_run.save(tmp_path / "a")
    short = replace(toy_run, movie=toy_run.movie[:10], frame=toy_run.frame[:10], part=toy_run.part[:10],
                    ds=toy_run.ds[:10], maps=toy_run.maps[:10], true_ds=toy_run.true_ds[:10])
    short.save(tmp_path / "b")
    os.replace(tmp_path / "b" / "dissipation_maps.tif", tmp_path / "a" / "dissipation_maps.tif")
    with pytest.raises(CneepError, match="ep_trace.csv has 597 windows: the files come from different runs"):
        load_run(tmp_path / "a")


# 5. faults and odd settings end in one line ---------------------------------------------------------------
def test_seq_len_below_two_on_trajectories_with_truth(tmp_path, capsys):
    assert main(["simulate", "ratchet", "--steps", "300", "--trajectories", "3", "-o", str(tmp_path / "r.csv")]) == 0
    for n in ("1", "0"):
        assert main(["train", str(tmp_path / "r.csv"), "-o", str(tmp_path / "run"), "--seq-len", n, "-q"]) == 2
        assert f"--seq-len (frames per window) must be at least 2, not {n}" in capsys.readouterr().err


def test_a_full_disk_while_checkpointing_or_logging_is_one_error(tmp_path, tiny_movie, tiny_config, monkeypatch):
    real_save = torch.save

    def full(obj, f, *a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc] PytorchStreamWriter failed writing file")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CneepError, match=r"model_seed0\.pt: could not write the checkpoint"):
        train(tiny_movie, _fast(tiny_config), run_dir=tmp_path / "a")
    assert not [p for p in (tmp_path / "a").iterdir() if p.suffix == ".part" or p.name == ".cneep.lock"]
    monkeypatch.setattr(torch, "save", real_save)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "train_log.csv").mkdir()     # appending to it fails with an OSError
    with pytest.raises(CneepError, match=r"train_log\.csv: could not write the training log"):
        training._append_log(tmp_path / "b" / "train_log.csv",
                             training.Progress(0, 0, 1, 0, 1, 0.0, 0.0, 0.0))


def test_a_second_ctrl_c_ends_with_a_line_not_a_traceback(tmp_path, tiny_movie, monkeypatch, capsys):
    import cneep_engine.run as run_module
    save_movie(tiny_movie, tmp_path / "beads.tif")

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(run_module, "train", interrupted)
    assert main(["train", str(tmp_path / "beads.tif"), "-o", str(tmp_path / "run"), *FAST]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


# 6. runs reopen from anywhere, with their preprocessing ---------------------------------------------------
def test_a_cropped_run_on_an_image_folder_reopens_from_another_directory(tmp_path, tiny_movie, monkeypatch):
    folder = tmp_path / "data" / "images"
    folder.mkdir(parents=True)
    for t in range(60):
        tifffile.imwrite(folder / f"f{t:03d}.tif", np.asarray(tiny_movie.frames[0, t]))
    monkeypatch.chdir(tmp_path / "data")
    assert main(["train", "images", "-o", "run", "--crop", "2:18,4:36", "--split-into", "3", *FAST]) == 0
    monkeypatch.chdir(tmp_path)
    run, movie = open_run(tmp_path / "data" / "run")
    assert movie.frame_shape == (16, 32) and movie.n_movies == 3 and run.frame_shape == (16, 32)
    assert np.array_equal(np.asarray(movie.frames[0, 1]), np.asarray(tiny_movie.frames[0, 1])[2:18, 4:36])
    # Moved together with its input: the path relative to the run folder finds it.
    os.rename(tmp_path / "data", tmp_path / "moved")
    assert open_run(tmp_path / "moved" / "run")[1].path.resolve() == tmp_path / "moved" / "images"


def test_a_run_on_one_channel_and_plane_reopens_on_them(tmp_path, tiny_movie):
    frames = np.asarray(tiny_movie.frames[0, :60])
    stack = np.zeros((60, 3, 2, *frames.shape[1:]), np.uint8)          # TZCYX
    stack[:, 2, 1] = frames
    tifffile.imwrite(tmp_path / "hyper.tif", stack, imagej=True, metadata={"axes": "TZCYX"})
    assert main(["train", str(tmp_path / "hyper.tif"), "-o", str(tmp_path / "run"), "--channel", "1", "--z", "2",
                 *FAST]) == 0
    _, movie = open_run(tmp_path / "run")
    assert np.array_equal(np.asarray(movie.frames[0, 5]), frames[5])


# 8. smaller ones ------------------------------------------------------------------------------------------
def test_cancelled_before_the_first_validation_is_an_error(tmp_path, tiny_movie, tiny_config):
    import threading
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CneepError, match=r"cancelled at iteration 0, before the first validation .*--eval-every"):
        train(tiny_movie, tiny_config, cancel=cancel, run_dir=tmp_path / "run")
    with pytest.raises(CneepError, match="did not finish"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_csv(tmp_path, sep):
    path = tmp_path / "t.csv"
    path.write_text(sep.join(["trajectory", "time", "x1", "x2"]) + "\n" +
                    "".join(sep.join(["1", f"{t * 0.5}", f"{t}.25", f"{-t}"]) + "\n" for t in range(5)))
    traj = load_trajectories(path)
    assert traj.data.shape == (1, 5, 2) and traj.dt == 0.5 and traj.data[0, 3].tolist() == [3.25, -3.0]


def test_a_text_file_named_npy(tmp_path, capsys):
    (tmp_path / "t.npy").write_text("hello\n")
    assert main(["train", str(tmp_path / "t.npy"), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "t.npy: not a NumPy .npy file" in err and "pickle" not in err


def test_the_two_frame_error_names_the_file(tmp_path, capsys):
    np.save(tmp_path / "two.npy", np.zeros((2, 8, 8), np.float32))
    assert main(["train", str(tmp_path / "two.npy"), "-o", str(tmp_path / "run"), *FAST]) == 2
    assert "two.npy: movies of 2 frames are too short" in capsys.readouterr().err


def test_tracks_of_several_lengths_keep_their_frames(tmp_path):
    lengths = {"a": 1000, "b": 100, "c": 120, "d": 950}
    path = tmp_path / "tracks.csv"
    path.write_text("track,frame,x\n" + "".join(f"{k},{t},{t % 7}.5\n" for k, n in lengths.items()
                                                for t in range(n)))
    traj = load_trajectories(path)
    assert traj.data.shape == (10 + 1 + 1 + 9, 100, 1)
    assert traj.provenance["ids"][:2] == ["a:0", "a:100"] and "b" in traj.provenance["ids"]
    assert traj.data[1, 0, 0] == 100 % 7 + 0.5                    # piece 2 of track a starts at its frame 100
    assert "96.0% of the transitions" in traj.provenance["notes"][0]


def test_messages_name_the_options(tmp_path, tiny_movie, capsys):
    save_movie(tiny_movie, tmp_path / "beads.tif")
    for option, name in (("--eval-every", "eval_every"), ("--val-samples", "val_samples")):
        assert main(["train", str(tmp_path / "beads.tif"), "-o", str(tmp_path / "run"), option, "0"]) == 2
        err = capsys.readouterr().err
        assert option in err and "must be at least 1, not 0" in err and name not in err


# A training killed (SIGKILL) at chosen points: the folder never reopens as a run it is not ------------------
_CHILD = """
import os, signal, sys
import torch
torch.set_num_threads(1)
from cneep_engine import TrainConfig, load_movie, train
import cneep_engine.run as run, cneep_engine.training as training
movie_path, folder, point = sys.argv[1:]

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

def after(fn, when=lambda *a, **k: True):
    def wrapped(*a, **k):
        out = fn(*a, **k)
        if when(*a, **k):
            die()
        return out
    return wrapped

if point == "before the first validation":
    training.Trainer.step = after(training.Trainer.step, lambda *a: training.torch.rand(()) < 0.5)
elif point == "during checkpointing":          # the checkpoint is written to its temporary file, not yet renamed
    torch.save = after(torch.save)
elif point == "during the evaluation":         # the maps file is allocated, the first batch evaluated
    run.CNEEP.ep_and_map = after(run.CNEEP.ep_and_map)
elif point == "during the save":               # maps and trace written, the rest not
    run.write_log = die
config = TrainConfig(depth=2, channels=4, batch=64, iterations=20, eval_every=10, patience=0, device="cpu",
                     val_samples=200)
train(load_movie(movie_path), config, run_dir=folder)
"""


def test_a_training_killed_at_any_point_leaves_a_folder_that_says_so(tmp_path, tiny_movie):
    movie = save_movie(tiny_movie, tmp_path / "beads.tif")
    folder = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    points = ["before the first validation", "during checkpointing", "during the evaluation", "during the save"]
    for point in [*points, "not at all"]:
        child = subprocess.run([sys.executable, "-c", _CHILD, str(movie), str(folder), point], env=env,
                               capture_output=True, text=True, timeout=60)
        if point == "not at all":
            assert child.returncode == 0, child.stderr
            break
        assert child.returncode == -9, (point, child.stderr)
        names = {p.name for p in folder.iterdir()}
        assert "summary.json" not in names and run_folder.LOCK_FILE in names, point
        with pytest.raises(CneepError, match="not a complete run folder; no summary.json: the run that wrote it "
                                             "did not finish"):
            load_run(folder)
        if point == "during the evaluation":
            assert any(n.startswith(f".{run_folder.MAPS_FILE}.") for n in names)
    # The finished run took over the dead holders' lock, cleared what they left and reopens.
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert "took over the lock" in child.stderr
    run = load_run(folder)
    assert run.maps.shape[0] == len(run.ds) and np.isfinite(run.summary["ep_rate"])
