"""Pairs of particles near each other, in a periodic square box or in open space: a Verlet neighbour list with a skin.

A k-d tree (scipy's cKDTree, with `boxsize` for periodic boundaries) finds every pair closer than cutoff + skin.
The list then still holds every pair closer than the cutoff until some particle has moved more than skin / 2 since
it was built (two particles closing in on each other cover at most the skin together); it is rebuilt then. Pair
vectors take the nearest periodic image, which is unique while cutoff + skin stays below half the box.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def minimum_image(r: np.ndarray, box: float) -> np.ndarray:
    """Separation vectors to the nearest periodic image of a square box of side `box`."""
    return r - box * np.round(r / box)


def wrap(x: np.ndarray, box: float) -> np.ndarray:
    """Positions folded into [0, box), as the k-d tree requires (x % box can round to box itself)."""
    x = np.mod(x, box)
    return np.where(x >= box, x - box, x)


class NeighbourList:
    """`pairs(x)`: index arrays (i, j), i < j, of every pair of positions x (N, d), folded into the box, that may
    be closer than `cutoff`; box None: open space."""

    def __init__(self, box: float | None, cutoff: float, skin: float):
        if box is not None and cutoff + skin >= box / 2:
            raise ValueError(f"cutoff + skin {cutoff + skin:g} must be below half the box, {box / 2:g}")
        self.box, self.cutoff, self.skin = box, cutoff, skin
        self.reference: np.ndarray | None = None
        self.builds = 0

    def pairs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.reference is None or self._moved(x) > self.skin / 2:
            pairs = cKDTree(x, boxsize=self.box).query_pairs(self.cutoff + self.skin, output_type="ndarray")
            self.i, self.j = pairs[:, 0], pairs[:, 1]
            self.reference, self.builds = x.copy(), self.builds + 1
        return self.i, self.j

    def _moved(self, x: np.ndarray) -> float:
        moved = x - self.reference
        return float(np.sqrt(((moved if self.box is None else minimum_image(moved, self.box)) ** 2).sum(1).max()))
