"""The GUI thread stays responsive while a model trains: event-loop latency measured during a real run."""

import time
from dataclasses import replace

import numpy as np
from PyQt6.QtCore import QTimer

from cneep_engine.device import warm_up

TICK_MS = 10


def test_event_loop_stays_responsive_during_training(studio, qtbot, tiny_movie, tiny_config):
    warm_up()       # as cneep-studio does at start: torch's first optimiser imports hundreds of modules
    studio.set_data(tiny_movie)
    studio.training_panel.set_config(replace(tiny_config, batch=256, channels=8, iterations=200, eval_every=20))
    stamps = []
    timer = QTimer(interval=TICK_MS)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    timer.start()
    studio.training_panel.train_button.click()
    qtbot.waitUntil(lambda: studio.job is None, timeout=120_000)
    timer.stop()
    assert studio.run.summary["iterations"] == 200
    late = (np.diff(stamps) * 1000 - TICK_MS).clip(0)     # how much later than asked each tick came
    p50, p99, worst = np.percentile(late, 50), np.percentile(late, 99), late.max()
    print(f"\nevent-loop latency over {len(late)} ticks during {studio.run.summary['wall_s']:.1f} s of "
          f"training: median {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    assert len(late) > 50
    # The 99th percentile, not the maximum: on a shared 2-core machine the OS alone can stall any thread
    # for 100+ ms now and then (measured here beside a CPU benchmark); the max is printed for the record.
    assert p50 < 5 and p99 < 50
