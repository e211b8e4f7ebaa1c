"""Shared by bench/step_variants.py and bench/precision.py: the CNEEP trunk run in another layout or precision."""

from __future__ import annotations

import torch
from torch import nn


class Trunk(nn.Module):
    """The model's trunk, fed channels-last and/or run under autocast to `dtype` (its output back in fp32)."""

    def __init__(self, inner: nn.Module, channels_last: bool, dtype: torch.dtype | None):
        super().__init__()
        self.inner, self.channels_last, self.dtype = inner, channels_last, dtype

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.dtype is None:
            return self.inner(x)
        with torch.autocast(x.device.type, self.dtype):
            return self.inner(x).float()
