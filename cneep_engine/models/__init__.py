"""Estimator networks. Each maps windows of observations to their EP and is odd under time reversal."""

from .cneep import CNEEP, CNEEPConfig

__all__ = ["CNEEP", "CNEEPConfig"]
