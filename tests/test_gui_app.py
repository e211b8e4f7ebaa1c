"""`cneep-studio FILE`: the entry point opens the window and the file, and starts with the user's settings."""

import sys

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from cneep_engine import save_movie
from cneep_gui.app import main
from cneep_gui.main_window import MainWindow


def _run_main(argv, qtbot, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)     # main() installs its own; restore it after
    seen = {}

    def inspect_and_quit():
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        seen["window"] = window
        seen["movie"] = window.data
        seen["error"] = window.error_box.text() if window.error_box else None
        window.close()
        QApplication.instance().quit()

    QTimer.singleShot(0, inspect_and_quit)
    assert main(argv) == 0
    return seen


def test_the_entry_point_opens_the_file_given(qtbot, monkeypatch, tmp_path, tiny_movie):
    path = save_movie(tiny_movie, tmp_path / "given.tif")
    seen = _run_main([str(path)], qtbot, monkeypatch)
    assert seen["movie"] is not None and seen["movie"].path == path and seen["error"] is None


def test_the_entry_point_reports_a_missing_file_in_a_dialog(qtbot, monkeypatch, tmp_path):
    seen = _run_main([str(tmp_path / "nowhere.tif")], qtbot, monkeypatch)
    assert seen["movie"] is None and "nowhere.tif" in seen["error"] and "no such file" in seen["error"]
