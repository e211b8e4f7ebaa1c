"""The log dock: what the app and the engine report, including tracebacks that never reach a dialog."""

from __future__ import annotations

import logging

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QFontDatabase
from PyQt6.QtWidgets import QPlainTextEdit

log = logging.getLogger("cneep_gui")
log.setLevel(logging.INFO)


class _Bridge(QObject):
    line = pyqtSignal(str)


class _Handler(logging.Handler):
    """Log records may come from worker threads: they reach the widget through a queued signal."""

    def __init__(self, bridge: _Bridge):
        super().__init__()
        self.bridge = bridge
        self.setFormatter(logging.Formatter("%(asctime)s  %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.line.emit(self.format(record))
        except RuntimeError:   # its window was deleted without being closed (a crash, a failed test)
            log.removeHandler(self)


class LogPanel(QPlainTextEdit):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._bridge = _Bridge(self)
        self._bridge.line.connect(self.appendPlainText)
        self._handler = _Handler(self._bridge)
        log.addHandler(self._handler)

    def detach(self) -> None:
        """Stop listening: the logger is global and outlives this window."""
        log.removeHandler(self._handler)
