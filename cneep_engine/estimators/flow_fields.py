"""Where the dissipation of a known model sits: the probability current and EP binned in space, from snapshots.

Given held-out snapshots with the mean local velocity v(x) = b - D s at each and the EP density of each coordinate,
v_c^2 / D_c (summing to the EP rate), these are plain histograms:

- `current_field`: the probability current J = rho v on a grid of a plane, the pooled positions of all particles
  when they move in two or more dimensions (J(r) = sum_i <delta(r - x_i) v_i>), else the plane of the first two
  coordinates; with the density rho, both per unit area, so that the grid sums of rho and of J times the cell
  area are the particle count and the summed mean velocity.
- `particle_snapshot`: the particles of one snapshot in their plane, each with its EP rate density there (the sum
  of its coordinates' v_c^2 / D_c at that configuration, whose mean over snapshots is the particle's EP rate).
- `binned_ep`: the mean EP rate of a particle (the sum of its coordinates' densities) by where it is, the
  distance from the centre of the snapshots (not in a periodic box, which has no centre), and by its local packing
  fraction, the share of a ball of radius 3R around it covered by particles (of radius R) whose centres lie
  inside, across the edges of a periodic box.
"""

from __future__ import annotations

import numpy as np

from ..synth.neighbours import minimum_image

GRID = 24      # cells per side of the current's grid
BINS = 12      # bins of the binned EP
LOCAL = 3.0    # radius of the local packing fraction's ball, in particle radii


def _plane(layout: np.ndarray | None, dims: int, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """The coordinates of the plane the current is drawn in, (k, 2) indices (one row per particle, or the first two
    coordinates), and the plane's axis names."""
    if layout is not None and dims >= 2:
        return layout[:, :2], ["x", "y"]
    return np.array([[0, 1]]), [labels[0], labels[1]]


def current_field(x: np.ndarray, v: np.ndarray, diffusion: np.ndarray, layout: np.ndarray | None, dims: int,
                  labels: list[str]) -> dict:
    """rho and J = rho v on a GRID x GRID grid spanning the central 99% of the points of the plane; `noiseless`
    where the plane's coordinates have no noise (D = 0): their current carries no EP, and v (the part of b - D s
    that does, -D n) is 0 there."""
    plane, axes = _plane(layout, dims, labels)
    p, w = x[:, plane].reshape(-1, 2), v[:, plane].reshape(-1, 2)
    lo, hi = np.percentile(p, 0.5, axis=0), np.percentile(p, 99.5, axis=0)
    edges = [np.linspace(lo[i], hi[i], GRID + 1) for i in range(2)]
    area = np.diff(edges[0])[0] * np.diff(edges[1])[0]
    count = np.histogram2d(p[:, 0], p[:, 1], bins=edges)[0]
    flux = [np.histogram2d(p[:, 0], p[:, 1], bins=edges, weights=w[:, i])[0] for i in range(2)]
    snapshots = len(x)
    return {"axes": axes, "edges": [e.tolist() for e in edges],
            "density": (count / (snapshots * area)).tolist(),
            "current": (np.stack(flux, axis=-1) / (snapshots * area)).tolist(),
            "noiseless": not np.any(np.asarray(diffusion)[plane])}


def particle_snapshot(x: np.ndarray, per_particle: np.ndarray, layout: np.ndarray, dims: int,
                      radius: float | None) -> dict | None:
    """Positions (the first two axes) and EP rate densities of the particles in snapshot x (n,), per_particle
    (particles,); None unless two or more particles move in two or more dimensions."""
    if dims < 2 or len(layout) < 2:
        return None
    return {"axes": ["x", "y"], "positions": x[layout[:, :2]].tolist(), "ep_rate": per_particle.tolist(),
            "radius": radius}


def binned_ep(x: np.ndarray, per_particle: np.ndarray, layout: np.ndarray, dims: int,
              radius: float | None, box: float | None = None) -> dict:
    """Mean EP rate of a particle by its distance from the centre (without a periodic `box`) and (with a radius)
    by local packing fraction: for each, the bins' edges, mean rate and the number of particle snapshots in each."""
    pos = x[:, layout[:, :dims]]                                  # (snapshots, particles, dims)
    out = {}
    if box is None:
        centre = pos.reshape(-1, dims).mean(0)
        out["distance"] = _bin(np.linalg.norm(pos - centre, axis=-1), per_particle)
    if radius is not None and pos.shape[1] > 1:
        r = pos[:, :, None] - pos[:, None]
        d = np.linalg.norm(r if box is None else minimum_image(r, box), axis=-1)
        inside = (d < LOCAL * radius).sum(-1)                    # itself included
        out["packing_fraction"] = _bin(inside / LOCAL ** dims, per_particle)
    return out


def _bin(where: np.ndarray, value: np.ndarray) -> dict:
    where, value = where.ravel(), value.ravel()
    edges = np.unique(np.percentile(where, np.linspace(0, 100, BINS + 1)))
    which = np.clip(np.searchsorted(edges, where, side="right") - 1, 0, len(edges) - 2)
    count = np.bincount(which, minlength=len(edges) - 1)
    total = np.bincount(which, weights=value, minlength=len(edges) - 1)
    return {"edges": edges.tolist(), "ep_rate": (total / np.maximum(count, 1)).tolist(), "count": count.tolist()}
