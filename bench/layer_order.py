"""Our CNEEP step (max-pool before ReLU, ReLUs in place, channels-last on a CPU) against the same network
in the published order and layout (ReLU then max-pool, NCHW): training and inference windows/s, the same
weights and one batched pass for both, alternating rounds, median over rounds.

    .venv/bin/python bench/layer_order.py 256 1024 4096
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from cneep_engine.models import CNEEP


def published(m: CNEEP, trunk: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    z = (x.float() - m.mean) / m.std
    h = m.head(trunk(torch.cat([z, z.flip(1)])).flatten(1)).squeeze(-1)
    return h[:len(x)] - h[len(x):]


def rate(ds_of, x: torch.Tensor, opt: torch.optim.Optimizer | None, seconds: float) -> float:
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        if opt is None:
            with torch.no_grad():
                ds_of(x)
        else:
            ds = ds_of(x)
            loss = (torch.exp(-ds) - ds).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        n += 1
    return n * len(x) / (time.perf_counter() - t0)


def main(batches: list[int], rounds: int = 12, seconds: float = 1.5) -> None:
    torch.manual_seed(0)
    m = CNEEP((20, 40), mean=40.0, std=60.0)
    trunk = m.published_trunk()
    opt = torch.optim.Adam(m.parameters(), 1e-4)
    loops = {"published order": lambda x: published(m, trunk, x), "ours": m}
    for batch in batches:
        x = torch.randint(0, 256, (batch, 2, 20, 40), dtype=torch.uint8)
        for mode, o in (("training", opt), ("inference", None)):
            done = {k: [] for k in loops}
            for f in loops.values():   # warm-up: oneDNN picks and caches its kernels on first use
                rate(f, x, o, seconds / 3)
            for _ in range(rounds):
                for k, f in loops.items():
                    done[k].append(rate(f, x, o, seconds))
            a, b = (statistics.median(v) for v in done.values())
            print(f"batch {batch} {mode}: published order {a:.0f}, ours {b:.0f} windows/s, ours/published "
                  f"{b / a:.2f}", flush=True)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main([int(b) for b in sys.argv[1:]] or [256, 1024, 4096])
