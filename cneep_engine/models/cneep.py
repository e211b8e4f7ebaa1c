"""CNEEP: a convolutional network on consecutive frames whose output is exactly odd under time reversal.

Architecture as published (Bae, Kim & Jeong, PRR 4, 033094): a 5x5 stride-2 convolution, then blocks of
two 3x3 convolutions that double the channels, ReLU after each, max-pooling after every block but the last,
and one linear unit on the flattened last features. The EP of a window is dS = h(window) - h(reversed),
computed for both orders in a single batched pass.

Computed in a cheaper order that gives the same numbers: max-pooling before the ReLU that precedes it (a
ReLU commutes with a max, and then runs on a quarter of the values), ReLUs in place, and on a CPU the
activations channels-last with the head's weights read in that order, where oneDNN's pooling, ReLU and
convolutions are faster (training steps 1.3-1.4x, inference 1.6x; docs/benchmarks.md, "The layer order").
`published_trunk` gives the layers in the published order, for the benchmark's baseline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class CNEEPConfig:
    seq_len: int = 2        # consecutive frames per input window (>= 2)
    depth: int = 2          # number of convolutional blocks
    channels: int = 32      # channels of the first block; each later block doubles them

    def __post_init__(self):
        if self.seq_len < 2 or self.depth < 1 or self.channels < 1:
            raise ValueError("seq_len must be >= 2, depth and channels >= 1")


class CNEEP(nn.Module):
    def __init__(self, frame_shape: tuple[int, int], config: CNEEPConfig = CNEEPConfig(),
                 mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.config, self.frame_shape = config, tuple(frame_shape)
        too_small = ValueError(f"frames of {tuple(frame_shape)} pixels are too small for depth {config.depth}")
        # Checked before any layer exists: deep models on small frames would first allocate gigabytes of
        # weights. The stride-2 convolution halves each side (rounding up), every pooling halves it again.
        if min(-(-n // 2) >> (config.depth - 1) for n in frame_shape) < 1:
            raise too_small
        c = config.channels
        # Each ReLU that the published network applies before a max-pool comes after it here. Parameterless
        # layers only swap places, so the convolutions keep their indices (and checkpoints their keys).
        layers: list[nn.Module] = [nn.Conv2d(config.seq_len, c, 5, stride=2, padding=2)]
        for i in range(config.depth - 1):
            layers += [nn.MaxPool2d(2), nn.ReLU(inplace=True),
                       nn.Conv2d(c << i, c << i, 3, padding=1), nn.ReLU(inplace=True),
                       nn.Conv2d(c << i, c << (i + 1), 3, padding=1)]
        self.trunk = nn.Sequential(*layers, nn.ReLU(inplace=True))
        try:
            with torch.no_grad():
                self.feature_shape = tuple(self.trunk(torch.zeros(1, config.seq_len, *frame_shape)).shape[1:])
        except RuntimeError as e:  # pooling refuses an empty output
            raise too_small from e
        if min(self.feature_shape[1:]) < 1:
            raise too_small
        self.head = nn.Linear(int(torch.tensor(self.feature_shape).prod()), 1)
        # Dataset statistics travel with the weights, so a checkpoint is self-contained.
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        for m in self.trunk:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _features(self, windows: torch.Tensor) -> torch.Tensor:
        """Last conv features of the forward windows, then of the reversed ones: (2B, C, h, w)."""
        x = (windows.float() - self.mean) / self.std
        both = torch.cat([x, x.flip(1)])
        if both.device.type == "cpu":   # not measured on a GPU, where cuDNN's fp32 kernels may prefer NCHW
            both = both.contiguous(memory_format=torch.channels_last)
        return self.trunk(both)

    def _h(self, features: torch.Tensor) -> torch.Tensor:
        """The linear head on (N, C, h, w) features, flattened in their memory order: no copy."""
        if features.is_contiguous() or not features.is_contiguous(memory_format=torch.channels_last):
            return self.head(features.flatten(1)).squeeze(-1)
        weight = self.head.weight.view(1, *self.feature_shape).permute(0, 2, 3, 1).flatten(1)
        return F.linear(features.permute(0, 2, 3, 1).flatten(1), weight, self.head.bias).squeeze(-1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """windows: (B, seq_len, H, W) raw pixel values -> EP of each window, (B,)."""
        h = self._h(self._features(windows))
        return h[:len(windows)] - h[len(windows):]

    def ep_and_map(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """EP of each window and its dissipation map (B, h, w) at the feature resolution.

        map = sum over channels of head weight x (forward features - reversed features); the bias
        cancels, so the map sums to dS exactly (up to float rounding)."""
        f = self._features(windows).unflatten(0, (2, -1))
        weighted = self.head.weight.view(self.feature_shape) * (f[0] - f[1])
        ep_map = weighted.sum(1)
        return ep_map.flatten(1).sum(1), ep_map

    def published_trunk(self) -> nn.Sequential:
        """The trunk's convolutions (shared, not copied) in the published order: ReLU, then max-pool."""
        layers = []
        for m in self.trunk:
            if isinstance(m, nn.ReLU) and isinstance(layers[-1], nn.MaxPool2d):
                layers.insert(-1, nn.ReLU())
            else:
                layers.append(nn.ReLU() if isinstance(m, nn.ReLU) else m)
        return nn.Sequential(*layers)

    def describe(self) -> dict:
        return {"model": "cneep", **asdict(self.config), "frame_shape": list(self.frame_shape),
                "feature_shape": list(self.feature_shape)}

    @classmethod
    def from_description(cls, desc: dict) -> CNEEP:
        return cls(tuple(desc["frame_shape"]), CNEEPConfig(desc["seq_len"], desc["depth"], desc["channels"]))

    @classmethod
    def from_data(cls, data, config, mean=None, std=None) -> CNEEP:
        """The network a training `config` (TrainConfig) asks for, shaped for a movie's frames."""
        return cls(data.frame_shape, config.model_config,
                   0.0 if mean is None else mean, 1.0 if std is None else std)
