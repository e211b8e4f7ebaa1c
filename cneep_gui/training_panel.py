"""Training settings with their tooltips, Train and Cancel, and the progress bar with the time left."""

from __future__ import annotations

import os
from dataclasses import replace

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar,
                             QPushButton, QSizePolicy, QSpinBox, QWidget)

from cneep_engine import Progress, TrainConfig
from cneep_engine.device import available_devices, cpu_threads

from .plan_view import PlanView

_INT, _FLOAT = 0, 1
# field, label, kind, minimum, maximum, tooltip
_FIELDS = [
    ("seq_len", "Frames per window", _INT, 2, 512,
     "Consecutive frames the network sees at once. 2 learns from single transitions; longer windows can "
     "pick up slower dynamics but give coarser maps in time"),
    ("depth", "Depth", _INT, 1, 6, "Convolutional blocks. Each block after the first halves the map's resolution"),
    ("channels", "Channels", _INT, 1, 512, "Channels of the first block; each later block doubles them"),
    ("hidden", "Hidden units", _INT, 1, 4096,
     "Units per hidden layer of the network (and the size of a discrete state's embedding)"),
    ("batch", "Batch", _INT, 1, 65536, "Windows per training step. Larger is smoother but slower per step"),
    ("lr", "Learning rate", _FLOAT, 1e-6, 1.0, "Adam step size at the start; the schedule lowers it from there"),
    ("average", "Weight average", _FLOAT, 0.0, 0.9999,
     "Validate and keep a moving average of the weights rather than the last step's: it smooths out the noise "
     "of single batches. Decay per step: 0.998 averages over about the last 500 steps; 0 keeps the raw weights"),
    ("iterations", "Iterations", _INT, 1, 10_000_000, "Training steps; the learning rate decays to zero over them (cosine schedule), early stopping may end sooner"),
    ("eval_every", "Validate every", _INT, 1, 1_000_000,
     "Steps between validations; each validation updates the plots and may keep a new best model"),
    ("patience", "Early stopping", _INT, 0, 10_000,
     "Stop after this many validations without a new lowest validation loss (0: never stop early)"),
    ("seed", "Seed", _INT, 0, 2**31 - 1, "Random seed of the first estimator"),
    ("seeds", "Seeds", _INT, 1, 100,
     "Independent estimators trained one after another; their spread is the EP rate's error bar"),
    ("val_fraction", "Validation part", _FLOAT, 0.01, 0.9,
     "Share of the data held out to pick the best model (whole movies when there are 3 or more)"),
    ("test_fraction", "Test part", _FLOAT, 0.01, 0.9,
     "Share held out for the reported EP rate and the time-averaged map; never seen in training"),
]

# Settings that only one family of estimators reads; the others are hidden while it is not chosen.
_ONLY_FOR = {"depth": {"cneep"}, "channels": {"cneep"}, "hidden": {"neep", "rneep"}}

_MODEL_TIPS = {
    "cneep": "a convolutional network on consecutive frames, odd under time reversal (Bae, Kim & Jeong 2022)",
    "neep": "a network on pairs of frames of coordinates (an MLP) or discrete states (embeddings) (Kim et al. 2020)",
    "rneep": "a recurrent network (GRU) over Frames per window frames, for hidden degrees of freedom (Kim et al. 2020)",
}


