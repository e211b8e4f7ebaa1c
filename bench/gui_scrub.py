"""Scrubbing speed of the desktop app: frames per second through a 512x512 movie with the dissipation map.

Drives the real main window (offscreen unless a display is set): each step moves the frame slider, which
draws the frame, computes and draws that transition's map, and moves the trace cursor; the step counts
once Qt has painted the movie view. The run is made up (random maps at the network's 128x128 feature
resolution), since training does not change what scrubbing costs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_scrub.py [--frames 300] [--size 512]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PyQt6.QtCore import QEvent, QObject, QSettings  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from cneep_engine import Movie, Run, TrainConfig  # noqa: E402


class PaintCounter(QObject):
    def __init__(self):
        super().__init__()
        self.paints = 0

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def made_up_run(movie: Movie, feature: int, rng) -> Run:
    n = movie.n_frames - 1
    frame = np.arange(n)
    maps = rng.normal(size=(n, feature, feature)).astype(np.float32)
    ds = maps.sum(axis=(1, 2))
    return Run(config=TrainConfig(), dt=movie.dt, pixel_size=movie.pixel_size, frame_shape=movie.frame_shape,
               movie=np.zeros(n, np.int64), frame=frame, part=np.full(n, 2, np.int8), ds=ds, maps=maps,
               summary={"ep_rate": float(ds.mean()), "ep_rate_std": None, "seeds": [], "test_windows": n})


def scrub(app, window, counter, frames: int) -> tuple[float, int]:
    counter.paints = 0
    t0 = time.perf_counter()
    for t in range(frames):
        window.timeline.slider.setValue(t)
        app.processEvents()
    return frames / (time.perf_counter() - t0), counter.paints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "/tmp/cneep-bench-settings")
    app = QApplication([])
    from cneep_gui.main_window import MainWindow
    from cneep_gui.movie_panel import OFF, PER_WINDOW, TIME_AVERAGED

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 4096, (1, args.frames, args.size, args.size), dtype=np.uint16)
    movie = Movie(frames=frames, dt=0.01)
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.set_data(movie)
    window.set_run(made_up_run(movie, args.size // 4, rng))
    counter = PaintCounter()
    window.movie_view.viewport().installEventFilter(counter)
    app.processEvents()
    print(f"{args.frames} frames of {args.size}x{args.size} uint16, window 1400x900, "
          f"Qt platform {app.platformName()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    for name, mode in (("no overlay", OFF), ("per-transition overlay", PER_WINDOW),
                       ("time-averaged overlay", TIME_AVERAGED)):
        window.movie_panel.mode.setCurrentIndex(mode)
        scrub(app, window, counter, 20)                     # warm caches and the histogram
        fps, paints = scrub(app, window, counter, args.frames)
        print(f"{name:>24}: {fps:6.1f} frames/s ({paints} paints of the movie view for {args.frames} steps)")
    window.close()


if __name__ == "__main__":
    main()
