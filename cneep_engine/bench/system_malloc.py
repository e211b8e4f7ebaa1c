"""A worker process for the published loop whose C allocator keeps the system's defaults, as it runs on its own.

Our process keeps freed memory for reuse (`cneep_engine.allocator`); that speeds up any CPU training loop in it,
the published one too. The benchmarks run the published loop in this worker instead, so that its figures are
those of the published code as a user would run it. `CNEEP_SYSTEM_MALLOC=1` on the whole benchmark gives both
loops the system allocator, which isolates what the allocator is worth.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager


@contextmanager
def system_malloc_worker():
    """One spawned worker process; tasks submitted to it share its module state (and so a loop's model).

    Spawned, not forked: a fresh interpreter starts on the system's allocator, and nothing in it changes that."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool
