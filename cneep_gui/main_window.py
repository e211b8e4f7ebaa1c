"""The main window: lays out the panels, owns the open input (a movie or trajectories) and run, and wires user
actions to the engine.

Everything slow (generating, training, writing a movie) runs as a `Job` on a QThread, one at a time.
Every failure becomes a dialog naming what went wrong; tracebacks go to the log panel only.
"""

from __future__ import annotations

import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QIcon, QKeySequence
from PyQt6.QtWidgets import (QDockWidget, QFileDialog, QMainWindow, QMessageBox, QScrollArea, QSplitter,
                             QTabWidget, QVBoxLayout, QWidget)

from cneep_engine import CneepError, Movie, Progress, Run, TrainConfig, Trajectories, load_input, train
from cneep_engine.errors import Cancelled
from cneep_engine import export
from cneep_engine.apply import apply_run
from cneep_engine.device import set_cpu_threads
from cneep_engine.estimators import ESTIMATORS, estimators_for
from cneep_engine.figure import figure_renderer, known_pixel_size
from cneep_engine.io import SUFFIXES, TRAJECTORY_SUFFIXES, prepare
from cneep_engine.registry import System
from cneep_engine.run_folder import is_run_folder

from . import about_dialog, sample, settings
from .log_panel import LogPanel, log
from .movie_panel import OFF, STANDARD_ERROR, TIME_AVERAGED, MoviePanel
from .generate_dialog import GenerateDialog, GenerationProgress, exact
from .model_view import ModelView
from .movie_view import MovieView
from .plots import UNRESOLVED, TracePlot, TrainingPlots
from .preferences import PreferencesDialog
from .preprocess_panel import PreprocessPanel
from .run_dialog import ask_run_folder, check_run_folder
from .summary_view import SummaryView, movie_parts
from .timeline import Timeline
from .training_panel import TrainingPanel
from .trajectory_view import TrajectoryView
from .worker import Job


def _globs(suffixes) -> str:
    return " ".join(f"*{s}" for s in dict.fromkeys(suffixes))


OPEN_FILTER = (f"Movies and trajectories ({_globs(SUFFIXES + TRAJECTORY_SUFFIXES)});;Movies ({_globs(SUFFIXES)});;"
               f"Trajectories ({_globs(TRAJECTORY_SUFFIXES)});;All files (*)")
# Engine jobs share the interpreter with the GUI. Handing the GIL over every 1 ms instead of Python's 5 ms
# halves the worst event-loop stalls during training (measured: p99 44 -> 23 ms) at no cost in speed.
GIL_SWITCH_S = 0.001
ICON = Path(__file__).resolve().parent / "resources" / "cneep-studio.svg"


