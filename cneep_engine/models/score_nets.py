"""Networks for the score of a stationary density, s(x) = grad ln rho(x), (batch, n) -> (batch, n), float32.

Both see standardised coordinates and return a score in the data's units (per coordinate: divided by its
standard deviation). The estimator adds the known part D^-1 b(x) (Boffi & Vanden-Eijnden's shift), so a network
that outputs 0 means a mean local velocity v = b - D s of 0.

- `ScoreMLP`, for a few coordinates: an MLP of SiLU layers.
- `ParticleTransformer`, for many particles (Boffi & Vanden-Eijnden's spatially local transformer): particle i sees
  its `neighbours` nearest particles (itself first) as tokens, each the embedding of that particle's other
  coordinates (e.g. its propulsion) next to the embedding of its position relative to particle i; the self token
  also embeds i's own position (an external trap breaks translation invariance). In a periodic box (`box`) the
  relative positions are those of the nearest images, so that discs across an edge are neighbours, and the own
  position is left out: the network is then invariant under any shift of the particles and under moving one by a
  box side. Post-norm encoder blocks of attention over these tokens, then the self token decoded to particle i's
  score. Permutation-equivariant, and the weights do not depend on the number of particles, so a network trained
  at one N applies at another (in a periodic box, at another box side: `set_layout`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..drift_models import diagonal_jacobian
from ..errors import CneepError
from ..io.atomic import atomic_path


def _mlp(inputs: int, width: int, layers: int, outputs: int) -> nn.Sequential:
    sizes = [inputs] + [width] * layers
    body = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.SiLU())]
    return nn.Sequential(*body, nn.Linear(sizes[-1], outputs))


class ScoreMLP(nn.Module):
    def __init__(self, mean: np.ndarray, std: np.ndarray, width: int = 64, layers: int = 2):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.width, self.layers = width, layers
        self.net = _mlp(len(mean), width, layers, len(mean))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std) / self.std

    def diagonal(self, z: torch.Tensor, columns: np.ndarray | None = None, create_graph: bool = False) -> torch.Tensor:
        """d s_c / d z_c, (batch, n) (only `columns`, a boolean mask, where given; the others 0), without gradients
        unless `create_graph` (to train on)."""
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            out = diagonal_jacobian(self(z), z, create_graph=create_graph, columns=columns)
            return out if create_graph else out.detach()

    def describe(self) -> dict:
        return {"network": "mlp", "mean": self.mean.tolist(), "std": self.std.tolist(), "width": self.width,
                "layers": self.layers}


class ParticleTransformer(nn.Module):
    """layout: (particles, k) coordinate indices of each particle, the first `dims` its position; scale: a length
    for positions, feature_std: the standard deviation of the other k - dims coordinates; box: the side of the
    periodic box (None: no box); force_std: the standard deviation of each of a particle's `forces` (`set_forces`;
    empty: none)."""

    def __init__(self, k: int, dims: int, scale: float, feature_std: np.ndarray, width: int = 64, blocks: int = 2,
                 heads: int = 4, neighbours: int = 16, box: float | None = None,
                 force_std: np.ndarray | None = None):
        super().__init__()
        self.k, self.dims, self.scale, self.width, self.blocks = k, dims, float(scale), width, blocks
        self.heads, self.neighbours, self.box = heads, neighbours, box
        self.register_buffer("feature_std", torch.as_tensor(feature_std, dtype=torch.float32))
        self.register_buffer("force_std", torch.as_tensor(np.zeros(0) if force_std is None else force_std,
                                                          dtype=torch.float32))
        self.forces = None
        half = width // 2
        self.embed_other = _mlp(max(k - dims + len(self.force_std), 1), half, 2, half)
        self.embed_relative = _mlp(dims, width - half, 2, width - half)
        self.embed_self = _mlp(dims, width - half, 2, width - half) if box is None else None
        block = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=0.0, batch_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(block, blocks, enable_nested_tensor=False)
        self.decode = _mlp(width, width, 2, k)
        self.layout: torch.Tensor | None = None

    def set_layout(self, layout: np.ndarray, box: float | None = None) -> ParticleTransformer:
        """The particles' coordinates in the state, and the box side of these data (periodic networks only)."""
        self.layout = torch.as_tensor(layout, dtype=torch.long)
        if self.box is not None:
            self.box = float(box)
        return self

    def set_forces(self, forces) -> ParticleTransformer:
        """forces(z) -> (B, N, len(force_std)): what each particle's token is given besides its coordinates, a
        function of the noiseless coordinates only (so that the divergence in the noisy ones needs no term for it),
        such as the interaction force on an active disc whose position has no noise of its own."""
        self.forces = forces
        return self

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        parts = z[:, self.layout.to(z.device)]                     # (B, N, k)
        return self._place(z, self._scores(parts, parts, self._given(z)))

    def _given(self, z: torch.Tensor) -> torch.Tensor | None:
        if not len(self.force_std):
            return None
        if self.forces is None:
            raise CneepError("this score network takes the particles' forces: give them with set_forces")
        with torch.no_grad():
            return self.forces(z) / self.force_std

    def diagonal(self, z: torch.Tensor, columns: np.ndarray | None = None, create_graph: bool = False) -> torch.Tensor:
        """d s_c / d z_c, (B, n), without gradients unless `create_graph` (to train on): particle i's score depends
        on its own coordinates only through its own token sequence, so k backward passes (one per coordinate of a
        particle), not one per coordinate of the state, give them all. With `columns` (a boolean mask), only those;
        the others are 0."""
        layout = self.layout.to(z.device)
        parts = z[:, layout].detach()
        wanted = range(self.k) if columns is None else [c for c in range(self.k) if columns[self.layout[:, c]].any()]
        given = self._given(z)
        # To train on the divergence, its graph is differentiated again: the fused attention kernels have no
        # second derivative, the plain one has.
        backend = sdpa_kernel(SDPBackend.MATH) if create_graph else contextlib.nullcontext()
        with torch.enable_grad(), backend:
            own = parts.clone().requires_grad_(True)
            scores = self._scores(parts, own, given)
            diag = torch.zeros_like(parts)
            for c in wanted:
                diag[..., c] = torch.autograd.grad(scores[..., c].sum(), own, retain_graph=True,
                                                   create_graph=create_graph)[0][..., c]
        out = self._place(z, diag)
        out = out if create_graph else out.detach()
        return out if columns is None else out * torch.as_tensor(columns, dtype=z.dtype, device=z.device)

    def _scores(self, parts: torch.Tensor, own: torch.Tensor, given: torch.Tensor | None) -> torch.Tensor:
        """Each particle's score (B, N, k) in standardised units, from the particles' coordinates `parts` (as
        neighbours see them) and each particle's own, `own` (as its sequence sees itself): the same values, apart
        for the divergence; `given`: the standardised forces, or None."""
        d = self.dims
        pos, other = parts[..., :d] / self.scale, parts[..., d:] / self.feature_std
        own_pos, own_other = own[..., :d] / self.scale, own[..., d:] / self.feature_std
        if given is not None:
            other, own_other = torch.cat([other, given], -1), torch.cat([own_other, given], -1)
        if other.shape[-1] == 0:
            other, own_other = torch.zeros_like(pos[..., :1]), torch.zeros_like(pos[..., :1])
        b, n = pos.shape[:2]
        rel = pos[:, None, :, :] - own_pos[:, :, None, :]           # (B, i, j, d): x_j - x_i
        if self.box is not None:
            side = self.box / self.scale
            rel = rel - side * torch.round(rel / side)
        near = torch.topk((rel.detach() ** 2).sum(-1), min(self.neighbours, n), dim=-1, largest=False).indices
        # self first (at distance 0): its relative position is 0 whatever its coordinates, its features its own
        rel = torch.gather(rel, 2, near[..., 1:, None].expand(-1, -1, -1, d))
        rel = torch.cat([torch.zeros_like(rel[:, :, :1]), rel], dim=2)
        other = torch.gather(other[:, None].expand(-1, n, -1, -1), 2,
                             near[..., 1:, None].expand(-1, -1, -1, other.shape[-1]))
        other = torch.cat([own_other[:, :, None], other], dim=2)
        tokens = torch.cat([self.embed_other(other), self.embed_relative(rel)], dim=-1)
        if self.embed_self is not None:
            half = self.width // 2
            tokens[:, :, 0, half:] = tokens[:, :, 0, half:] + self.embed_self(own_pos)
        out = self.encoder(tokens.reshape(b * n, -1, self.width))[:, 0]
        return self.decode(out).reshape(b, n, self.k)

    def _scale(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.full((self.dims,), self.scale, dtype=z.dtype, device=z.device), self.feature_std])

    def _place(self, z: torch.Tensor, per_particle: torch.Tensor) -> torch.Tensor:
        """(B, N, k) in standardised units to (B, n) in the data's, each particle's coordinates where the layout
        puts them."""
        layout, b = self.layout.to(z.device), len(z)
        s = torch.zeros_like(z)
        return s.index_put((torch.arange(b, device=z.device)[:, None, None], layout[None]),
                           per_particle / self._scale(z))

    def describe(self) -> dict:
        return {"network": "transformer", "k": self.k, "dims": self.dims, "scale": self.scale,
                "feature_std": self.feature_std.tolist(), "width": self.width, "blocks": self.blocks,
                "heads": self.heads, "neighbours": self.neighbours, "box": self.box,
                "force_std": self.force_std.tolist()}


def save_network(net: nn.Module, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save({"description": net.describe(), "state": net.state_dict()}, tmp)


def load_network(path: Path) -> nn.Module:
    """A score network saved by `save_network` (a transformer still needs `set_layout`)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        d = dict(saved["description"])
        kind = d.pop("network")
        net = (ScoreMLP(np.asarray(d["mean"]), np.asarray(d["std"]), d["width"], d["layers"]) if kind == "mlp"
               else ParticleTransformer(**{**d, "feature_std": np.asarray(d["feature_std"]),
                                           "force_std": np.asarray(d.get("force_std", []))}))
        net.load_state_dict(saved["state"])
    except FileNotFoundError:
        raise CneepError(f"{path}: no such score network (a score run folder holds network.pt)") from None
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CneepError(f"{path}: not a score network ({type(e).__name__}: {e})") from e
    return net.eval()
