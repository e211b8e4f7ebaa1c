"""Preferences: where training writes its checkpoints and log as it goes (the runs folder)."""

from __future__ import annotations

from PyQt6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                             QPushButton)

from . import settings


class PreferencesDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent, windowTitle="Preferences")
        self.runs = QLineEdit(str(settings.runs_dir()), minimumWidth=420,
                              toolTip="Every training writes its checkpoints and log into a new folder here as it "
                                      "goes, so a crash or a closed window never loses the best model. Save run… "
                                      "copies a finished run wherever you like.")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        default = QPushButton("Default")
        default.clicked.connect(lambda: self.runs.setText(str(settings.default_runs_dir())))
        row = QHBoxLayout()
        for w in (self.runs, browse, default):
            row.addWidget(w)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Runs folder", row)
        form.addRow("", QLabel("Training writes checkpoints and its log here, one folder per run.", wordWrap=True))
        form.addRow(buttons)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Runs folder", self.runs.text())
        if path:
            self.runs.setText(path)

    def accept(self) -> None:
        settings.set_runs_dir(self.runs.text().strip() or settings.default_runs_dir())
        super().accept()
