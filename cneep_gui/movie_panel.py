"""The movie's calibration (pixel size, frame interval, editable) and how the dissipation map is shown."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QSlider, QWidget

from cneep_engine import Movie

OFF, PER_WINDOW, TIME_AVERAGED = range(3)
_SOURCE = {"metadata": "from the movie's metadata", "default": "not in the file: please check",
           "user": "set by you"}


class MoviePanel(QWidget):
    calibrationChanged = pyqtSignal(float, float)      # frame interval (s), pixel size (µm)
    overlayChanged = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.info = QLabel("No movie open", wordWrap=True)
        self.dt = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1e6, suffix=" s", keyboardTracking=False,
                                 toolTip="Time between frames. Read from the file's metadata when it has one; "
                                         "EP rates are per second of this clock")
        self.pixel_size = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1e5, suffix=" µm",
                                         keyboardTracking=False,
                                         toolTip="Size of a pixel. Written into exported maps so Fiji opens "
                                                 "them calibrated")
        self.dt_source, self.pixel_source = QLabel(), QLabel()
        self.mode = QComboBox(toolTip="Per transition: the map of the frames shown now (EP per pixel). "
                                      "Time-averaged: mean over the held-out test windows (EP per second per pixel)")
        self.mode.addItems(["Off", "Per transition", "Time-averaged (test windows)"])
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=70,
                               toolTip="Opacity of the dissipation map over the movie")
        form = QFormLayout(self)
        form.addRow(self.info)
        form.addRow("Frame interval", self.dt)
        form.addRow("", self.dt_source)
        form.addRow("Pixel size", self.pixel_size)
        form.addRow("", self.pixel_source)
        form.addRow("Dissipation map", self.mode)
        form.addRow("Opacity", self.opacity)
        self.dt.valueChanged.connect(lambda _: self._edited(self.dt_source))
        self.pixel_size.valueChanged.connect(lambda _: self._edited(self.pixel_source))
        self.mode.currentIndexChanged.connect(self.overlayChanged)
        self.opacity.valueChanged.connect(self.overlayChanged)
        self.mode.setEnabled(False)
        self.setEnabled(False)

    def set_movie(self, movie: Movie) -> None:
        source = movie.path.name if movie.path else "synthetic movie (not saved)"
        h, w = movie.frame_shape
        self.info.setText(f"{source}\n{movie.n_movies} × {movie.n_frames} frames of {h} × {w} px, "
                          f"{movie.frames.dtype}")
        for box, label, v, src in ((self.dt, self.dt_source, movie.dt, movie.dt_source),
                                   (self.pixel_size, self.pixel_source, movie.pixel_size, movie.pixel_size_source)):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)
            label.setText(_SOURCE.get(src, src))
        self.setEnabled(True)

    def _edited(self, source_label: QLabel) -> None:
        source_label.setText(_SOURCE["user"])
        self.calibrationChanged.emit(self.dt.value(), self.pixel_size.value())

    def set_has_run(self, has_run: bool) -> None:
        self.mode.setEnabled(has_run)
        if has_run and self.mode.currentIndex() == OFF:
            self.mode.setCurrentIndex(PER_WINDOW)
