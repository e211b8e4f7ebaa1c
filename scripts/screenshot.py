r"""Regenerate docs/screenshot.png: CNEEP Studio with a finished run, its map over a held-out movie.

With --run, opens a run folder that `cneep train` wrote (File > Open run) - the README's grab is a converged run
on a whole 4 x 4 filament network with one hot node (36 x 45 px; 20 minutes of one loaded CPU core,
docs/benchmarks.md "A whole small network on one CPU core"):

    cneep simulate network --nx 4 --ny 4 --hot 1,1 --dt 0.05 --spacing 10 --margin 5 --psf-sigma 1 \
        --movies 80 --frames 5000 --seed 7 -o net.tif
    cneep train net.tif -o net_run --channels 16 --batch 1024 --lr 1e-3 --iters 3000 --eval-every 200 --threads 1
    .venv/bin/python scripts/screenshot.py --run net_run

Without it, generates a small bead-spring movie and trains briefly through the real main window (Train button,
worker thread, live plots; about 25 minutes on 2 quiet CPU cores). Either way it moves to a held-out movie's
frame with the time-averaged dissipation map over it (where the EP sits) and saves a grab of the window. Needs no
display (Qt's offscreen platform).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring  # noqa: E402
from cneep_engine.windows import PARTS  # noqa: E402


def wait(app: QApplication, done, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("training took too long for a screenshot")
        app.processEvents()
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parents[1] / "docs" / "screenshot.png")
    parser.add_argument("--run", type=Path, help="a finished run folder to show instead of training one")
    parser.add_argument("--iters", type=int, default=3000, help="training iterations: validation R^2 levels off "
                        "from ~3000; 1500 give the exact rate within 6%% but too few validations to judge convergence")
    args = parser.parse_args()
    # A throwaway settings file: the screenshot shows defaults, never this machine's recent files.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication([])
    from cneep_gui.app import warm_up
    from cneep_gui.main_window import MainWindow
    from cneep_gui.movie_panel import TIME_AVERAGED

    warm_up()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    if args.run is not None:
        if not window.open_path(args.run):
            raise SystemExit(f"{args.run}: could not open the run")
    else:
        chain = BeadSpringChain(beads=2, tc=1.0, th=10.0, dt=0.01)
        renderer = BeadRenderer(cell=20, psf_sigma=3.0, read_noise=1.0)
        # The README demo's data (20 movies of 5000 frames: 12 train, 4 validation, 4 test) and the default
        # settings the panel shows, with --iters iterations instead of 5000.
        window.set_data(simulate_bead_spring(chain, renderer, movies=20, frames=5000, seed=1))
        window.training_panel.set_config(TrainConfig(iterations=args.iters, device="cpu"))
        window.training_panel.threads.setValue(2)
        window.training_panel.train_button.click()
        wait(app, lambda: window.job is None, timeout_s=7200)
    window.movie_panel.mode.setCurrentIndex(TIME_AVERAGED)
    window.movie_panel.opacity.setValue(80)
    # Under the map, the last movie (held out for test) at the transition of its first 1000 frames with the most
    # EP: the cumulative trace's cursor sits where something happens.
    run = window.run
    last = int(run.movie[run.part == PARTS.index("test")].max())
    first = np.flatnonzero((run.movie == last) & (run.frame < 1000))
    window.timeline.set_position(last, int(run.frame[first[np.argmax(np.abs(run.ds[first]))]]))
    for _ in range(20):
        app.processEvents()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.output))
    truth = window.run.summary.get("truth", {})
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB); EP rate {window.run.summary['ep_rate']:.3g}"
          f", two-frame ceiling {truth.get('sigma_2pt', float('nan')):.3g} k_B/s")
    print(window.summary.text())     # the verdict, to check that it converged
    window.close()


if __name__ == "__main__":
    main()
