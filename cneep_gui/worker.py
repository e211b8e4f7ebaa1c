"""Engine jobs on a QThread: engine events become Qt signals, Cancel sets the engine's threading.Event.

    job = Job(lambda emit, cancel: cneep_engine.train(movie, config, callback=emit, cancel=cancel))
    job.progress.connect(...); job.returned.connect(...); job.errored.connect(...); job.start()

The engine only ever sees a plain callback and an Event, so it stays free of Qt. Signals emitted here
reach slots on the GUI thread through queued connections: no widget is touched from the worker.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PyQt6.QtCore import QThread, pyqtSignal

from cneep_engine import CneepError

JobFunction = Callable[[Callable[[Any], None], threading.Event], Any]


class Job(QThread):
    progress = pyqtSignal(object)       # whatever the engine reports (a training Progress event)
    returned = pyqtSignal(object)       # the function's result
    errored = pyqtSignal(str, str)      # a one-line message for the user, and the traceback ("" for CneepError)

    def __init__(self, fn: JobFunction, parent=None):
        super().__init__(parent)
        self._fn = fn
        self.cancel_event = threading.Event()

    def run(self) -> None:
        try:
            result = self._fn(self.progress.emit, self.cancel_event)
        except CneepError as e:
            self.errored.emit(str(e), "")
        except Exception as e:  # a bug, not a user error: the message to the dialog, the traceback to the log
            self.errored.emit(f"unexpected error: {type(e).__name__}: {e}", traceback.format_exc())
        else:
            self.returned.emit(result)

    def cancel(self) -> None:
        """Ask the engine to stop at its next step; `returned` still comes, with what was done so far."""
        self.cancel_event.set()
