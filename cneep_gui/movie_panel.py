"""The open input's calibration (frame interval and, for a movie, pixel size; editable, and remembered per file
so that reopening the file offers the user's values again) and how the dissipation map is shown."""

from __future__ import annotations

import datetime

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QSlider,
                             QWidget)

from cneep_engine import Movie, Trajectories

from . import settings

OFF, PER_WINDOW, TIME_AVERAGED, STANDARD_ERROR = range(4)
_SOURCE = {"metadata": "from the file's metadata", "default": "not in the file: please check",
           "user": "set by you"}
_GENERATED = "as generated"      # the source of a movie made in memory, which has no file


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
                                      "Time-averaged: mean over the held-out test windows (EP per second per pixel). "
                                      "Standard error: of the time-averaged map, over seeds or by a bootstrap of "
                                      "the test windows")
        self.mode.addItems(["Off", "Per transition", "Time-averaged (test windows)",
                            "Standard error of the time average"])
        self.hide_uncertain = QCheckBox("Hide uncertain pixels", toolTip="Time-averaged map: leave out the pixels "
                                        "whose mean is within two standard errors of 0")
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=70,
                               toolTip="Opacity of the dissipation map over the movie")
        self.scale_bar = QCheckBox("Scale bar", checked=True,
                                   toolTip="A bar of a round length in µm over the movie (needs the pixel size)")
        self.opacity_value = QLabel(minimumWidth=40)
        opacity = QHBoxLayout()
        opacity.addWidget(self.opacity, 1)
        opacity.addWidget(self.opacity_value)
        self.form = form = QFormLayout(self)
        form.addRow(self.info)
        form.addRow("Frame interval", self.dt)
        form.addRow("", self.dt_source)
        form.addRow("Pixel size", self.pixel_size)
        form.addRow("", self.pixel_source)
        form.addRow("Dissipation map", self.mode)
        form.addRow(self.hide_uncertain)
        form.addRow("Opacity", opacity)
        form.addRow(self.scale_bar)
        # Nothing to calibrate or overlay before an input is open: no placeholder numbers either.
        self._rows = (self.dt, self.dt_source, self.pixel_size, self.pixel_source, self.mode, self.hide_uncertain,
                      opacity, self.scale_bar)
        for row in self._rows:
            form.setRowVisible(row, False)
        self.opacity.valueChanged.connect(lambda v: self.opacity_value.setText(f"{v} %"))
        self.opacity_value.setText(f"{self.opacity.value()} %")
        self._path = None      # the file whose calibration edits are remembered
        self.dt.valueChanged.connect(lambda v: self._edited(self.dt_source, "dt", v))
        self.pixel_size.valueChanged.connect(lambda v: self._edited(self.pixel_source, "pixel_size", v))
        self.mode.currentIndexChanged.connect(self.overlayChanged)
        self.mode.currentIndexChanged.connect(self._enable_hiding)
        self.hide_uncertain.toggled.connect(self.overlayChanged)
        self.opacity.valueChanged.connect(self.overlayChanged)
        self.mode.setEnabled(False)
        self._has_uncertainty = False
        self.set_has_run(False)
        self.setEnabled(False)

    def set_data(self, data: Movie | Trajectories) -> None:
        source = data.path.name if data.path else "synthetic (not saved)"
        movie = isinstance(data, Movie)
        if movie:
            h, w = data.frame_shape
            self.info.setText(f"{source}\n{data.n_movies} × {data.n_frames} frames of {h} × {w} px, "
                              f"{data.frames.dtype}")
        else:
            what = (f"{data.n_states} states" if data.kind == "states"
                    else f"{data.n_coordinates} coordinates ({', '.join(str(v) for v in data.labels[:6])}"
                         f"{', …' if data.n_coordinates > 6 else ''})")
            self.info.setText(f"{source}\n{data.n_trajectories} trajectories × {data.n_frames} frames of {what}")
        # Frames preprocessed for a run have the run's calibration (dt times the frame step, ...), not the file's.
        self._path = None if "preprocess" in data.provenance else data.path
        memory = settings.remembered(self._path)
        calibrations = [(self.dt, self.dt_source, "dt", data.dt, data.dt_source)]
        if movie:
            calibrations.append((self.pixel_size, self.pixel_source, "pixel_size", data.pixel_size,
                                 data.pixel_size_source))
        restored = False
        for box, label, name, v, src in calibrations:
            text = _GENERATED if src == "metadata" and data.path is None else _SOURCE.get(src, src)
            if name in memory:
                v, day = memory[name]
                text, restored = f"{_SOURCE['user']} on {day}", True
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)
            label.setText(text)
        # Trajectories have no pixels and no dissipation map, only a frame interval.
        for row in self._rows:
            self.form.setRowVisible(row, movie or row in (self.dt, self.dt_source))
        self.setEnabled(True)
        if restored:
            self.calibrationChanged.emit(self.dt.value(), self.pixel_size.value())

    def _edited(self, source_label: QLabel, name: str, value: float) -> None:
        day = datetime.date.today().isoformat()
        source_label.setText(f"{_SOURCE['user']} on {day}")
        settings.remember(self._path, **{name: [value, day]})
        self.calibrationChanged.emit(self.dt.value(), self.pixel_size.value())

    def set_has_run(self, has_run: bool, has_uncertainty: bool = False) -> None:
        """A run's maps can be shown; with `has_uncertainty`, also the standard error and the hiding."""
        self._has_uncertainty = has_uncertainty
        self.mode.model().item(STANDARD_ERROR).setEnabled(has_uncertainty)
        if self.mode.currentIndex() == STANDARD_ERROR and not has_uncertainty:
            self.mode.setCurrentIndex(TIME_AVERAGED)
        self.mode.setEnabled(has_run)
        if has_run and self.mode.currentIndex() == OFF:
            self.mode.setCurrentIndex(PER_WINDOW)
        self._enable_hiding()

    def _enable_hiding(self) -> None:
        self.hide_uncertain.setEnabled(self._has_uncertainty and self.mode.currentIndex() == TIME_AVERAGED)
