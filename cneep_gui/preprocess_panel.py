"""Preprocessing before training, as `cneep train` does it: a region drawn on the movie, binning, time range,
frame step, normalisation, registration and bleach correction, with a preview of the frame the network will see.

The engine's `prepare(movie, Preprocess(...))` makes the movie that trains; it runs in the background (the
corrections measure the drift over the whole movie), once after the last of a burst of changes. The choices
are remembered per file and offered again when the file is reopened."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, QTimer, pyqtSignal
from PyQt6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from cneep_engine import CneepError, Movie
from cneep_engine.io import Preprocess, prepare
from cneep_engine.params import specs

from . import settings
from .movie_view import MovieView
from .param_form import editor
from .plan_view import WARNING_COLOUR
from .worker import Job

class PreprocessPanel(QWidget):
    preparedChanged = pyqtSignal()      # `movie` (or `error`) has changed

    def __init__(self, movie_view: MovieView, parent=None):
        super().__init__(parent)
        self.source: Movie | None = None    # the movie as opened
        self.movie: Movie | None = None     # the source preprocessed with the options shown; None while working
        self.error = ""                     # why the options cannot be applied to the source
        self._job: Job | None = None
        self._running: tuple[Movie, Preprocess] | None = None   # what the job works on
        self._timer = QTimer(self, singleShot=True, interval=200)
        self._timer.timeout.connect(self._start)

        self.roi = pg.RectROI((0, 0), (1, 1), snapSize=1, translateSnap=True, scaleSnap=True,
                              pen=pg.mkPen("y", width=2))
        self.roi.setZValue(20)
        self.roi.sigRegionChangeFinished.connect(self._edited)
        self.roi.setVisible(False)
        movie_view.view.addItem(self.roi)
        self.region = QLabel()
        self.full_frame = QPushButton("Full frame", toolTip="Train on the whole frame")
        self.full_frame.clicked.connect(lambda: self.set_crop(None))
        # The settings the command line has too, as it declares them (cneep_engine/io/preprocess.py).
        declared = {p.name: p for p in specs(Preprocess)}
        self.bin, self.step = editor(declared["bin"]), editor(declared["frame_step"])
        self.normalize, self.register, self.bleach_correct = (
            editor(declared[name]) for name in ("normalize", "register", "bleach_correct"))
        for name in ("normalize", "register", "bleach_correct"):
            getattr(self, name).setText(declared[name].label)
        self.first = QSpinBox(minimum=0, toolTip="First frame kept (of the file's frames)")
        self.end = QSpinBox(minimum=0, specialValueText="end",
                            toolTip="Frame after the last one kept (end: to the last frame)")
        self.preview = pg.GraphicsLayoutWidget()
        self.preview.setFixedHeight(150)
        self.preview.setToolTip("The frame the network will see")
        self.preview_box = self.preview.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.preview_image = pg.ImageItem()
        self.preview_box.addItem(self.preview_image)
        self.result = QLabel(wordWrap=True)

        form = QFormLayout(self)
        form.addRow("Region", self.region)
        form.addRow("", self.full_frame)
        form.addRow("Binning", self.bin)
        frames = QHBoxLayout()
        frames.addWidget(self.first, 1)
        frames.addWidget(QLabel("to"))
        frames.addWidget(self.end, 1)
        form.addRow("Frames", frames)
        form.addRow("Frame step", self.step)
        for check in (self.normalize, self.register, self.bleach_correct):
            form.addRow("", check)
        form.addRow(self.result)
        form.addRow(self.preview)
        for spin in (self.bin, self.first, self.end, self.step):
            spin.valueChanged.connect(self._edited)
        for check in (self.normalize, self.register, self.bleach_correct):
            check.toggled.connect(self._edited)
        self.set_source(None)

    # --- the options ----------------------------------------------------------------------------
    def options(self) -> Preprocess:
        """The options shown; the region is None when it is the whole frame."""
        crop = self.crop()
        full = self.source is not None and crop == (0, self.source.frame_shape[0], 0, self.source.frame_shape[1])
        end = self.end.value() or None
        return Preprocess(crop=None if full else crop, time_range=None if (self.first.value(), end) == (0, None)
                          else (self.first.value(), end), frame_step=self.step.value(), bin=self.bin.value(),
                          normalize=self.normalize.isChecked(), register=self.register.isChecked(),
                          bleach_correct=self.bleach_correct.isChecked())

    def crop(self) -> tuple[int, int, int, int]:
        """The drawn region in whole pixels, (y0, y1, x0, x1), ends exclusive."""
        (x0, y0), (w, h) = self.roi.pos(), self.roi.size()
        y0, x0 = round(y0), round(x0)
        return y0, y0 + round(h), x0, x0 + round(w)

    def set_crop(self, crop: tuple[int, int, int, int] | None) -> None:
        """Draw the region (y0, y1, x0, x1), clipped to the frame; None: the whole frame."""
        height, width = self.source.frame_shape if self.source is not None else (1, 1)
        y0, y1, x0, x1 = crop or (0, height, 0, width)
        y0, x0 = min(max(y0, 0), height - 1), min(max(x0, 0), width - 1)
        y1, x1 = min(max(y1, y0 + 1), height), min(max(x1, x0 + 1), width)
        self.roi.setPos((x0, y0), update=False, finish=False)
        self.roi.setSize((x1 - x0, y1 - y0), finish=True)

    def set_options(self, options: Preprocess) -> None:
        widgets = (self.roi, self.bin, self.first, self.end, self.step, self.normalize, self.register,
                   self.bleach_correct)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.set_crop(options.crop)
            first, end = options.time_range or (0, None)
            self.first.setValue(first)
            self.end.setValue(end or 0)
            self.step.setValue(options.frame_step)
            self.bin.setValue(options.bin)
            self.normalize.setChecked(options.normalize)
            self.register.setChecked(options.register)
            self.bleach_correct.setChecked(options.bleach_correct)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._edited()

    # --- the source -----------------------------------------------------------------------------
    def set_source(self, movie: Movie | None) -> None:
        """Preprocess `movie` (a movie as opened; None: no movie) with the options remembered for its file."""
        self.source = movie
        editable = movie is not None and "preprocess" not in movie.provenance
        self.setEnabled(editable)
        self.roi.setVisible(editable)
        if movie is None:
            self.movie, self.error = None, ""
            self.result.setText("")
            self.preview_image.clear()
            return
        if not editable:     # a run's own frames, already preprocessed as recorded
            self.movie, self.error = movie, ""
            self.result.setText("preprocessed as the run recorded: " + html.escape(_described(
                movie.provenance["preprocess"])))
            self._show_preview(np.asarray(movie.frames[0, 0]))
            self.preparedChanged.emit()
            return
        height, width = movie.frame_shape
        self.roi.maxBounds = QRectF(0, 0, width, height)
        for spin in (self.first, self.end):
            spin.setMaximum(movie.n_frames)
        try:
            saved = settings.remembered(movie.path).get("preprocess", {})
            options = Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
        except (CneepError, TypeError):
            options = Preprocess()
        self.set_options(options)

    def refresh(self) -> None:
        """The source's calibration changed: prepare it again."""
        if self.source is not None and self.isEnabled():
            self._edited()

    def set_roi_visible(self, visible: bool) -> None:
        """The region is drawn on the movie as opened, not on a run's preprocessed frames."""
        self.roi.setVisible(visible and self.isEnabled())

    # --- preparing ------------------------------------------------------------------------------
    def _edited(self, *_) -> None:
        if self.source is None:
            return
        y0, y1, x0, x1 = self.crop()
        self.region.setText(f"{y0}:{y1}, {x0}:{x1} ({y1 - y0} × {x1 - x0})")
        self.movie, self.error = None, ""
        self.result.setText("preprocessing…")
        self._timer.start()
        self.preparedChanged.emit()

    def _start(self) -> None:
        if self._job is not None or self.source is None:
            return   # a running job starts again with the latest options when it finishes
        try:
            source, options = self.source, self.options()
        except CneepError as e:
            return self._failed(str(e))
        settings.remember(source.path, preprocess=options.describe())
        self._running = (source, options)

        def job(emit, cancel):
            movie = prepare(source, options)
            return movie, np.asarray(movie.frames[0, 0])

        self._job = Job(job, self)
        self._job.returned.connect(self._prepared)
        self._job.errored.connect(lambda message, details: self._current() and self._failed(message))
        self._job.finished.connect(self._finished)
        self._job.start()

    def _prepared(self, result) -> None:
        if not self._current():
            return     # the options changed meanwhile: _finished starts again
        movie, frame = result
        self.movie = movie
        h, w = movie.frame_shape
        self.result.setText(f"{movie.n_movies} × {movie.n_frames} frames of {h} × {w} px; "
                            f"pixel {movie.pixel_size:.4g} µm, frame interval {movie.dt:.4g} s")
        self._show_preview(frame)
        self.preparedChanged.emit()

    def _show_preview(self, frame: np.ndarray) -> None:
        self.preview_image.setImage(frame)
        self.preview_box.autoRange(padding=0)

    def _failed(self, message: str) -> None:
        self.error = message
        self.result.setText(f"<span style='color:{WARNING_COLOUR}'>⚠ {html.escape(message)}</span>")
        self.preview_image.clear()
        self.preparedChanged.emit()

    def _current(self) -> bool:
        """Whether the running job works on the source and options shown now."""
        try:
            return self._running is not None and self._running[0] is self.source and self._running[1] == self.options()
        except CneepError:
            return False

    def _finished(self) -> None:
        self._job.wait()
        self._job.deleteLater()
        self._job = None
        if self.source is not None and self.movie is None and not self.error:
            self._start()

    def stop(self) -> None:
        """Wait for a preprocessing in progress (the window is closing)."""
        self._timer.stop()
        self.source = None
        if self._job is not None:
            self._job.wait()


def _described(record: dict) -> str:
    """A run's preprocessing record in a line: only what differs from doing nothing."""
    plain = Preprocess().describe()
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in record.items() if k in plain and v != plain[k]) \
        or "none"
