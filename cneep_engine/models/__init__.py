"""Estimator networks. Each maps windows of observations to their EP and is odd under time reversal."""

from torch import nn

from .cneep import CNEEP, CNEEPConfig
from .neep import NEEP
from .rneep import RNEEP

__all__ = ["CNEEP", "CNEEPConfig", "NEEP", "RNEEP", "from_description"]


def from_description(desc: dict) -> nn.Module:
    """An untrained network of the architecture a `describe()` dict records (weights come from a state dict)."""
    if desc["model"] == "cneep":
        return CNEEP(tuple(desc["frame_shape"]), CNEEPConfig(desc["seq_len"], desc["depth"], desc["channels"]))
    return {"neep": NEEP, "rneep": RNEEP}[desc["model"]].from_description(desc)
