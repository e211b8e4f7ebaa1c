"""Training settings with their tooltips, Train and Cancel, and the progress bar of any job with its time left.

The rows are the declared settings (cneep_engine/params.py) of the chosen estimator: a network's training
settings (TrainConfig), or for a training-free or model-known one (tur, sfi, pca-sfi; score) its own settings class
(ClosedFormConfig, ModelKnownConfig) and the TrainConfig settings it shares (the split; steps, batch, ...)."""

from __future__ import annotations

import os
from dataclasses import replace

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy,
                             QSpinBox, QWidget)

from cneep_engine import Progress, TrainConfig
from cneep_engine.device import available_devices, cpu_threads
from cneep_engine.estimators import ESTIMATORS
from cneep_engine.params import specs

from .param_form import changed_signal, editor, set_value, value
from .plan_view import PlanView

# The app's rows: the declared settings marked for it, in declaration order (cneep_engine/params.py).
_FIELDS = [p for p in specs(TrainConfig) if p.spec.app]
# Each settings class of the estimators that are not NEEP-trained networks, once, with its app rows.
_OWN = {cls: [p for p in specs(cls) if p.spec.app]
        for cls in dict.fromkeys(e.settings for e in ESTIMATORS.values() if e.settings is not None)}


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
        self.boxes = {p.name: editor(p) for p in _FIELDS}
        for p in _FIELDS:
            form.addRow(p.label, self.boxes[p.name])
        self.own_boxes = {cls: {p.name: editor(p) for p in rows} for cls, rows in _OWN.items()}
        for cls, rows in _OWN.items():
            for p in rows:
                form.addRow(p.label, self.own_boxes[cls][p.name])
        self.form = form
        self.device = QComboBox(toolTip="Where to train: auto picks the first GPU when there is one")
        for name, label in available_devices():
            self.device.addItem(label, name)
        form.addRow("Device", self.device)
        self.threads = QSpinBox(minimum=1, maximum=os.cpu_count() or 1, value=cpu_threads(),
                                toolTip="CPU threads torch may use (CPU training and data handling)")
        form.addRow("CPU threads", self.threads)
        self.model.currentTextChanged.connect(self._show_model_fields)
        self._show_model_fields(self.model.currentText())
        self.train_button = QPushButton("Train", toolTip="Train on the open movie or trajectories in the background")
        self.cancel_button = QPushButton("Cancel", enabled=False,
                                         toolTip="Stop after the current step and keep the best model so far")
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        self.plan = PlanView()
        for box in [*self.boxes.values(), *self._own_widgets(), self.threads, self.model, self.device]:
            changed_signal(box).connect(self.settingsChanged)
        self.progress = QProgressBar(maximum=1000, textVisible=True)
        self.status = QLabel()
        # Changing text must not resize the dock (and re-lay out the window) at every training event.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        form.addRow(self.progress)
        form.addRow(self.status)
        # Below the progress, which then stays next to Cancel when the plan's text grows.
        form.addRow(self.plan)
        self.train_button.clicked.connect(self.trainRequested)
        self.cancel_button.clicked.connect(self._cancel)
        self.train_button.setEnabled(False)
        self._phase = ""   # of the last progress event

    def set_models(self, models: list[str]) -> None:
        """The estimators that read the open input: cneep for a movie, neep and rneep for trajectories."""
        current = self.model.currentText()
        self.model.clear()
        for name in models:
            self.model.addItem(name)
            self.model.setItemData(self.model.count() - 1, ESTIMATORS[name].summary, Qt.ItemDataRole.ToolTipRole)
        self.model.setCurrentIndex(max(self.model.findText(current), 0))
        self.model.setToolTip("\n".join(f"{m}: {ESTIMATORS[m].summary}" for m in models))

    def _show_model_fields(self, model: str) -> None:
        """The rows `model` reads: for a training-free estimator its own and the split, for a network the
        training settings (some only for one family of networks)."""
        method = ESTIMATORS.get(model)
        if method is None:   # the picker is being refilled
            return
        reads = {p.name for p in method.params()}
        for p in _FIELDS:
            self.form.setRowVisible(self.boxes[p.name], p.name in reads)
        for cls, rows in _OWN.items():
            for p in rows:
                self.form.setRowVisible(self.own_boxes[cls][p.name], method.settings is cls and p.name in reads)
        self.form.setRowVisible(self.device, "device" in reads)
        self.form.setRowVisible(self.threads, method.closed_form is None)

    def config(self) -> TrainConfig:
        """The settings shown; fields without a control keep their loaded values. Raises CneepError."""
        values = {name: box.value() for name, box in self.boxes.items()}
        return replace(self._base, model=self.model.currentText(), device=self.device.currentData(), **values)

    def closed_form(self):
        """The chosen estimator's own settings shown (a ClosedFormConfig, a ModelKnownConfig; None for a network).
        Raises CneepError."""
        cls = ESTIMATORS[self.model.currentText()].settings
        return None if cls is None else cls(**{name: value(box) for name, box in self.own_boxes[cls].items()})

    def _own_widgets(self) -> list:
        return [box for boxes in self.own_boxes.values() for box in boxes.values()]

    def set_config(self, config: TrainConfig, own=None) -> None:
        """Show `config` and, where given, the estimator's own settings `own` (a run's closed_form)."""
        self._base = config
        for name, box in self.own_boxes.get(type(own), {}).items():
            set_value(box, getattr(own, name))
        if (index := self.model.findText(config.model)) >= 0:
            self.model.setCurrentIndex(index)
        for name, box in self.boxes.items():
            box.setValue(getattr(config, name))
        index = self.device.findData(config.device)
        self.device.setCurrentIndex(max(index, 0))

    def set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.cancel_button.setText("Cancel")
        for box in [*self.boxes.values(), *self._own_widgets(), self.model, self.device, self.threads]:
            box.setEnabled(not running)
        self._phase = ""
        if running:
            self.progress.setValue(0)
            self.status.setText("starting…")

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancelRequested.emit()

    def show_progress(self, ev: Progress) -> None:
        """An event of any phase: the bar shows how far it is (training: over all seeds), the line below
        its time left at its own pace. Cancel works again when a new phase begins: a cancel that stopped
        training asked for the best model, evaluated; pressed during the evaluation it stops that."""
        if ev.phase != self._phase and ev.phase in ("evaluation", "export"):
            self.cancel_button.setEnabled(True)
            self.cancel_button.setText("Cancel")
        self._phase = ev.phase
        left = "" if ev.left_s is None else f", about {ev.left_s:.0f} s left"
        if ev.phase in ("training", "validation"):
            done = (ev.seed_index + ev.iteration / ev.iterations) / ev.n_seeds
            self.progress.setFormat(f"seed {ev.seed_index + 1}/{ev.n_seeds}: {ev.iteration}/{ev.iterations}")
            best = f"; best at {ev.best_iteration}" if ev.best_iteration else ""
            if ev.phase == "validation":
                self.status.setText(f"validating: {ev.done}/{ev.total} windows{left}{best}")
            elif ev.left_s is not None:
                self.status.setText(f"training: {ev.elapsed_s:.0f} s elapsed, at most {ev.left_s:.0f} s left{best}")
        else:
            done = ev.done / max(ev.total, 1)
            what = "held-out evaluation" if ev.phase == "evaluation" else "export"
            unit = "windows" if ev.phase == "evaluation" else "frames"
            self.progress.setFormat(f"{what}: {ev.done}/{ev.total} {unit}")
            self.status.setText(f"{what}: {ev.elapsed_s:.0f} s elapsed{left}")
        self.progress.setValue(round(1000 * done))