class TrainingPanel(QWidget):
    trainRequested = pyqtSignal()
    cancelRequested = pyqtSignal()
    settingsChanged = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._base = TrainConfig()
        form = QFormLayout(self)
        self.model = QComboBox()
        self.set_models(["cneep"])
        form.addRow("Model", self.model)
        self.boxes: dict[str, QSpinBox | QDoubleSpinBox] = {}
        for name, label, kind, lo, hi, tip in _FIELDS:
            box = QSpinBox() if kind == _INT else QDoubleSpinBox(decimals={"lr": 6, "average": 4}.get(name, 3))
            box.setRange(lo, hi)
            box.setToolTip(tip)
            if name == "lr":
                box.setSingleStep(1e-4)
            elif name == "average":
                box.setSingleStep(0.001)
            elif kind == _FLOAT:
                box.setSingleStep(0.05)
            form.addRow(label, box)
            self.boxes[name] = box
        self.form = form
        self.model.currentTextChanged.connect(self._show_model_fields)
        self._show_model_fields(self.model.currentText())
        self.device = QComboBox(toolTip="Where to train: auto picks the first GPU when there is one")
        for value, label in available_devices():
            self.device.addItem(label, value)
        form.addRow("Device", self.device)
        self.threads = QSpinBox(minimum=1, maximum=os.cpu_count() or 1, value=cpu_threads(),
                                toolTip="CPU threads torch may use (CPU training and data handling)")
        form.addRow("CPU threads", self.threads)
        self.train_button = QPushButton("Train", toolTip="Train on the open movie or trajectories in the background")
        self.cancel_button = QPushButton("Cancel", enabled=False,
                                         toolTip="Stop after the current step and keep the best model so far")
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        self.plan = PlanView()
        form.addRow(self.plan)
        for box in [*self.boxes.values(), self.threads]:
            box.valueChanged.connect(self.settingsChanged)
        for combo in (self.model, self.device):
            combo.currentIndexChanged.connect(self.settingsChanged)
        self.progress = QProgressBar(maximum=1000, textVisible=True)
        self.status = QLabel()
        # Changing text must not resize the dock (and re-lay out the window) at every training event.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        form.addRow(self.progress)
        form.addRow(self.status)
        self.train_button.clicked.connect(self.trainRequested)
        self.cancel_button.clicked.connect(self._cancel)
        self.train_button.setEnabled(False)

    def set_models(self, models: list[str]) -> None:
        """The estimators that read the open input: cneep for a movie, neep and rneep for trajectories."""
        current = self.model.currentText()
        self.model.clear()
        for name in models:
            self.model.addItem(name)
            self.model.setItemData(self.model.count() - 1, _MODEL_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.model.setCurrentIndex(max(self.model.findText(current), 0))
        self.model.setToolTip("\n".join(f"{m}: {_MODEL_TIPS[m]}" for m in models))

    def _show_model_fields(self, model: str) -> None:
        for name, models in _ONLY_FOR.items():
            self.form.setRowVisible(self.boxes[name], model in models)

    def config(self) -> TrainConfig:
        """The settings shown; fields without a control keep their loaded values. Raises CneepError."""
        values = {name: box.value() for name, box in self.boxes.items()}
        return replace(self._base, model=self.model.currentText(), device=self.device.currentData(), **values)

    def set_config(self, config: TrainConfig) -> None:
        self._base = config
        for name, box in self.boxes.items():
            box.setValue(getattr(config, name))
        index = self.device.findData(config.device)
        self.device.setCurrentIndex(max(index, 0))

    def set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.cancel_button.setText("Cancel")
        for box in [*self.boxes.values(), self.model, self.device, self.threads]:
            box.setEnabled(not running)
        if running:
            self.progress.setValue(0)
            self.status.setText("starting…")

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancelRequested.emit()

    def show_progress(self, ev: Progress) -> None:
        done = (ev.seed_index + ev.iteration / ev.iterations) / ev.n_seeds
        self.progress.setValue(round(1000 * done))
        self.progress.setFormat(f"seed {ev.seed_index + 1}/{ev.n_seeds}: {ev.iteration}/{ev.iterations}")
        if ev.iteration:
            per_step = ev.elapsed_s / ev.iteration
            steps_left = ev.iterations - ev.iteration + (ev.n_seeds - ev.seed_index - 1) * ev.iterations
            self.status.setText(f"{ev.elapsed_s:.0f} s elapsed, at most {per_step * steps_left:.0f} s left"
                                + (f"; best at {ev.best_iteration}" if ev.best_iteration else ""))

