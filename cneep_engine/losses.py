"""Training objectives, per window: the objective is their mean, minimised by dS = ln p(forward) / p(reversed),
the stochastic EP. Per-window values let model selection compare two models window by window.

neep:   <exp(-dS) - dS>, the published NEEP/CNEEP objective; at its minimum it equals 1 - <dS>.
alpha:  the alpha-divergence family of Kwon & Baek (PRE 109, 014143):
        <-(exp(alpha dS) - 1) / alpha + (exp(-(1 + alpha) dS) - 1) / (1 + alpha)>.
        alpha -> 0 gives the NEEP objective back (up to a constant); alpha = -0.5 reduces to
        4 <exp(-dS / 2)> - 4, whose gradients stay bounded where exp(-dS) blows up, so it trains
        with lower variance when the EP per window is large.
"""

from __future__ import annotations

from typing import Callable

import torch

from .errors import CneepError

LOSSES = ("neep", "alpha")


def neep_loss(ds: torch.Tensor) -> torch.Tensor:
    """exp(-dS) - dS per window: its mean is minimised by dS = ln p(forward) / p(reversed), where it equals
    1 - <dS>."""
    ds = ds.float()
    return torch.exp(-ds) - ds


def alpha_loss(ds: torch.Tensor, alpha: float = -0.5) -> torch.Tensor:
    """The alpha-divergence objective per window; same minimiser as `neep_loss` for every alpha other than 0
    and -1."""
    ds = ds.float()
    return -(torch.exp(alpha * ds) - 1) / alpha + (torch.exp(-(1 + alpha) * ds) - 1) / (1 + alpha)


def make_loss(name: str = "neep", alpha: float = -0.5) -> Callable[[torch.Tensor], torch.Tensor]:
    if name == "neep":
        return neep_loss
    if name == "alpha":
        if alpha in (0.0, -1.0):
            raise CneepError(f"alpha = {alpha:g} is a limit the alpha loss cannot take (alpha = 0 is the neep loss)")
        return lambda ds: alpha_loss(ds, alpha)
    raise CneepError(f"unknown loss {name!r} (available: {', '.join(LOSSES)})")
