"""The event stream of long work: training, validation, held-out evaluation, exports and long simulations.

Every phase reports `Progress` events with its own done/total (iterations, windows or frames) and the time
left at its own pace so far, so a consumer (the CLI's bar, the app, a test) shows each phase honestly. Events
between milestones are throttled by time, not by a count: a step on a 424 x 640 frame takes seconds, one on
20 x 40 pixels a millisecond, and both should move the bar about twice a second without flooding the app.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .errors import Cancelled

PHASES = ("training", "validation", "evaluation", "export", "simulation")
INTERVAL_S = 0.5   # at most one event per phase this often, besides milestones


@dataclass(frozen=True)
class Progress:
    """One event. Training and validation events name their seed and iteration; `val_*` are set on the event
    that ends a validation only. `done`/`total` count the phase's own units: iterations (training), windows
    (validation, evaluation), frames (export) or time steps (simulation)."""

    seed: int = 0
    seed_index: int = 0
    n_seeds: int = 1
    iteration: int = 0
    iterations: int = 0
    elapsed_s: float = 0.0        # training and validation: since the seed started; else since the phase did
    train_loss: float = math.nan  # mean over the iterations since the previous validation
    train_rate: float = math.nan  # EP rate (per unit time) of those training batches
    val_loss: float | None = None
    val_rate: float | None = None
    val_r2: float | None = None   # against the exact EP, when the movie has ground truth
    val_truth_rate: float | None = None   # the validation windows' exact EP rate (partially observed: the best
                                          # reachable from them), when the data have ground truth
    lr: float | None = None       # learning rate in use
    best_iteration: int = 0
    best_val_loss: float | None = None
    val_log_ift: float | None = None   # ln <exp(-dS)> over the validation windows: about 0 unless ran away
    val_lower: float | None = None     # model-known estimators: the bounds on the validation snapshots' EP rate
    val_upper: float | None = None     # that bracket val_rate (None: the method has no such bound)
    message: str = ""             # "started", "kept" (the new best model), how training ended, or what is exported
    phase: str = "training"       # one of PHASES
    done: int = 0
    total: int = 0
    left_s: float | None = None   # seconds this phase still needs at its pace so far (training: all seeds, at
                                  # most: early stopping may end sooner); None before anything is done


Callback = Callable[[Progress], None]


def seconds_left(elapsed_s: float, done: float, total: float) -> float | None:
    return elapsed_s / done * (total - done) if done > 0 else None


class Throttle:
    """True at most once every INTERVAL_S (read at construction, so tests may shorten it)."""

    def __init__(self):
        self.interval, self.last = INTERVAL_S, time.perf_counter()

    def __call__(self) -> bool:
        now = time.perf_counter()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


class PhaseReporter:
    """`report(done)` sends a throttled event of one phase (always the first and the last one), with `what`
    as its message. Once `cancel` is set it raises `Cancelled`: "{what} cancelled at {done} of {total}
    {unit}{consequence}"."""

    def __init__(self, phase: str, total: int, callback: Callback | None = None,
                 cancel: threading.Event | None = None, what: str = "", unit: str = "", consequence: str = "",
                 **fields):
        self.phase, self.total, self.callback, self.cancel, self.what, self.fields = (
            phase, total, callback, cancel, what, fields)
        self.unit, self.consequence = unit, consequence
        self.t0, self.throttle = time.perf_counter(), Throttle()

    def __call__(self, done: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{self.what} cancelled at {done} of {self.total} {self.unit}{self.consequence}")
        if self.callback is None or not (done in (0, self.total) or self.throttle()):
            return
        elapsed = time.perf_counter() - self.t0
        self.callback(Progress(phase=self.phase, done=done, total=self.total, elapsed_s=elapsed,
                               left_s=seconds_left(elapsed, done, self.total), message=self.what, **self.fields))


def reported(items: Iterable, report: PhaseReporter) -> Iterator:
    """`items`, reporting before each how many the consumer has taken (written, for an export): a cancel stops
    the consumer at its next item. The caller reports the total once its output is complete."""
    for done, item in enumerate(items):
        report(done)
        yield item
