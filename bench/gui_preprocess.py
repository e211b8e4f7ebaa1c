"""A large movie made trainable in the real window: open it, set a region and binning in the Preprocessing panel,
wait for the preview and the plan, train at the default settings until a few validations, and report the
times, the plan and the peak memory.

    QT_QPA_PLATFORM=offscreen python bench/gui_preprocess.py water.mov --crop 60:360,100:500 --bin 2

Validation comes every --eval-every iterations (5 here, so that a few come within minutes on a CPU); every other
setting is the app's default. Use QT_QPA_PLATFORM=xcb with a display to watch it.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

from PyQt6.QtWidgets import QApplication


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("movie")
    p.add_argument("--crop", default="60:360,100:500", metavar="Y0:Y1,X0:X1")
    p.add_argument("--bin", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--validations", type=int, default=3)
    p.add_argument("--limit", type=float, default=600, help="seconds of training at most")
    args = p.parse_args()
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp())   # not the user's settings or runs folder

    from cneep_engine.io import parse_crop
    from cneep_gui.main_window import MainWindow

    app = QApplication(sys.argv)
    window = MainWindow()
    window.show()

    def wait(done, limit: float) -> float:
        t0 = time.perf_counter()
        while not done() and time.perf_counter() - t0 < limit:
            app.processEvents()
            time.sleep(0.02)
        return time.perf_counter() - t0

    panel, plan = window.preprocess_panel, window.training_panel.plan
    window.open_path(args.movie)
    wait(lambda: panel.movie is not None, 60)
    panel.set_crop(parse_crop(args.crop))
    panel.bin.setValue(args.bin)
    s = wait(lambda: panel.movie is not None or bool(panel.error), 120)
    print(f"preprocessed in {s:.2f} s: {panel.result.text()}")
    # The plan of the full frame, if it was still running, is not shown: the next one is the region's.
    s = wait(lambda: "per iteration" in plan.text(), 300)
    print(f"plan in {s:.1f} s:\n  " + "\n  ".join(plan.text().split("<br>")[:3]))

    window.training_panel.boxes["eval_every"].setValue(args.eval_every)
    window.training_panel.train_button.click()
    s = wait(lambda: window.log_panel.toPlainText().count("validation EP rate") >= args.validations, args.limit)
    window.cancel_job()
    wait(lambda: window.job is None, 600)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"{args.validations} validations in {s:.0f} s of training; peak resident {peak:.0f} MB; "
          f"planned peak {window.run.summary['plan']['peak_mb']:.0f} MB; run shown on frames of "
          f"{window.shown.frame_shape}")
    window.close()


if __name__ == "__main__":
    main()
