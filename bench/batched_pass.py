"""One batched pass (forward and reversed windows concatenated) against two separate passes through the
CNEEP trunk: training samples/s of the network alone, alternating 1.5 s rounds.

    .venv/bin/python bench/batched_pass.py 128 256 1024 4096
"""

from __future__ import annotations

import sys
import time

import torch

from cneep_engine.models import CNEEP


def one_pass(m: CNEEP, x: torch.Tensor) -> torch.Tensor:
    h = m.head(m.trunk(torch.cat([x, x.flip(1)])).unflatten(0, (2, -1)).flatten(2)).squeeze(-1)
    return h[0] - h[1]


def two_passes(m: CNEEP, x: torch.Tensor) -> torch.Tensor:
    h = m.head(torch.stack([m.trunk(x), m.trunk(x.flip(1))]).flatten(2)).squeeze(-1)
    return h[0] - h[1]


def main(batches: list[int], rounds: int = 6, seconds: float = 1.5) -> None:
    torch.manual_seed(0)
    m = CNEEP((20, 40))
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    for batch in batches:
        x = torch.randn(batch, 2, 20, 40)
        done = {f: [0, 0.0] for f in (one_pass, two_passes)}
        for _ in range(rounds):
            for f in done:
                t0 = time.perf_counter()
                while time.perf_counter() - t0 < seconds:
                    ds = f(m, x)
                    loss = (torch.exp(-ds) - ds).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    done[f][0] += 1
                done[f][1] += time.perf_counter() - t0
        one, two = (n * batch / t for n, t in done.values())
        print(f"batch {batch}: one pass {one:.0f}, two passes {two:.0f} samples/s, two/one {two / one:.2f}", flush=True)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main([int(b) for b in sys.argv[1:]] or [256, 4096])
