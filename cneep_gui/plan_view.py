"""Next to Train: what the run will take (the engine's plan: memory, batch, time) and what in the input can
give it a time arrow that is not dissipation (drift, bleaching, a lossy video), worked out in the background.

Timing a few steps of a large frame and measuring the drift take a second or more, so both run on their own
thread; the plan is redone (once, after the last of a burst of changes) whenever a setting changes, the input
checks once per input."""

from __future__ import annotations

import html

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QLabel

from cneep_engine import CneepError, Movie
from cneep_engine.plan import plan_training
from cneep_engine.timearrow import input_report
from cneep_engine.estimators import ESTIMATORS

from .log_panel import log
from .worker import Job

WARNING_COLOUR = "#e69500"


class PlanView(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent, wordWrap=True)
        self.setToolTip("Estimated before training from the network's size and a few timed steps (the batch is "
                        "lowered when it would not fit in memory), and what in the input could fake a time arrow")
        self.checks: tuple[object, dict] | None = None   # (input, its input_report)
        self._request = None
        self._latest = None      # the input of the latest request: a plan of any other is out of date
        self._job: Job | None = None
        self._timer = QTimer(self, singleShot=True, interval=300)
        self._timer.timeout.connect(self._start)

    def request(self, data, config_fn) -> None:
        """Plan `config_fn()` (the training panel's settings, read when the plan starts) on `data`."""
        self._request = (data, config_fn) if data is not None else None
        self._latest = data
        if self._request is None:
            self.setText("")
            return
        self.setText("estimating memory and time…")
        self._timer.start()

    def checks_of(self, data) -> dict | None:
        """The input checks of `data`, when they are done."""
        return self.checks[1] if self.checks is not None and self.checks[0] is data else None

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
        method = ESTIMATORS[config.model]
        if method.fit is not None:
            self.setText(f"{config.model} trains its own network on the snapshots, at most {config.iterations} steps "
                         "of a batch of snapshots each, against the given drift")
            return
        if not method.trained:
            self.setText(f"{config.model} needs no training: a closed form on the held-out part, in seconds")
            return
        known = self.checks_of(data)

        def job(emit, cancel):
            report = known if known is not None or not isinstance(data, Movie) else input_report(data)
            return data, plan_training(data, config), report

        self._job = Job(job, self)
        self._job.returned.connect(self._show)
        self._job.errored.connect(lambda message, details: self.setText(html.escape(message)))
        self._job.finished.connect(self._finished)
        self._job.start()

    def _show(self, result) -> None:
        data, plan, report = result
        if report is not None and self.checks_of(data) is None:
            self.checks = (data, report)
            for warning in report["warnings"]:   # the log keeps them in full, whatever room the panel has
                log.warning(f"{getattr(data, 'name', 'input')}: {warning}")
        if data is not self._latest:
            return
        warnings = report["warnings"] if report else []
        self.setText("<br>".join([html.escape(line) for line in plan.lines()]
                                 + [f"<span style='color:{WARNING_COLOUR}'>⚠ {html.escape(w)}</span>"
                                    for w in warnings]))

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
