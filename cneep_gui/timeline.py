"""Where in the file we are: movie selector, frame slider, play/pause with frame rate, step keys, readout."""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget


class Timeline(QWidget):
    positionChanged = pyqtSignal(int, int)      # movie, frame

    def __init__(self, parent=None):
        super().__init__(parent)
        self.dt = 1.0
        self.movie_box = QComboBox(toolTip="Which movie (or trajectory) of the file to show, and, once a run "
                                           "exists, which part of it the movie was: train, validation or test",
                                   minimumContentsLength=10,
                                   sizeAdjustPolicy=QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.play_button = QToolButton(text="▶", toolTip="Play / pause (Space)")
        self.play_button.setCheckable(True)
        self.slider = QSlider(Qt.Orientation.Horizontal, toolTip="Frame (Left/Right step, Home/End jump)")
        self.fps = QDoubleSpinBox(suffix=" fps", decimals=1, minimum=0.5, maximum=200.0, value=20.0,
                                  toolTip="Playback frame rate")
        self.readout = QLabel()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.movie_box, self.play_button, self.slider, self.fps, self.readout):
            row.addWidget(w)
        row.setStretchFactor(self.slider, 1)
        self._timer = QTimer(self)
        self._timer.timeout.connect(lambda: self.step(1, wrap=True))
        self.play_button.toggled.connect(self._play)
        self.fps.valueChanged.connect(lambda fps: self._timer.setInterval(round(1000 / fps)))
        self.slider.valueChanged.connect(self._emit)
        self.movie_box.currentIndexChanged.connect(self._emit)
        keys = {Qt.Key.Key_Space: self.play_button.toggle, Qt.Key.Key_Left: lambda: self.step(-1),
                Qt.Key.Key_Right: lambda: self.step(1), Qt.Key.Key_Home: lambda: self.slider.setValue(0),
                Qt.Key.Key_End: lambda: self.slider.setValue(self.slider.maximum())}
        for key, slot in keys.items():
            # Window-wide, yet a focused spin box or text field still gets its own arrow keys first.
            QShortcut(QKeySequence(key), self, context=Qt.ShortcutContext.WindowShortcut).activated.connect(slot)
        self.set_movie_shape(0, 0, 1.0)

    def set_movie_shape(self, n_movies: int, n_frames: int, dt: float, noun: str = "movie") -> None:
        self.play_button.setChecked(False)
        self.dt = dt
        with _blocked(self.movie_box, self.slider):
            self.movie_box.clear()
            self.movie_box.addItems([f"{noun} {i + 1}/{n_movies}" for i in range(n_movies)])
            self.slider.setRange(0, max(n_frames - 1, 0))
            self.slider.setValue(0)
        self.movie_box.setEnabled(n_movies > 1)
        self.setEnabled(n_frames > 0)
        if n_frames:
            self._emit()

    def set_parts(self, parts: list[str] | None) -> None:
        """Name each movie's part of the run (train, validation, test) after its number; None: numbers only."""
        for i in range(self.movie_box.count()):
            base = self.movie_box.itemText(i).split(" (")[0]
            self.movie_box.setItemText(i, f"{base} ({parts[i]})" if parts and parts[i] else base)

    def set_dt(self, dt: float) -> None:
        self.dt = dt
        self._update_readout()

    def movie(self) -> int:
        return max(self.movie_box.currentIndex(), 0)

    def frame(self) -> int:
        return self.slider.value()

    def set_position(self, movie: int, frame: int) -> None:
        with _blocked(self.movie_box, self.slider):
            self.movie_box.setCurrentIndex(movie)
            self.slider.setValue(frame)
        self._emit()

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def step(self, by: int, wrap: bool = False) -> None:
        n = self.slider.maximum() + 1
        self.slider.setValue((self.frame() + by) % n if wrap else min(max(self.frame() + by, 0), n - 1))

    def _play(self, on: bool) -> None:
        self.play_button.setText("⏸" if on else "▶")
        if on:
            self._timer.start(round(1000 / self.fps.value()))
        else:
            self._timer.stop()

    def _update_readout(self) -> None:
        t = self.frame()
        self.readout.setText(f"frame {t} / {self.slider.maximum()}   t = {t * self.dt:.4g} s")

    def _emit(self, *_) -> None:
        self._update_readout()
        self.positionChanged.emit(self.movie(), self.frame())


class _blocked:
    """Change widgets without their signals firing, then emit once ourselves."""

    def __init__(self, *widgets):
        self.widgets = widgets

    def __enter__(self):
        for w in self.widgets:
            w.blockSignals(True)

    def __exit__(self, *exc):
        for w in self.widgets:
            w.blockSignals(False)
