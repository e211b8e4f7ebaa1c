"""Estimator networks. Each maps windows of observations to their EP and is odd under time reversal, and is
built from a training's settings (`from_data`) or from the description a checkpoint stores (`from_description`)."""

from .cneep import CNEEP, CNEEPConfig
from .neep import NEEP
from .rneep import RNEEP

__all__ = ["CNEEP", "CNEEPConfig", "NEEP", "RNEEP"]
