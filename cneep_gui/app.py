"""`cneep-studio [FILE]`: start the desktop app, opening a movie or a run folder when one is given."""

from __future__ import annotations

import argparse
import sys
import traceback

from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QApplication

from cneep_engine.allocator import keep_freed_memory
from cneep_engine.device import warm_up
from cneep_engine.io import input_formats

from .main_window import ICON, MainWindow


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()   # first, before the training thread picks its own heap
    parser = argparse.ArgumentParser(prog="cneep-studio", description="CNEEP Studio: entropy production and "
                                     "dissipation maps from microscopy movies and trajectories")
    parser.add_argument("file", nargs="?", help=f"movie or trajectories ({input_formats()}), or run folder, to open")
    args, qt_args = parser.parse_known_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("CNEEP Studio")
    app.setOrganizationName("CNEEP")
    app.setWindowIcon(QIcon(str(ICON)))
    app.setDesktopFileName("cneep-studio")     # Wayland and docks match the window to the .desktop entry
    warm_up()
    window = MainWindow()
    # A bug in a slot must not kill the session or print a traceback at the user: dialog + log.
    sys.excepthook = lambda kind, value, tb: window.show_error(
        f"unexpected error: {kind.__name__}: {value}", "".join(traceback.format_exception(kind, value, tb)))
    window.show()
    if args.file:
        window.open_path(args.file)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
