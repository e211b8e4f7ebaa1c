"""Choosing the folder a run is saved into: a new folder the user types a name for, or an earlier run to replace."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog

from cneep_engine import CneepError
from cneep_engine.run_folder import is_run_folder


def ask_run_folder(parent, start: str) -> Path | None:
    """A save-file dialog, so a new folder's name can be typed (a folder picker only takes folders that
    exist); None when cancelled. The folder is made by the save."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save run as folder", start, "Run folder (*)",
                                          options=QFileDialog.Option.DontConfirmOverwrite)
    return Path(path) if path else None


def check_run_folder(path: Path) -> Path:
    """`path` if a run may be saved there: a new or empty folder, or an earlier run (which it replaces)."""
    if path.exists() and not path.is_dir():
        raise CneepError(f"{path}: is a file; a run is saved as a folder: type a new folder name")
    if path.is_dir() and any(path.iterdir()) and not is_run_folder(path):
        raise CneepError(f"{path}: the folder holds other files and no run; choose an empty folder or type a "
                         "new folder name")
    return path