def _scrolling(widget: QWidget) -> QScrollArea:
    """`widget` in a scroll area, so that a panel taller than its dock (warnings) stays reachable."""
    area = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
    area.setWidget(widget)
    return area


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        sys.setswitchinterval(GIL_SWITCH_S)
        self.setWindowTitle("CNEEP Studio")
        self.setWindowIcon(QIcon(str(ICON)))
        self.setAcceptDrops(True)
        self.data: Movie | Trajectories | None = None
        self.earlier: dict[tuple[str, object], tuple[float, float | None]] = {}
        self.run: Run | None = None
        self.shown: Movie | Trajectories | None = None   # what is drawn: a run's own (preprocessed) frames or data
        self.job: Job | None = None
        self.error_box: QMessageBox | None = None
        self.generation_progress: GenerationProgress | None = None   # a long simulation's progress and Cancel
        self._mean_map: np.ndarray | None = None
        self._certain_map: np.ndarray | None = None     # the mean map with its uncertain pixels hidden
        self._limits = (1.0, 1.0)
        self._trace_movie: int | None = None      # which movie (or trajectory) the trace plot shows

        self.movie_view = MovieView()
        self.trajectory_view = TrajectoryView()
        self.model_view = ModelView()
        # The input's view, and beside it a model-known run's results; the tab bar shows only when there are two.
        self.views = QTabWidget(documentMode=True, tabBarAutoHide=True)
        self.views.addTab(self.movie_view, "Movie")
        self.timeline = Timeline()
        self.trace = TracePlot()
        centre = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.views, 1)
        column.addWidget(self.timeline)
        centre.addWidget(top)
        centre.addWidget(self.trace)
        centre.setSizes([600, 200])
        self.setCentralWidget(centre)

        self.movie_panel = MoviePanel()
        self.preprocess_panel = PreprocessPanel(self.movie_view)
        self.training_panel = TrainingPanel()
        self.training_plots = TrainingPlots()
        self.summary = SummaryView()
        self.log_panel = LogPanel()
        self.docks = {}
        for title, widget, area in (("Input", self.movie_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
                                    ("Preprocessing", _scrolling(self.preprocess_panel),
                                     Qt.DockWidgetArea.LeftDockWidgetArea),
                                    ("Training", _scrolling(self.training_panel), Qt.DockWidgetArea.LeftDockWidgetArea),
                                    ("Training progress", self.training_plots, Qt.DockWidgetArea.RightDockWidgetArea),
                                    ("Results", _scrolling(self.summary), Qt.DockWidgetArea.RightDockWidgetArea),
                                    ("Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)):
            dock = QDockWidget(title, self, objectName=title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[title] = dock
        self.resizeDocks([self.docks["Input"], self.docks["Training progress"]], [330, 420],
                         Qt.Orientation.Horizontal)
        # Room for the input's description to wrap (a dock gives a wrapped label no more height than it asks for
        # unwrapped, and clipped its first line); the preview and the forms scroll.
        self.resizeDocks([self.docks[t] for t in ("Input", "Preprocessing", "Training")], [190, 300, 400],
                         Qt.Orientation.Vertical)
        # The verdict, its meaning and the warnings need room; the training curves read well in less.
        self.resizeDocks([self.docks["Log"], self.docks["Training progress"], self.docks["Results"]], [120, 400, 300],
                         Qt.Orientation.Vertical)
        self._build_menus()

        self.timeline.positionChanged.connect(self._show_position)
        for view in (self.trace, self.trajectory_view):
            view.frameRequested.connect(lambda t: self.timeline.set_position(self.timeline.movie(), t))
        self.movie_panel.calibrationChanged.connect(self._set_calibration)
        self.movie_panel.overlayChanged.connect(self._overlay_changed)
        self.movie_panel.scale_bar.toggled.connect(self.movie_view.show_scale_bar)
        self.training_panel.trainRequested.connect(self.start_training)
        self.training_panel.cancelRequested.connect(self.cancel_job)
        self.training_panel.settingsChanged.connect(self._replan)
        self.preprocess_panel.preparedChanged.connect(self._replan)
        self._restore_settings()
        self._update_actions()

    # --- menus ----------------------------------------------------------------------------------
    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open movie or trajectories…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file, "Open r&un…", self.open_run_dialog, "Ctrl+Shift+O")
        self.apply_action = self._action(file, "&Apply trained model…", self.apply_dialog)
        self.sample_action = self._action(file, "Open sam&ple (synthetic beads with their exact EP)",
                                          self.open_sample)
        self.generate_action = self._action(file, "&Generate synthetic data…", self.generate_dialog, "Ctrl+G")
        file.addSeparator()
        self.save_run_action = self._action(file, "&Save run…", self.save_run_dialog, QKeySequence.StandardKey.Save)
        exports = file.addMenu("&Export")
        self.map_export_actions = [
            self._action(exports, "Dissipation maps, all windows (TIFF stack)…", self.export_map_stack_dialog),
            self._action(exports, "Time-averaged map (TIFF)…",
                         lambda: self._export("Save time-averaged map", "TIFF (*.tif)", ".tif", export.write_mean_map,
                                              "mean-map")),
            self._action(exports, "Overlay figure (PNG or TIFF)…", self.export_figure_dialog),
            self._action(exports, "Overlay movie (MP4 or AVI)…", self.export_movie_dialog),
        ]
        self.export_actions = self.map_export_actions + [
            self._action(exports, "EP traces (CSV)…",
                         lambda: self._export("Save EP traces", "CSV (*.csv)", ".csv", export.write_trace_csv,
                                              "ep-trace")),
            self._action(exports, "Summary (JSON)…",
                         lambda: self._export("Save summary", "JSON (*.json)", ".json", export.write_summary_json,
                                              "summary")),
        ]
        file.addSeparator()
        self._action(file, "Pr&eferences…", lambda: PreferencesDialog(self).open(),
                     QKeySequence.StandardKey.Preferences)
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        training = bar.addMenu("&Training")
        self._action(training, "&Train", self.start_training, "Ctrl+T")
        self._action(training, "&Cancel", self.cancel_job, "Ctrl+.")
        self._action(training, "Reset settings to defaults",
                     lambda: self.training_panel.set_config(TrainConfig()))
        view = bar.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        help_ = bar.addMenu("&Help")
        for title, heading in about_dialog.SECTIONS:
            self._action(help_, title, lambda _, t=title, h=heading: about_dialog.section_dialog(t, h, self).open())
        help_.addSeparator()
        self._action(help_, "&About CNEEP Studio",
                     lambda: about_dialog.about_dialog(self.training_panel.config().device, self).open())

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in settings.recent_files():
            self.recent_menu.addAction(path).triggered.connect(lambda _, p=path: self.open_path(p))
        self.recent_menu.setEnabled(True)

    def _update_actions(self) -> None:
        busy = self.job is not None
        for action in [self.save_run_action, *self.export_actions]:
            # Trajectory runs have no maps to export.
            has_maps = action not in self.map_export_actions or (self.run is not None and self.run.maps is not None)
            action.setEnabled(self.run is not None and has_maps and not busy)
        self.generate_action.setEnabled(not busy)
        self.apply_action.setEnabled(self.data is not None and not busy)
        self.sample_action.setEnabled(not busy)
        self.training_panel.train_button.setEnabled(self.data is not None and not busy)

    # --- errors ---------------------------------------------------------------------------------
    def show_error(self, message: str, details: str = "") -> None:
        """A dialog with the one-line message; the traceback, if any, goes to the log only."""
        log.error(message + (f"\n{details}" if details else ""))
        self.error_box = QMessageBox(QMessageBox.Icon.Critical, "CNEEP Studio", message,
                                     QMessageBox.StandardButton.Ok, self)
        self.error_box.open()       # not exec(): the window keeps running behind the dialog

    @contextmanager
    def _reporting(self):
        try:
            yield
        except CneepError as e:
            self.show_error(str(e))
        except Exception as e:  # a bug: keep the app usable and tell the user
            self.show_error(f"unexpected error: {type(e).__name__}: {e}", traceback.format_exc())

    # --- opening --------------------------------------------------------------------------------
    def _last_dir(self) -> str:
        return settings.value("dir/last", str(Path.home()))

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open movie or trajectories", self._last_dir(), OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_run_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open run folder", self._last_dir())
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a movie, trajectories or a run folder. Returns whether it worked; failures show a dialog."""
        path = Path(path)
        with self._reporting():
            if self.job is not None:
                raise CneepError(f"{path}: wait for the running job to finish (or cancel it) first")
            if is_run_folder(path):
                run, data = export.open_run(path)
                self.set_data(data)
                self.training_plots.reset(data.truth, ceiling=ESTIMATORS[run.config.model].of_transitions)
                self.set_run(run)
                # the settings it was trained with, the estimator's own too, to train again
                self.training_panel.set_config(run.config, run.closed_form)
                for ev in run.history:      # the training curves, as they were drawn live
                    self.training_plots.add(ev)
                log.info(f"opened run {path}")
            else:
                self.set_data(load_input(path))
                log.info(f"opened {path}")
                for note in self.data.provenance.get("notes", []):    # what the reader made of the file
                    log.info(f"{path.name}: {note}")
            settings.add_recent(path)
            settings.set_value("dir/last", str(path.parent))
            return True
        return False

    def open_sample(self) -> None:
        """Open the sample movie, generating it into the user's data folder on first use."""
        path = sample.sample_path()
        if sample.is_cached(path):
            self.open_path(path)
        elif self.job is None:
            self.statusBar().showMessage(f"generating the sample movie into {path.parent}…")
            job = self._start_job(lambda emit, cancel: load_input(sample.make_sample(path)), self._sample_made,
                                  f"generating the sample movie into {path}")
            job.finished.connect(self.statusBar().clearMessage)

    def _sample_made(self, movie: Movie) -> None:
        self.set_data(movie)
        settings.add_recent(movie.path)
        log.info(f"opened {movie.path}")

    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    def set_data(self, data: Movie | Trajectories) -> None:
        """Show a movie or trajectories and offer the estimators that read it."""
        # The old run goes and the timeline learns the new length before anything is drawn: the old frame
        # number may lie beyond the new data.
        self.data, self.run, self.shown = data, None, data
        # Each method's latest result on this input, keyed with the preprocessing it saw: drawn beside the next
        # method's training so that bounds and estimates of the same data are read together.
        self.earlier = {}
        movie = isinstance(data, Movie)
        self.preprocess_panel.set_source(data if movie else None)
        self.views.clear()
        self.views.addTab(*((self.movie_view, "Movie") if movie else (self.trajectory_view, "Trajectories")))
        if not movie:
            self.trajectory_view.set_data(data)
        self.timeline.set_movie_shape(data.n_movies if movie else data.n_trajectories, data.n_frames, data.dt,
                                      "movie" if movie else "trajectory")
        self.set_run(None)
        self._show_data_name()
        if movie:
            self._show_pixel_size()
        self.training_plots.reset(data.truth)
        self.training_panel.set_models(estimators_for("movie" if movie else data.kind))
        self._update_actions()
        self._replan()

    def _replan(self) -> None:
        """The memory and time of training the open input, preprocessed, with the panel's settings, shown next
        to Train."""
        data = self.preprocess_panel.movie if isinstance(self.data, Movie) else self.data
        self.training_panel.plan.request(data, self.training_panel.config)
        if data is None and self.data is not None:
            self.training_panel.plan.setText(self.preprocess_panel.result.text())

    def _show_data_name(self) -> None:
        data = self.data
        self.setWindowTitle(f"CNEEP Studio — {data.path.name if data.path else 'synthetic (not saved)'}")
        self.movie_panel.set_data(data)

    def set_run(self, run: Run | None, movie: Movie | None = None) -> None:
        """Show `run` over `movie`, the frames it was trained on (None: the open input's own)."""
        self.run = run
        shown = movie if movie is not None else self.data
        if shown is not self.shown and isinstance(shown, Movie):
            self.shown = shown
            # The region is drawn on the frames as opened; a run preprocessed otherwise is shown on its own
            # (hidden first: the view fits what is visible when the frame size changes).
            self.preprocess_panel.set_roi_visible(shown.frames is self.data.frames)
            self.timeline.set_movie_shape(shown.n_movies, shown.n_frames, shown.dt)
            self._show_pixel_size()
        parts = movie_parts(run, self.timeline.movie_box.count()) if run is not None else None
        self.summary.set_summary(run.summary if run else None, parts,
                                 "movies" if isinstance(self.data, Movie) else "trajectories")
        self.timeline.set_parts(parts)
        self._show_model_results(run)
        uncertainty = run.map_uncertainty if run is not None else None
        self.movie_panel.set_has_run(run is not None, uncertainty is not None)
        if run is not None and run.maps is not None:
            self._mean_map = run.mean_map
            self._certain_map = uncertainty.hide_uncertain(self._mean_map) if uncertainty is not None else None
            self._limits = export.map_limits(run)
        self._overlay_changed()
        self._update_actions()

    def _show_model_results(self, run: Run | None) -> None:
        """A model-known run's landscape, current and particles in a tab of their own, shown first."""
        method = ESTIMATORS.get(run.summary.get("method", "")) if run is not None else None
        known = method is not None and "drift" in method.requires
        self.model_view.set_summary(run.summary if known else None)
        tab = self.views.indexOf(self.model_view)
        if known and tab < 0:
            self.views.setCurrentIndex(self.views.addTab(self.model_view, "Model results"))
        elif not known and tab >= 0:
            self.views.removeTab(tab)

    # --- showing --------------------------------------------------------------------------------
    def current_map(self, movie: int, frame: int) -> np.ndarray | None:
        mode = self.movie_panel.mode.currentIndex()
        if self.run is None or mode == OFF:
            return None
        if mode == STANDARD_ERROR:
            return self.run.map_uncertainty.sem
        if mode == TIME_AVERAGED:
            return self._certain_map if self._hiding() else self._mean_map
        return export.frame_map(self.run, movie, frame)

    def _hiding(self) -> bool:
        panel = self.movie_panel
        return panel.hide_uncertain.isEnabled() and panel.hide_uncertain.isChecked()

    def _overlay_changed(self) -> None:
        mode = self.movie_panel.mode.currentIndex()
        label = {TIME_AVERAGED: "EP rate per pixel (k_B/s)",
                 STANDARD_ERROR: "standard error of the EP rate per pixel (k_B/s)"}
        self.movie_view.set_scale(None if mode in label else self._limits[0],
                                  label.get(mode, "EP per pixel, this transition (k_B)"))
        self.movie_view.set_opacity(self.movie_panel.opacity.value() / 100)
        self._trace_movie = None
        if self.data is not None:
            self._show_position(self.timeline.movie(), self.timeline.frame())

    def _show_position(self, movie: int, frame: int) -> None:
        """Show frame `frame` of movie (or trajectory) `movie`, its map and its cumulative EP."""
        if self.data is None:
            return
        if isinstance(self.data, Movie):
            self.movie_view.show_frame(self.shown.frames[movie, frame])
            self.movie_view.show_map(self.current_map(movie, frame))
        else:
            self.trajectory_view.show_position(movie, frame)
        if movie != self._trace_movie:
            self._trace_movie = movie
            if self.run is not None and not self.run.summary.get("transitions", {}).get("resolved", True):
                self.trace.set_trace(None, None, None, self.data.dt, self.data.n_frames, why=UNRESOLVED)
            elif self.run is not None and np.any(self.run.movie == movie):
                self.trace.set_trace(*export.cumulative_trace(self.run, movie), self.run.dt,
                                     parts=export.trace_parts(self.run, movie))
            else:
                self.trace.set_trace(None, None, None, self.data.dt, self.data.n_frames)
        self.trace.set_frame(frame)

    def _set_calibration(self, dt: float, pixel_size: float) -> None:
        if dt != self.data.dt:
            self.data.dt, self.data.dt_source = dt, "user"
        if isinstance(self.data, Movie):
            if pixel_size != self.data.pixel_size:
                self.data.pixel_size, self.data.pixel_size_source = pixel_size, "user"
            self.preprocess_panel.refresh()
            self._show_pixel_size()
        else:
            self.trajectory_view.set_dt(dt)
            self._show_position(self.timeline.movie(), self.timeline.frame())
        if self.shown is self.data:     # a run's preprocessed frames keep their own interval
            self.timeline.set_dt(dt)
        if self.run is None:
            self.trace.dt = dt

    def _show_pixel_size(self) -> None:
        known = known_pixel_size(self.shown)
        self.movie_view.set_pixel_size(known)
        self.movie_panel.scale_bar.setEnabled(known is not None)

    def overlay_renderer(self):
        """`render(movie, frame) -> RGB` of the figure as drawn now (enlarged, with colour and scale bars);
        Qt-free, so it may run on a worker thread while the user goes on changing the view."""
        mode = OFF if self.run is None else self.movie_panel.mode.currentIndex()
        view = self.movie_view
        figure = figure_renderer(self.shown.frames, None if mode == OFF else self.run, mode == TIME_AVERAGED,
                                 view.levels(), view.limit, hide_uncertain=mode == TIME_AVERAGED and self._hiding(),
                                 error=mode == STANDARD_ERROR, opacity=view.opacity, frame_lut=view.frame_lut(),
                                 pixel_size=known_pixel_size(self.shown) if view.scale_bar_on else None)
        return lambda movie, frame: figure(movie, frame).rgb

    # --- jobs -----------------------------------------------------------------------------------
    def _start_job(self, fn, on_returned, what: str, on_progress=None) -> Job:
        """Run `fn` on a worker thread; every handler is connected before it starts, so no event is lost."""
        self.job = Job(fn, self)
        if on_progress is not None:
            self.job.progress.connect(on_progress)
        self.job.returned.connect(on_returned)
        self.job.errored.connect(lambda message, details: self.show_error(f"{what}: {message}", details))
        self.job.finished.connect(self._job_finished)
        self._update_actions()
        log.info(f"{what}…")
        self.job.start()
        return self.job

    def _job_finished(self) -> None:
        self.job.wait()
        self.job.deleteLater()
        self.job = None
        self.training_panel.set_running(False)
        self._update_actions()

    def cancel_job(self) -> None:
        if self.job is not None:
            log.info("cancelling: training keeps its best model so far; an evaluation, export or simulation leaves "
                     "no result")
            self.job.cancel()

    def generate_dialog(self) -> GenerateDialog:
        """Open the generator dialog without blocking; Generate starts the job."""
        dialog = GenerateDialog(self)
        dialog.accepted.connect(lambda: self._generate(dialog))
        dialog.open()
        return dialog

    def _generate(self, dialog: GenerateDialog) -> None:
        with self._reporting():
            system, configs = dialog.request()

            def job(emit, cancel):
                try:
                    return system.run(*configs, callback=emit, cancel=cancel)
                except Cancelled as e:   # the user's choice, not an error: the log says so
                    return e

            self.generation_progress = GenerationProgress(system.name, self) if system.reports else None
            progress = self.generation_progress
            job = self._start_job(job, lambda data: self._generated(data, system), f"generating {system.name} data",
                                  progress.show_progress if progress else None)
            if progress:
                progress.canceled.connect(self.cancel_job)
                job.finished.connect(progress.reset)

    def _generated(self, data: Movie | Trajectories | Cancelled, system: System) -> None:
        if isinstance(data, Cancelled):
            log.info(str(data))
            return
        self.set_data(data)
        series = data.n_movies if isinstance(data, Movie) else data.n_trajectories
        log.info(f"generated {series} × {data.n_frames} frames of {system.name}; {exact(data, system)}")

    def start_training(self) -> None:
        if self.data is None or self.job is not None:
            return
        with self._reporting():
            config, closed_form = self.training_panel.config(), self.training_panel.closed_form()
            settings.save_train_config(config)
            movie = isinstance(self.data, Movie)
            if movie and self.preprocess_panel.error:
                raise CneepError(self.preprocess_panel.error)
            # Snapshots: calibration edits during training do not leak in. Preprocessing still in progress
            # is done by the job.
            ready = self.preprocess_panel.movie if movie else self.data
            source, options = replace(self.data), self.preprocess_panel.options()
            data = replace(ready) if ready is not None else source
            threads = self.training_panel.threads.value()
            self.set_run(None)
            self.training_plots.reset(data.truth, {m: v for (m, o), v in self.earlier.items()
                                                   if o == options and m != config.model},
                                      ESTIMATORS[config.model].of_transitions)
            self._show_progress()

            stem = data.path.stem if data.path else "synthetic"
            run_dir = settings.runs_dir() / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
            what = "checkpoints and log go" if ESTIMATORS[config.model].trained else "the results go"
            log.info(f"{what} to {run_dir} (runs folder: File > Preferences)")

            checks = self.training_panel.plan.checks_of(ready)   # None: train() makes them

            def job(emit, cancel):
                set_cpu_threads(threads)
                trained = data if ready is not None else prepare(source, options)
                return train(trained, config, callback=emit, cancel=cancel, run_dir=run_dir, checks=checks,
                             closed_form=closed_form), trained

            def trained(result: tuple[Run, Movie | Trajectories]) -> None:
                summary = result[0].summary
                if summary.get("ep_rate") is not None:
                    self.earlier[config.model, options] = summary["ep_rate"], summary.get("ep_rate_err")
                self._trained(result)

            self._start_job(job, trained, f"training {config.model} on {data.name}", self._training_progress)

    def apply_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Apply the trained model of run folder", self._last_dir())
        if path:
            self.apply_model(path)

    def apply_model(self, run_dir: str | Path) -> None:
        """The trained model of the run in `run_dir` applied to the open movie (or trajectories), preprocessed as
        that run's input was, without retraining; the result opens like a run."""
        if self.data is None or self.job is not None:
            return
        with self._reporting():
            data = replace(self.data)      # calibration edits made meanwhile do not leak in
            stem = data.path.stem if data.path else "synthetic"
            out = settings.runs_dir() / f"{stem}-applied-{time.strftime('%Y%m%d-%H%M%S')}"
            log.info(f"applying the model of {run_dir} to {data.name}; the results go to {out}")
            self.set_run(None)
            self.training_plots.reset(data.truth)
            self._show_progress()
            self._start_job(lambda emit, cancel: apply_run(run_dir, data, out, callback=emit, cancel=cancel),
                            self._trained, f"applying the model of {Path(run_dir).name} to {data.name}",
                            self._training_progress)

    def _training_progress(self, ev: Progress) -> None:
        self.training_panel.show_progress(ev)
        self.training_plots.add(ev)
        if ev.phase == "evaluation":     # every event says what it evaluates: the log says it once
            if ev.done == 0:
                log.info(f"{ev.message} of {ev.total} windows…")
        elif ev.val_rate is not None or ev.message:
            val = (f": validation EP rate {ev.val_rate:.4g} k_B/s, loss {ev.val_loss:.4g}"
                   if ev.val_rate is not None else "")
            log.info(f"seed {ev.seed_index + 1}/{ev.n_seeds} iteration {ev.iteration}{val} {ev.message}".rstrip())

    def _trained(self, result: tuple[Run, Movie | Trajectories]) -> None:
        run, data = result
        self.set_run(run, data if isinstance(data, Movie) else None)
        s = run.summary
        how = s["training"]["stopped"] if "training" in s else s.get("stopped", "training-free")
        log.info(f"EP rate {s['ep_rate']:.4g} k_B/s ({how}, {s['wall_s']:.0f} s)")

    # --- saving and exporting -------------------------------------------------------------------
    def _ask_save(self, title: str, filter_: str, suffix: str, what: str = "") -> Path | None:
        start = str(Path(self._last_dir()) / f"{self._export_stem()}{what and '-' + what}{suffix}")
        path, _ = QFileDialog.getSaveFileName(self, title, start, filter_)
        if not path:
            return None
        path = Path(path)
        settings.set_value("dir/last", str(path.parent))
        return path if path.suffix else path.with_suffix(suffix)

    def _export_stem(self) -> str:
        """What exported files' names start with: the input's name ("water" -> "water-overlay.png")."""
        return self.data.path.stem if self.data and self.data.path else "synthetic"

    def _export(self, title: str, filter_: str, suffix: str, write, what: str) -> None:
        path = self._ask_save(title, filter_, suffix, what)
        if path is not None:
            with self._reporting():
                write(self.run, path)
                log.info(f"wrote {path}")

    def export_figure_dialog(self) -> None:
        path = self._ask_save("Save overlay figure", "PNG (*.png);;TIFF (*.tif)", ".png", "overlay")
        if path is not None:
            with self._reporting():
                export.write_image(self.overlay_renderer()(self.timeline.movie(), self.timeline.frame()), path)
                log.info(f"wrote {path}")

    def _start_export(self, write, path: Path) -> None:
        """`write(progress, cancel)` as a job whose progress and Cancel are those of the training panel."""
        self._start_job(lambda emit, cancel: write(emit, cancel), lambda p: log.info(f"wrote {p}"),
                        f"writing {path.name}", self.training_panel.show_progress)
        self._show_progress()

    def _show_progress(self) -> None:
        """Start the Train panel's progress bar and scroll it into view: in a short Training dock the settings
        above it would hide it, and with it any sign that the job is running."""
        self.training_panel.set_running(True)
        self.docks["Training"].widget().ensureWidgetVisible(self.training_panel.status)
        self.docks["Training"].widget().ensureWidgetVisible(self.training_panel.progress)

    def export_map_stack_dialog(self) -> None:
        path = self._ask_save("Save map stack", "TIFF (*.tif)", ".tif", "maps")
        if path is not None:
            run = self.run
            self._start_export(lambda emit, cancel: export.write_map_stack(run, path, emit, cancel), path)

    def export_movie_dialog(self) -> None:
        path = self._ask_save("Save overlay movie", "MP4 (*.mp4);;AVI, lossless (*.avi)", ".mp4",
                              "overlay")
        if path is None:
            return
        m, fps, n = self.timeline.movie(), self.timeline.fps.value(), self.shown.n_frames
        render = self.overlay_renderer()
        frames = (render(m, t) for t in range(n))
        self._start_export(lambda emit, cancel: export.write_overlay_movie(path, frames, fps, total=n, progress=emit,
                                                                          cancel=cancel), path)

    def save_run_dialog(self) -> None:
        path = ask_run_folder(self, str(Path(self._last_dir()) / f"{self._export_stem()}-run"))
        if path:
            with self._reporting():
                export.save_run(self.run, self.data, check_run_folder(path))
                self._show_data_name()       # input that existed only in memory now has a file
                settings.add_recent(path)
                log.info(f"saved run in {path}")

    # --- lifetime -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        self.training_panel.set_config(settings.load_train_config())
        self.timeline.fps.setValue(settings.value("view/fps", 20.0))
        self.movie_panel.opacity.setValue(settings.value("view/opacity", 70))
        geometry = settings.store().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
            self.restoreState(settings.store().value("window/state"))
        else:
            self.resize(1400, 900)

    def closeEvent(self, event) -> None:
        self.training_panel.plan.stop()
        self.preprocess_panel.stop()
        if self.job is not None:
            self.job.cancel()
            self.job.wait()
        with self._reporting():
            settings.save_train_config(self.training_panel.config())
        settings.set_value("view/fps", self.timeline.fps.value())
        settings.set_value("view/opacity", self.movie_panel.opacity.value())
        settings.set_value("window/geometry", self.saveGeometry())
        settings.set_value("window/state", self.saveState())
        self.log_panel.detach()
        super().closeEvent(event)
