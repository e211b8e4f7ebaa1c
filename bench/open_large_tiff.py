"""Benchmark: open a 4 GB TIFF stack lazily, and train on a movie larger than the data budget.

    .venv/bin/python bench/open_large_tiff.py [--dir DIR] [--gb 4] [--train-iters 10]

Writes a uint16 ImageJ stack of 1024 x 1024 frames (ImageJ's >4 GB layout: one IFD, frames back to back),
then a BigTIFF of the same frames with one IFD per page, and, each in a fresh Python process:
  open memmap: load_movie + the first frame, file evicted from the page cache (cold) or cached (warm);
  open pages: the same through the page-by-page reader (BigTIFF only: ImageJ's layout has one IFD);
  train: CNEEP_DATA_BUDGET=256M, the whole stack (far above the budget), a few iterations of one seed with
         validation (Trainer.train_seed; run.train's final evaluation of every window is not part of it).
Reports seconds and memory (VmHWM = peak resident, RssAnon = memory the process allocated itself; touched
pages of a memory-mapped file count in VmRSS/VmHWM but are page cache). The files are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

STATUS = """
def status():
    out = {}
    for line in open('/proc/self/status'):
        key, value = line.split(':', 1)
        if key in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile'):
            out[key + '_MB'] = round(int(value.split()[0]) / 1024, 1)
    return out
"""

OPEN = STATUS + """
import json, sys, time
t0 = time.perf_counter()
from cneep_engine.io import load_movie
from cneep_engine.io.tiff import read_tiff
imported = time.perf_counter() - t0
before = status()
t1 = time.perf_counter()
movie = load_movie(sys.argv[1]) if sys.argv[2] == 'memmap' else read_tiff(sys.argv[1], memmap=False)
opened = time.perf_counter() - t1
frame = movie.frames[0, 0]
first = time.perf_counter() - t1
print(json.dumps({'reader': sys.argv[2], 'frames': movie.frames.shape, 'import_s': round(imported, 2),
                  'open_s': round(opened, 3), 'open_plus_first_frame_s': round(first, 3),
                  'first_frame_mean': float(frame.mean()), 'before_open': before, 'after': status()}))
"""

TRAIN = STATUS + """
import json, logging, sys, time
logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
from cneep_engine import TrainConfig
from cneep_engine.io import load_movie
from cneep_engine.training import Trainer
movie = load_movie(sys.argv[1])
t0 = time.perf_counter()
trainer = Trainer(movie, TrainConfig(iterations=int(sys.argv[2]), eval_every=5, batch=8, channels=4, depth=2,
                                     val_samples=8))
ready = time.perf_counter() - t0
seed = trainer.train_seed(0)
print(json.dumps({'movie_bytes': int(movie.frames.size * 2), 'frames': movie.frames.shape,
                  'streaming': trainer.gather.streaming, 'setup_s': round(ready, 1),
                  'train_s': round(time.perf_counter() - t0 - ready, 1), 'iterations': seed.iterations,
                  'best_val_loss': seed.best_val_loss, 'after': status()}))
"""


def write_stack(path: Path, gb: float, size: int = 1024, bigtiff: bool = False) -> int:
    n = int(gb * 2**30) // (size * size * 2)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 4096, (16, size, size), dtype=np.uint16)
    frames = (noise[t % 16] + np.uint16(t % 1000) for t in range(n))  # one frame in memory at a time
    if bigtiff:   # one IFD per page, so the page-by-page reader can be timed too
        tifffile.imwrite(path, frames, shape=(n, size, size), dtype=np.uint16, bigtiff=True,
                         metadata={"axes": "TYX"})
    else:         # ImageJ's own layout above 4 GB: one IFD, then the frames back to back
        tifffile.imwrite(path, frames, shape=(n, size, size), dtype=np.uint16, imagej=True,
                         resolution=(1 / 0.1, 1 / 0.1), metadata={"axes": "TYX", "unit": "um", "finterval": 0.02})
    return n


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache (no root needed for clean pages)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def run(code: str, *args, env=None) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    notes = [line for line in out.stderr.splitlines() if "streaming" in line]
    if notes:
        result["log"] = notes
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, help="folder for the test file (default: a temporary folder)")
    ap.add_argument("--gb", type=float, default=4.0)
    ap.add_argument("--train-iters", type=int, default=10, help="iterations of the training demonstration (0: none)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.dir))
    path = folder / "large_stack.tif"
    try:
        for bigtiff in (False, True):
            t0 = time.perf_counter()
            n = write_stack(path, args.gb, bigtiff=bigtiff)
            kind = "BigTIFF" if bigtiff else "ImageJ"
            print(json.dumps({"wrote": str(path), "format": kind, "frames": n, "bytes": path.stat().st_size,
                              "write_s": round(time.perf_counter() - t0, 1)}), flush=True)
            for reader in ("memmap", "pages") if bigtiff else ("memmap",):
                evict(path)
                print(json.dumps({"case": f"{kind}, open {reader}, cold cache", **run(OPEN, path, reader)}), flush=True)
            if not bigtiff:
                print(json.dumps({"case": f"{kind}, open memmap, warm", **run(OPEN, path, "memmap")}), flush=True)
            if not bigtiff and args.train_iters:
                evict(path)
                print(json.dumps({"case": "train (Trainer.train_seed), CNEEP_DATA_BUDGET=256M",
                                  **run(TRAIN, path, args.train_iters, env={"CNEEP_DATA_BUDGET": "256M"})}),
                      flush=True)
            path.unlink()
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()

if __name__ == "__main__":
    main()
