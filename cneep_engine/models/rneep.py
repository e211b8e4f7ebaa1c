"""RNEEP: a recurrent NEEP for partially observed, non-Markovian series (Kim et al., PRL 125, 140604).

A GRU reads the encoded window s_t .. s_t+n-1 from a zero state; its outputs, averaged over the window,
feed one linear unit h. dS = h(window) - h(reversed window) is the EP of the whole window (n - 1 steps),
which for hidden degrees of freedom is a lower bound on the true EP that tightens as n grows.
"""

from __future__ import annotations

import torch
from torch import nn

from .neep import Encoder


class RNEEP(nn.Module):
    def __init__(self, seq_len: int = 32, n_coordinates: int | None = None, n_states: int | None = None,
                 hidden: int = 128, layers: int = 1, mean=None, std=None):
        super().__init__()
        if seq_len < 2 or hidden < 1 or layers < 1:
            raise ValueError("seq_len must be >= 2, hidden and layers >= 1")
        self.seq_len, self.hidden, self.layers = seq_len, hidden, layers
        self.encoder = Encoder(n_coordinates, n_states, hidden, mean, std)
        self.gru = nn.GRU(self.encoder.features, hidden, num_layers=layers, batch_first=True)
        self.h = nn.Linear(hidden, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """windows: (B, seq_len, N) coordinates or (B, seq_len) states -> EP of each window, (B,)."""
        x = self.encoder(windows)
        out, _ = self.gru(torch.cat([x, x.flip(1)]))
        h = self.h(out.mean(1)).squeeze(-1)
        return h[:len(x)] - h[len(x):]

    def describe(self) -> dict:
        return {"model": "rneep", "seq_len": self.seq_len, "hidden": self.hidden, "layers": self.layers,
                **self.encoder.describe()}

    @classmethod
    def from_description(cls, desc: dict) -> RNEEP:
        return cls(desc["seq_len"], desc.get("n_coordinates"), desc.get("n_states"), desc["hidden"], desc["layers"])

    @classmethod
    def from_data(cls, data, config, mean=None, std=None) -> RNEEP:
        """The network a training `config` (TrainConfig) asks for, shaped for trajectories (1 GRU layer unless
        config.layers says otherwise)."""
        return cls(config.seq_len, None if data.n_states else data.n_coordinates, data.n_states, config.hidden,
                   config.layers or 1, mean, std)
