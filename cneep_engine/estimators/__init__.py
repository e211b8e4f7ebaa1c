"""Training-free EP estimators for coordinate trajectories: closed forms on the run's split, with bootstrap errors.

    est = estimate_tur(traj, split)      # split: windows.assign_parts(...); None: a run's default split
    est.rate, est.rate_err, est.coefficients["force"]
"""

from .base import ClosedFormConfig, Estimate, default_split
from .sfi import estimate_sfi
from .tur import estimate_tur

METHODS = {"tur": estimate_tur, "sfi": estimate_sfi}

__all__ = ["ClosedFormConfig", "Estimate", "METHODS", "default_split", "estimate_sfi", "estimate_tur"]
