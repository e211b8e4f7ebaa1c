"""How well predicted EP matches the exact one."""

from __future__ import annotations

import numpy as np


def compare(pred: np.ndarray, true: np.ndarray) -> dict:
    """R^2 (squared Pearson correlation), slope of pred against true (1 when calibrated) and RMSE.

    R^2 alone is blind to scale and offset errors, hence the slope and RMSE beside it."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    tc, pc = true - true.mean(), pred - pred.mean()
    var_t, var_p = (tc**2).sum(), (pc**2).sum()
    cov = (tc * pc).sum()
    r2 = cov**2 / (var_t * var_p) if var_t > 0 and var_p > 0 else float("nan")
    slope = cov / var_t if var_t > 0 else float("nan")
    return {"r2": float(r2), "slope": float(slope), "rmse": float(np.sqrt(((pred - true) ** 2).mean()))}


def relative_error(estimate: float, exact: float) -> float:
    """Relative error; undefined (NaN, null in JSON) at equilibrium where the exact value is 0."""
    return estimate / exact - 1 if exact else float("nan")
