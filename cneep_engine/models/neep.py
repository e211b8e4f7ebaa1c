"""NEEP on trajectories (Kim, Bae, Lee & Jeong, PRL 125, 140604): an MLP on a window of observations.

Coordinates are standardised per coordinate with the training data's mean and standard deviation (model
buffers, so a checkpoint is self-contained); discrete states get a learned embedding vector each. The
encoded window (s_t, ..., s_t+n-1) is flattened into an MLP h, and dS = h(window) - h(reversed window),
both orders in one batched pass, so dS is exactly odd under time reversal.
"""

from __future__ import annotations

import torch
from torch import nn


class Encoder(nn.Module):
    """(B, T, N) raw coordinates or (B, T) integer states -> (B, T, features)."""

    def __init__(self, n_coordinates: int | None = None, n_states: int | None = None, embedding: int = 128,
                 mean=None, std=None):
        super().__init__()
        if (n_coordinates is None) == (n_states is None):
            raise ValueError("give either n_coordinates or n_states")
        self.n_coordinates, self.n_states = n_coordinates, n_states
        if n_states is not None:
            self.embed = nn.Embedding(n_states, embedding)
            self.features = embedding
        else:
            self.features = n_coordinates
            self.register_buffer("mean", torch.zeros(n_coordinates) if mean is None else torch.as_tensor(mean).float())
            self.register_buffer("std", torch.ones(n_coordinates) if std is None else torch.as_tensor(std).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n_states is not None:
            return self.embed(x.long())
        return (x.float() - self.mean) / self.std

    def describe(self) -> dict:
        if self.n_states is not None:
            return {"input": "states", "n_states": self.n_states}
        return {"input": "coordinates", "n_coordinates": self.n_coordinates}


class NEEP(nn.Module):
    def __init__(self, seq_len: int = 2, n_coordinates: int | None = None, n_states: int | None = None,
                 hidden: int = 128, layers: int = 2, mean=None, std=None):
        super().__init__()
        if seq_len < 2 or hidden < 1 or layers < 1:
            raise ValueError("seq_len must be >= 2, hidden and layers >= 1")
        self.seq_len, self.hidden, self.layers = seq_len, hidden, layers
        self.encoder = Encoder(n_coordinates, n_states, hidden, mean, std)
        width = seq_len * self.encoder.features
        mlp: list[nn.Module] = []
        for _ in range(layers):
            mlp += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.h = nn.Sequential(*mlp, nn.Linear(width, 1))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """windows: (B, seq_len, N) coordinates or (B, seq_len) states -> EP of each window, (B,)."""
        x = self.encoder(windows)
        h = self.h(torch.cat([x, x.flip(1)]).flatten(1)).squeeze(-1)
        return h[:len(x)] - h[len(x):]

    def describe(self) -> dict:
        return {"model": "neep", "seq_len": self.seq_len, "hidden": self.hidden, "layers": self.layers,
                **self.encoder.describe()}

    @classmethod
    def from_description(cls, desc: dict) -> NEEP:
        return cls(desc["seq_len"], desc.get("n_coordinates"), desc.get("n_states"), desc["hidden"], desc["layers"])

    @classmethod
    def from_data(cls, data, config, mean=None, std=None) -> NEEP:
        """The network a training `config` (TrainConfig) asks for, shaped for trajectories (2 hidden layers unless
        config.layers says otherwise)."""
        return cls(config.seq_len, None if data.n_states else data.n_coordinates, data.n_states, config.hidden,
                   config.layers or 2, mean, std)
