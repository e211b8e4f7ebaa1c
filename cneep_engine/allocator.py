"""Keep the C allocator from handing a training step's tensors back to the kernel after every step.

A CPU training step allocates and frees activations of tens to hundreds of MB. By default glibc serves blocks
above its mmap threshold (128 KB, rising to at most 32 MB) with a fresh mmap and returns them on free, and trims
more than 128 KB of free heap top, so every step gets its tensors as new zero-filled pages: millions of page
faults, a third of a batch-1024 step spent in the kernel and half of a batch-4096 step (docs/benchmarks.md,
"Keeping freed memory"). Raising both limits to 1 GB keeps those pages and reuses them. One arena puts worker
threads (the app trains in a QThread) on the same heap; per-thread heaps are capped at 64 MB and fall back to
mmap above that.
Blocks over 1 GB, such as a whole movie, are still mapped separately and returned to the system when freed.

The setting is process-wide, so importing the engine does not make it: the entry points (`cneep`, the app,
the benchmark scripts) call `keep_freed_memory()` first, before any training thread has picked its own arena,
and a program that uses the engine as a library may do the same. Only glibc has mallopt; elsewhere nothing
changes. CNEEP_SYSTEM_MALLOC=1 in the environment leaves the allocator as it is (the speed benchmark runs the
published loop that way, as it runs on its own).
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8   # glibc's malloc.h
KEEP_BELOW = 1 << 30
ACTIVE = False   # whether this process's allocator keeps freed memory


def keep_freed_memory() -> bool:
    """Apply the settings above; True when the allocator took them (a second call changes nothing)."""
    global ACTIVE
    if ACTIVE:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("CNEEP_SYSTEM_MALLOC"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt   # the C library this process runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((_M_MMAP_THRESHOLD, KEEP_BELOW), (_M_TRIM_THRESHOLD, KEEP_BELOW), (_M_ARENA_MAX, 1))
    ACTIVE = all([mallopt(option, value) == 1 for option, value in settings])   # a list: every setting is tried
    return ACTIVE


def describe() -> str:
    return "freed memory kept for reuse" if ACTIVE else "system defaults"
