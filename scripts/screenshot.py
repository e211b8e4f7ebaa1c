"""Regenerate docs/screenshot.png: CNEEP Studio after training on a synthetic bead-spring movie.

Generates a small synthetic movie, trains briefly through the real main window (Train button, worker
thread, live plots), moves to a test-movie frame with the dissipation map shown, and saves a grab of the
window. Needs no display (Qt's offscreen platform); takes a few minutes on 2 CPU cores.

    .venv/bin/python scripts/screenshot.py [-o docs/screenshot.png]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring  # noqa: E402


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
    args = parser.parse_args()
    # A throwaway settings file: the screenshot shows defaults, never this machine's recent files.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication([])
    from cneep_gui.app import warm_up
    from cneep_gui.main_window import MainWindow
    from cneep_gui.movie_panel import PER_WINDOW

    warm_up()
    window = MainWindow()
    window.resize(1400, 860)
    window.show()
    chain = BeadSpringChain(beads=2, tc=1.0, th=10.0, dt=0.01)
    renderer = BeadRenderer(cell=20, psf_sigma=3.0, read_noise=1.0)
    # Enough data that the estimate means something (6 training movies of 10^4 frames); with much less the
    # network overfits and early models are kept.
    window.set_data(simulate_bead_spring(chain, renderer, movies=10, frames=10_000, seed=1))
    window.training_panel.set_config(TrainConfig(depth=2, channels=8, batch=512, iterations=3000, eval_every=100,
                                                 patience=0, device="cpu"))
    window.training_panel.threads.setValue(2)
    window.training_panel.train_button.click()
    wait(app, lambda: window.job is None, timeout_s=900)
    window.movie_panel.mode.setCurrentIndex(PER_WINDOW)
    window.movie_panel.opacity.setValue(80)
    window.timeline.set_position(9, 420)
    for _ in range(20):
        app.processEvents()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.output))
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB); "
          f"EP rate {window.run.summary['ep_rate']:.3g}, exact {chain.ep_rate:.3g} k_B/s")
    window.close()


if __name__ == "__main__":
    main()
