"""The app switching between inputs of different lengths, and folders that are not runs."""

import numpy as np
import tifffile
from PyQt6.QtCore import Qt

from cneep_engine import Movie, save_movie


def test_opening_a_shorter_movie_at_the_last_frame_switches_cleanly(studio, qtbot, tmp_path, tiny_movie):
    long_ = save_movie(Movie(frames=np.asarray(tiny_movie.frames)[:, :150]), tmp_path / "long.tif")
    short = save_movie(Movie(frames=np.asarray(tiny_movie.frames)[:1, 100:140]), tmp_path / "short.tif")
    assert studio.open_path(long_)
    studio.activateWindow()
    studio.timeline.movie_box.setCurrentIndex(2)
    qtbot.keyClick(studio.movie_view, Qt.Key.Key_End)
    assert studio.timeline.frame() == 149
    assert studio.open_path(short)
    assert studio.error_box is None
    assert "short.tif" in studio.windowTitle() and studio.timeline.slider.maximum() == 39
    assert studio.timeline.movie() == 0 and studio.timeline.frame() == 0
    assert np.array_equal(studio.movie_view.image.image, np.asarray(tiny_movie.frames)[0, 100])


def test_a_folder_of_images_opens_as_a_movie(studio, tmp_path, tiny_movie):
    for t in range(6):
        tifffile.imwrite(tmp_path / f"frame{t}.tif", np.asarray(tiny_movie.frames[0, t]))
    assert studio.open_path(tmp_path)
    assert studio.error_box is None and studio.data.n_frames == 6 and studio.run is None


def test_a_window_deleted_without_closing_leaves_no_log_handler_behind(qtbot):
    from PyQt6 import sip
    from cneep_gui.log_panel import LogPanel, log
    panel = LogPanel()
    handler = panel._handler
    assert handler in log.handlers
    sip.delete(panel)
    log.info("after the panel is gone")      # raised: wrapped C/C++ object has been deleted
    assert handler not in log.handlers
