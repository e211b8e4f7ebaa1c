"""`cneep-studio [FILE]`: start the desktop app, opening a movie or a run folder when one is given."""

from __future__ import annotations

import argparse
import sys
import traceback

from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QApplication

from cneep_engine.io import input_formats

from .main_window import ICON, MainWindow


def warm_up() -> None:
    """Creating the first torch optimiser imports ~800 modules (about a second, holding the GIL): do it
    before the window shows, not in the middle of the first training, where it would freeze the GUI."""
    import torch
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def main(argv: list[str] | None = None) -> int:
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
