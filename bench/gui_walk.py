"""The app on a real-sized movie, step by step as a user drives it: open the movie, draw a region and bin it in the
Preprocessing panel, read the plan under Train, train, watch the progress of training and of the held-out
evaluation, read the verdict, export the overlay figure, toggle the scale bar. A grab of the window after
each step goes to --shots; the times of each phase and the peak memory are printed.

    python bench/colloids_movie.py /tmp/walk/water.mov
    QT_QPA_PLATFORM=xcb DISPLAY=:107 python bench/gui_walk.py /tmp/walk/water.mov --shots /tmp/walk/shots \\
        --crop 60:360,100:500 --bin 2 --pixel-size 0.5 --iters 10 --eval-every 2

Every training setting not given here is the app's default.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def peak_mb() -> float:
    """The process's peak resident memory so far (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("movie")
    p.add_argument("--shots", type=Path, default=Path("walk-shots"))
    p.add_argument("--crop", default="60:360,100:500", metavar="Y0:Y1,X0:X1")
    p.add_argument("--bin", type=int, default=2)
    p.add_argument("--pixel-size", type=float, help="µm per pixel, typed into the Input panel as a user who knows it")
    p.add_argument("--iters", type=int, default=None, help="training iterations (default: the app's)")
    p.add_argument("--eval-every", type=int, default=None, help="iterations between validations (default: the app's)")
    p.add_argument("--limit", type=float, default=3600, help="seconds for the whole run at most")
    args = p.parse_args()
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp())   # not the user's settings or runs folder
    os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp())
    args.shots.mkdir(parents=True, exist_ok=True)

    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QApplication, QFileDialog
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())

    from cneep_engine.allocator import keep_freed_memory
    from cneep_engine.device import warm_up
    from cneep_engine.io import parse_crop
    from cneep_gui.main_window import MainWindow

    keep_freed_memory()      # as cneep-studio starts
    app = QApplication(sys.argv)
    warm_up()
    window = MainWindow()
    window.resize(1600, 960)
    window.show()
    t_start = time.perf_counter()

    def wait(done, limit: float = args.limit) -> float:
        t0 = time.perf_counter()
        while not done():
            if time.perf_counter() - t0 > limit:
                raise TimeoutError("the step took too long")
            app.processEvents()
            time.sleep(0.02)
        return time.perf_counter() - t0

    def shot(name: str) -> None:
        for _ in range(10):
            app.processEvents()
        window.grab().save(str(args.shots / f"{name}.png"))
        print(f"[{time.perf_counter() - t_start:6.0f} s] {name}.png; peak {peak_mb():.0f} MB", flush=True)

    panel, plan, train_panel = window.preprocess_panel, window.training_panel.plan, window.training_panel
    t = time.perf_counter()
    window.open_path(args.movie)
    wait(lambda: panel.movie is not None or bool(panel.error))
    print(f"opened and prepared in {time.perf_counter() - t:.1f} s: {panel.result.text()}")
    wait(lambda: "per iteration" in plan.text() or "⚠" in plan.text(), 600)
    shot("01_opened")
    if args.pixel_size:
        window.movie_panel.pixel_size.setValue(args.pixel_size)

    panel.set_crop(parse_crop(args.crop))
    panel.bin.setValue(args.bin)
    s = wait(lambda: panel.movie is not None or bool(panel.error))
    print(f"preprocessed in {s:.1f} s: {panel.result.text()}")
    s = wait(lambda: "per iteration" in plan.text() and plan._job is None and plan._request is None, 600)
    print(f"plan in {s:.1f} s:\n  " + "\n  ".join(plan.text().split("<br>")))
    window.docks["Training"].widget().verticalScrollBar().setValue(plan.y())    # scrolled to it, as a user would
    shot("02_region_plan")

    if args.iters:
        train_panel.boxes["iterations"].setValue(args.iters)
    if args.eval_every:
        train_panel.boxes["eval_every"].setValue(args.eval_every)
    phases: dict[str, list[float]] = {}

    def on_progress(ev) -> None:
        now = time.perf_counter()
        span = phases.setdefault(ev.phase, [now, now])
        span[1] = now

    t_train = time.perf_counter()
    train_panel.train_button.click()
    window.job.progress.connect(on_progress)
    log = window.log_panel.toPlainText
    wait(lambda: log().count("validation EP rate") >= 2 or window.job is None)
    shot("03_training")
    wait(lambda: "evaluation" in phases or window.job is None)
    wait(lambda: window.job is None or (phases.get("evaluation", [0, 0])[1] - phases["evaluation"][0] > 3))
    shot("04_evaluation")
    wait(lambda: window.job is None)
    total = time.perf_counter() - t_train
    window.docks["Results"].raise_()
    shot("05_verdict")
    for phase, (a, b) in phases.items():
        print(f"  {phase}: {b - a:.0f} s (first to last progress event)")
    s = window.run.summary
    print(f"training job {total:.0f} s; stopped: {s['stopped']}; EP rate {s['ep_rate']:.4g} k_B/s; "
          f"planned peak {s['plan']['peak_mb']:.0f} MB; peak resident so far {peak_mb():.0f} MB")
    print("Results panel:\n" + window.summary.text())

    figure = args.shots / "figure.png"
    original = QFileDialog.getSaveFileName
    QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(figure), "PNG (*.png)"))
    try:
        t = time.perf_counter()
        window.export_figure_dialog()
        print(f"figure written in {time.perf_counter() - t:.1f} s: {figure}")
    finally:
        QFileDialog.getSaveFileName = original
    window.movie_panel.scale_bar.setChecked(False)
    shot("06_no_scale_bar")
    window.movie_panel.scale_bar.setChecked(True)
    shot("07_scale_bar")
    print(f"peak resident memory of the whole walk: {peak_mb():.0f} MB")
    window.close()


if __name__ == "__main__":
    main()
