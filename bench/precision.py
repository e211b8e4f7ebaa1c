"""What lower precision does to a trained CNEEP's per-window EP: its test windows evaluated in fp32 and in
emulated or real lower precisions, against the exact EP.

dS is the difference of the network's outputs for a window and its reverse, which nearly cancel, so rounding
inside the trunk shows up magnified in dS. Emulated TF32 (what a GPU's cuDNN does to fp32 convolutions by
default): inputs and weights of every convolution rounded to 10 mantissa bits, products summed in fp32.
bf16 and fp16: the trunk under autocast (each convolution's output rounded too); the head stays fp32.

    .venv/bin/python bench/precision.py beads.tif run/model_seed0.pt   # a README-demo run
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn
from trunk_variants import Trunk

from cneep_engine import TrainConfig, load_movie
from cneep_engine.metrics import compare
from cneep_engine.training import Trainer, load_checkpoint
from cneep_engine.windows import window_starts


def round_mantissa(x: torch.Tensor, bits: int) -> torch.Tensor:
    """float32 rounded to nearest (ties to even) with `bits` explicit mantissa bits."""
    drop = 23 - bits
    i = x.contiguous().view(torch.int32)
    i = (i + ((1 << (drop - 1)) - 1) + ((i >> drop) & 1)) & ~((1 << drop) - 1)
    return i.view(torch.float32)


class RoundedConv(nn.Module):
    def __init__(self, conv: nn.Conv2d, bits: int):
        super().__init__()
        self.conv, self.bits = conv, bits

    def forward(self, x):
        c = self.conv
        return nn.functional.conv2d(round_mantissa(x, self.bits), round_mantissa(c.weight, self.bits), c.bias,
                                    c.stride, c.padding)


def main(movie_path: str, checkpoint: str) -> None:
    trainer = Trainer(load_movie(movie_path), TrainConfig(device="cpu"))
    starts, part = window_starts(trainer.parts, 2)
    test = torch.from_numpy(starts[part == 2])
    truth = trainer.data.truth.window_ep(test.numpy(), 2)
    ref = None
    for name in ("fp32", "TF32 (emulated)", "bf16 autocast", "fp16 autocast"):
        model = load_checkpoint(checkpoint)
        if name.startswith("TF32"):
            for i, layer in enumerate(model.trunk):
                if isinstance(layer, nn.Conv2d):
                    model.trunk[i] = RoundedConv(layer, 10)
        elif name != "fp32":
            model.trunk = Trunk(model.trunk, False, torch.bfloat16 if name.startswith("bf16") else torch.float16)
        ds = trainer.predict(model, test).numpy()
        ref = ds if ref is None else ref
        print(f"{name:16s} test R^2 {compare(ds, truth)['r2']:.4f}  mean dS {ds.mean():.5f}  "
              f"error of dS / spread of dS {np.std(ds - ref) / np.std(ref):.3f}", flush=True)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main(*sys.argv[1:3])
