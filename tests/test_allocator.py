"""The C allocator keeps a training step's freed tensors for reuse instead of faulting in new pages each step."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine tunes only glibc's "
                                "allocator (Linux); on this system it leaves the allocator alone, nothing to test")

# Imports the engine, opts in as the entry points do (or not), fills a 64 MB tensor 20 times, each time newly
# allocated (above glibc's largest mmap threshold, 32 MB), and prints the page faults this took and whether the
# allocator keeps freed memory.
SCRIPT = """
import resource, sys, torch, cneep_engine, cneep_engine.allocator as a
if sys.argv[1] == "opt-in":
    a.keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.empty(16 << 20).fill_(1.0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, a.ACTIVE)
"""


def _faults(env: dict, mode: str = "opt-in") -> tuple[int, bool]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, check=True)
    faults, active = out.stdout.split()
    return int(faults), active == "True"


PAGES = 20 * (64 << 20) // 4096
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "CNEEP_SYSTEM_MALLOC"))}


def test_freed_tensors_are_reused_without_new_page_faults():
    faults, active = _faults(ENV)
    if not active:
        pytest.skip("this Linux's C library is not glibc (no mallopt), so the engine leaves its allocator alone")
    system_faults, system_active = _faults({**ENV, "CNEEP_SYSTEM_MALLOC": "1"})
    assert not system_active and system_faults > 0.9 * PAGES   # every allocation faults in fresh pages
    # Measured: the first 1-4 allocations fault (16-65k faults), the rest reuse the kept memory.
    assert faults < PAGES / 2


def test_importing_the_engine_leaves_the_allocator_alone():
    """The setting is process-wide: a library import must not make it for the program that imports it."""
    faults, active = _faults(ENV, mode="import-only")
    assert not active and faults > 0.9 * PAGES
