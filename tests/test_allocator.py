"""The C allocator keeps a training step's freed tensors for reuse instead of faulting in new pages each step."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine tunes only glibc's "
                                "allocator (Linux); on this system it leaves the allocator alone, nothing to test")

# Fills a 64 MB tensor 20 times, each time newly allocated (above glibc's largest mmap threshold, 32 MB),
# and prints the page faults this took and whether cneep_engine set up the allocator.
SCRIPT = """
import resource, torch, cneep_engine.allocator as a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.empty(16 << 20).fill_(1.0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, a.ACTIVE)
"""


def _faults(env: dict) -> tuple[int, bool]:
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    faults, active = out.stdout.split()
    return int(faults), active == "True"


def test_freed_tensors_are_reused_without_new_page_faults():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "CNEEP_SYSTEM_MALLOC"))}
    faults, active = _faults(env)
    if not active:
        pytest.skip("this Linux's C library is not glibc (no mallopt), so the engine leaves its allocator alone")
    system_faults, system_active = _faults({**env, "CNEEP_SYSTEM_MALLOC": "1"})
    pages = 20 * (64 << 20) // 4096
    assert not system_active and system_faults > 0.9 * pages   # every allocation faults in fresh pages
    # Measured: the first 1-4 allocations fault (16-65k faults), the rest reuse the kept memory.
    assert faults < pages / 2
