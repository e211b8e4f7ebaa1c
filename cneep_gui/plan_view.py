"""Next to Train: the memory and time the run will take, from the engine's plan, worked out in the background.

Timing a few steps of a large frame takes a second or two, so the plan runs on its own thread and is redone
(once, after the last of a burst of changes) whenever the input or a setting changes."""

from __future__ import annotations

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QLabel

from cneep_engine import CneepError
from cneep_engine.plan import plan_training

from .worker import Job


class PlanView(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent, wordWrap=True)
        self.setToolTip("Estimated before training from the network's size and a few timed steps; "
                        "the batch is lowered when it would not fit in memory")
        self._request = None
        self._job: Job | None = None
        self._timer = QTimer(self, singleShot=True, interval=300)
        self._timer.timeout.connect(self._start)

    def request(self, data, config_fn) -> None:
        """Plan `config_fn()` (the training panel's settings, read when the plan starts) on `data`."""
        self._request = (data, config_fn) if data is not None else None
        if self._request is None:
            self.setText("")
            return
        self.setText("estimating memory and time…")
        self._timer.start()

    def _start(self) -> None:
        if self._request is None or self._job is not None:
            return   # a running plan restarts with the latest request when it finishes
        data, config_fn = self._request
        self._request = None
        try:
            config = config_fn()
        except CneepError as e:
            self.setText(str(e))
            return
        self._job = Job(lambda emit, cancel: plan_training(data, config), self)
        self._job.returned.connect(lambda plan: self.setText("\n".join(plan.lines())))
        self._job.errored.connect(lambda message, details: self.setText(message))
        self._job.finished.connect(self._finished)
        self._job.start()

    def _finished(self) -> None:
        self._job.wait()
        self._job.deleteLater()
        self._job = None
        self._start()

    def stop(self) -> None:
        """Wait for a plan in progress (the window is closing)."""
        self._timer.stop()
        self._request = None
        if self._job is not None:
            self._job.wait()
