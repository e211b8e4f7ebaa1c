"""Opening movies in the real window: menu, drag and drop, recent files, metadata, scrubbing, errors."""

import numpy as np
import pytest
from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PyQt6.QtGui import QDragEnterEvent, QDropEvent

from cneep_engine import Movie, save_movie
from cneep_gui import settings
from cneep_gui.main_window import MainWindow


def _movie_file(tmp_path, tiny_movie, dt=0.05, pixel_size=0.2):
    movie = Movie(frames=tiny_movie.frames, dt=dt, pixel_size=pixel_size)
    return save_movie(movie, tmp_path / "beads.tif")


def _menu_action(window, text):
    return next(a for a in window.findChildren(type(window.generate_action)) if a.text() == text)


def test_open_from_the_menu_reads_calibration_and_scrubs(studio, qtbot, tmp_path, tiny_movie, pick_file):
    path = _movie_file(tmp_path, tiny_movie)
    pick_file(path)
    _menu_action(studio, "&Open movie or trajectories…").trigger()
    assert studio.data.n_frames == 200 and "beads.tif" in studio.windowTitle()
    assert studio.movie_panel.dt.value() == 0.05 and studio.movie_panel.pixel_size.value() == 0.2
    assert studio.movie_panel.dt_source.text() == "from the file's metadata"
    assert np.array_equal(studio.movie_view.image.image, tiny_movie.frames[0, 0])
    assert studio.training_panel.train_button.isEnabled()

    studio.activateWindow()
    qtbot.keyClick(studio.movie_view, Qt.Key.Key_Right)
    qtbot.keyClick(studio.movie_view, Qt.Key.Key_Right)
    assert studio.timeline.frame() == 2
    assert "t = 0.1 s" in studio.timeline.readout.text()
    qtbot.keyClick(studio.movie_view, Qt.Key.Key_End)
    assert studio.timeline.frame() == 199
    studio.timeline.movie_box.setCurrentIndex(2)
    assert np.array_equal(studio.movie_view.image.image, tiny_movie.frames[2, 199])

    studio.movie_panel.dt.setValue(0.5)           # the user corrects the frame interval
    assert studio.data.dt == 0.5 and studio.data.dt_source == "user"
    assert "t = 99.5 s" in studio.timeline.readout.text()
    assert settings.recent_files()[0] == str(path.resolve())


def test_play_advances_frames_and_pause_stops(studio, qtbot, tmp_path, tiny_movie):
    studio.open_path(_movie_file(tmp_path, tiny_movie))
    studio.timeline.fps.setValue(100)
    studio.timeline.play_button.click()
    qtbot.waitUntil(lambda: studio.timeline.frame() >= 3, timeout=5000)
    assert studio.timeline.is_playing() and studio.timeline.play_button.text() == "⏸"
    studio.timeline.play_button.click()
    assert not studio.timeline.is_playing() and studio.timeline.play_button.text() == "▶"
    qtbot.keyClick(studio.movie_view, Qt.Key.Key_Space)      # Space plays too
    assert studio.timeline.is_playing()
    qtbot.keyClick(studio.movie_view, Qt.Key.Key_Space)
    assert not studio.timeline.is_playing()


def test_dropping_a_file_opens_it(studio, tmp_path, tiny_movie):
    path = _movie_file(tmp_path, tiny_movie)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    # Offscreen Qt has no drag-and-drop session to route events through: call the handlers as Qt would.
    enter = QDragEnterEvent(QPoint(10, 10), *args[1:])
    enter.setAccepted(False)       # Qt events start accepted; the handler must accept it itself
    studio.dragEnterEvent(enter)
    assert enter.isAccepted()
    text = QMimeData()
    text.setText("not a file")
    refused = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, text, *args[3:])
    refused.setAccepted(False)
    studio.dragEnterEvent(refused)
    assert not refused.isAccepted()
    studio.dropEvent(QDropEvent(*args))
    assert studio.data is not None and studio.data.path == path


def test_a_corrupt_file_gives_a_dialog_and_the_app_stays_usable(studio, tmp_path, tiny_movie):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x13" * 200)
    assert not studio.open_path(bad)
    box = studio.error_box
    assert box.isVisible() and "broken.tif" in box.text() and "Traceback" not in box.text()
    assert studio.data is None and not studio.training_panel.train_button.isEnabled()
    box.accept()
    assert studio.open_path(_movie_file(tmp_path, tiny_movie))
    assert studio.training_panel.train_button.isEnabled()


def test_recent_files_and_view_settings_survive_a_restart(studio, qtbot, tmp_path, tiny_movie, tiny_config):
    path = _movie_file(tmp_path, tiny_movie)
    studio.open_path(path)
    studio.timeline.fps.setValue(7)
    studio.movie_panel.opacity.setValue(35)
    studio.training_panel.set_config(tiny_config)
    studio.training_panel.boxes["channels"].setValue(6)
    studio.training_panel.boxes["average"].setValue(0.9995)   # four decimals shown, and kept
    studio.close()

    again = MainWindow()
    qtbot.addWidget(again)
    assert again.timeline.fps.value() == 7 and again.movie_panel.opacity.value() == 35
    assert again.training_panel.config().channels == 6
    assert again.training_panel.config().average == pytest.approx(0.9995)
    assert again.training_panel.config().iterations == tiny_config.iterations
    again.recent_menu.aboutToShow.emit()
    entries = [a.text() for a in again.recent_menu.actions()]
    assert entries == [str(path.resolve())]
    again.recent_menu.actions()[0].trigger()
    assert again.data is not None and again.data.path.name == "beads.tif"
