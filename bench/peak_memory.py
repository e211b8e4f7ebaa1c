"""Run a command and report its peak memory, split into what it allocated and the file pages it mapped.

/usr/bin/time gives one number (peak resident set, VmHWM), which counts the pages of a memory-mapped movie
or map file that the kernel can drop at any time alongside the memory the process really holds. This polls
/proc/PID/status (Linux) and reports the peaks of both parts separately.

    python bench/peak_memory.py -- cneep train bench/out/n2.tif --iters 60 -q -o /tmp/memrun
"""

from __future__ import annotations

import subprocess
import sys
import time


def _status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status that matter here."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
    return out


def main() -> None:
    cmd = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    if not cmd:
        sys.exit(__doc__)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    while proc.poll() is None:
        try:
            now = _status(proc.pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            break
        for key in peak:
            peak[key] = max(peak[key], now.get(key, 0))
        time.sleep(0.2)
    rc = proc.wait()
    gb = {k: v / 2**20 for k, v in peak.items()}
    print(f"peak memory: {gb['VmHWM']:.2f} GiB resident (VmHWM); allocated (RssAnon) {gb['RssAnon']:.2f} GiB, "
          f"mapped file pages (RssFile) {gb['RssFile']:.2f} GiB; {time.perf_counter() - t0:.0f} s, exit {rc}",
          file=sys.stderr)
    sys.exit(rc)


if __name__ == "__main__":
    main()
