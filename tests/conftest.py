import os

# Qt must find no display: set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# Two cores on CI: keep torch from oversubscribing them when tests run beside other work.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _studio_settings(request, tmp_path):
    """GUI tests keep their QSettings under tmp_path: never the user's, never another test's."""
    if not request.path.name.startswith("test_gui_"):
        return
    from PyQt6.QtCore import QSettings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))


@pytest.fixture(scope="session")
def _tiny_movie_once():
    from cneep_engine import BeadRenderer, BeadSpringChain, simulate_bead_spring
    return simulate_bead_spring(BeadSpringChain(), BeadRenderer(), movies=3, frames=200, seed=7)


@pytest.fixture
def tiny_movie(_tiny_movie_once):
    """3 synthetic movies of 200 frames of 20x40 pixels, with ground truth: trains in seconds.

    Simulated once; each test gets its own Movie (sharing the read-only frames), so a test that saves it
    (which sets movie.path) or edits its calibration leaves the others an unsaved movie."""
    from dataclasses import replace
    return replace(_tiny_movie_once)


@pytest.fixture
def toy_run(tiny_movie):
    """A run with known maps instead of trained ones: feature columns 0-3 dissipate (+), 7-9 absorb (-).

    Window i of a movie spans frames i and i + 1; movie 0 trains, movie 1 validates, movie 2 tests."""
    from cneep_engine import Run, TrainConfig
    n_mov, n_fr = tiny_movie.n_movies, tiny_movie.n_frames
    movie = np.repeat(np.arange(n_mov), n_fr - 1)
    frame = np.tile(np.arange(n_fr - 1), n_mov)
    scale = 1 + (frame % 5).astype(np.float32)          # differs from window to window
    maps = np.zeros((movie.size, 5, 10), np.float32)
    maps[:, :, :4] = scale[:, None, None]
    maps[:, :, 7:] = -scale[:, None, None]
    ds = maps.sum(axis=(1, 2))
    summary = {"ep_rate": float(ds[movie == 2].mean() / tiny_movie.dt), "ep_rate_std": None, "seeds": [],
               "movies": n_mov, "frames": n_fr, "input": None, "stopped": "finished", "device": "cpu",
               "test_windows": int((movie == 2).sum())}
    return Run(config=TrainConfig(seq_len=2, depth=2, channels=4), dt=tiny_movie.dt,
               pixel_size=tiny_movie.pixel_size, frame_shape=tiny_movie.frame_shape, movie=movie, frame=frame,
               part=movie.astype(np.int8), ds=ds, maps=maps, summary=summary,
               true_ds=tiny_movie.truth.ds.ravel().copy())


@pytest.fixture
def tiny_config():
    """Seconds of CPU training on tiny_movie."""
    from cneep_engine import TrainConfig
    return TrainConfig(depth=2, channels=4, batch=64, iterations=40, eval_every=10, patience=0, device="cpu")


@pytest.fixture
def studio(qtbot):
    """The real main window, shown offscreen; any job still running is cancelled and joined at the end."""
    from cneep_gui.main_window import MainWindow
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.training_panel.threads.setValue(1)    # two cores, shared with other work: no oversubscription
    yield window
    if window.job is not None:
        window.job.cancel()
        window.job.wait()


@pytest.fixture
def pick_file(monkeypatch):
    """pick_file(path): every file dialog now answers `path`, as if the user had chosen it."""
    def pick(path):
        from PyQt6.QtWidgets import QFileDialog
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(path))
    return pick
